"""rlpyt SAC with ``agent.compile`` against eager (and Stable-Baselines3); prints one JSON object.

The settings are those of ``benchmarks/sac.py`` (batch 256, [256, 256] MLPs, one gradient
step per env step, learning from 1000 steps, one env, ``torch.set_num_threads(1)``, each run
in its own spawned subprocess, CPU only); ``compile=True`` runs all five networks through
``torch.compile`` (inductor: C++ on the CPU; :mod:`rlpyt.models.compile`).

Two parts (``--parts speed solve``):

* ``speed``: HalfCheetah-v5 and Pendulum-v1, ``--updates`` gradient steps after the learning
  start, eager and compiled. Per side: ``steady_updates_per_s``, gradient steps per second
  after the first 20 (which hold the compiling: every graph is compiled at its first call,
  the backward ones at the first backward); ``warmup_seconds``, the time of those first 20
  steps; ``compile_seconds_logged``, the forward warm-ups the agent logged (the backward
  compiles are not in it). Then ``steady_speedup`` (compiled / eager steady rate),
  ``compile_overhead_seconds`` (the compiled run's first-20 time less what 20 steps cost at
  its steady rate; the acting model's warm-up, in ``compile_seconds_logged``, comes on
  top) and ``break_even_updates``: from how
  many gradient steps on the compiled run is ahead (overhead / time saved per step; null
  when compiling does not pay).
* ``solve``: Pendulum-v1 seconds to solve (mean return of the last 10 training episodes
  >= -200, from the start of training, compiling included), rlpyt eager, rlpyt compiled and
  SB3, ``--seeds`` seeds each; ratios to SB3 of the medians (target <= 0.7 with the better).

Compiling is measured with an empty inductor cache per run (a first run on a machine);
``--warm-cache`` uses the user's cache, from which a repeated run of the same shapes loads
its graphs in a fraction of the time.

Usage: ``python benchmarks/compile.py [--parts speed solve] [--updates 2000] [--seeds 2]
[--max-steps 30000] [--warm-cache]``
"""

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import tempfile

from sac import LEARNING_STARTS, SETTINGS, SOLVE_TARGET, WARMUP_UPDATES, run_in_subprocess

SIDES = {"eager": dict(compile=False), "compiled": dict(compile=True)}


def _run(ctx, lib, cold_cache: bool, **kwargs) -> dict:
    """One run in a spawned subprocess; ``cold_cache``: with an empty inductor cache (what a
    first run on a machine pays), instead of the user's (graphs compiled by earlier runs of
    the same shapes load from it in a fraction of the time)."""
    with tempfile.TemporaryDirectory() as cache:
        if cold_cache:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # inherited by the spawned child
        try:
            return run_in_subprocess(ctx, lib, **kwargs)
        finally:
            if cold_cache:
                del os.environ["TORCHINDUCTOR_CACHE_DIR"]


def _r(x, nd=3):
    return None if x is None else round(x, nd)


def speed_part(ctx, env_id: str, updates: int, cold_cache: bool, seed: int = 0) -> dict:
    """Eager and compiled rlpyt on ``env_id`` for ``updates`` gradient steps."""
    runs = {}
    for side, options in SIDES.items():
        kwargs = dict(env_id=env_id, seed=seed, max_steps=LEARNING_STARTS + updates, solve=False)
        run = _run(ctx, "rlpyt", cold_cache, **kwargs, **options)
        runs[side] = {
            key: _r(run[key], 4)
            for key in (
                "steady_updates_per_s",
                "updates_per_s",
                "warmup_seconds",
                "compile_seconds_logged",
                "run_seconds",
            )
        }
        runs[side]["updates"] = run["updates"]
    eager, compiled = runs["eager"], runs["compiled"]
    speedup = compiled["steady_updates_per_s"] / eager["steady_updates_per_s"]
    # What the first steps cost beyond steady-state work, in the compiled run.
    overhead = compiled["warmup_seconds"] - WARMUP_UPDATES / compiled["steady_updates_per_s"]
    saved_per_update = 1 / eager["steady_updates_per_s"] - 1 / compiled["steady_updates_per_s"]
    return {
        "env": env_id,
        **runs,
        "steady_speedup": _r(speedup),
        "compile_overhead_seconds": _r(overhead, 2),
        "break_even_updates": round(overhead / saved_per_update) if saved_per_update > 0 else None,
    }


def solve_part(ctx, seeds: int, max_steps: int, cold_cache: bool) -> dict:
    """Pendulum-v1 seconds to solve: SB3, rlpyt eager, rlpyt compiled (medians over seeds)."""
    sides = {"sb3": [], "eager": [], "compiled": []}
    for seed in range(seeds):
        order = list(sides) if seed % 2 == 0 else list(reversed(sides))
        for side in order:
            kwargs = dict(env_id="Pendulum-v1", seed=seed, max_steps=max_steps, solve=True)
            lib = "sb3" if side == "sb3" else "rlpyt"
            sides[side].append(_run(ctx, lib, cold_cache, **kwargs, **SIDES.get(side, {})))
    out = {}
    for side, runs in sides.items():
        times = [r["solve_seconds"] or math.inf for r in runs]
        median = statistics.median(times)
        out[side] = {
            "solve_seconds": None if math.isinf(median) else round(median, 2),
            "solved_runs": sum(r["solve_seconds"] is not None for r in runs),
            "per_seed": [
                {k: _r(r[k], 3) for k in ("solve_seconds", "solve_env_steps", "warmup_seconds")}
                for r in runs
            ],
        }
    sb3 = out["sb3"]["solve_seconds"]
    for side in ("eager", "compiled"):
        mine = out[side]["solve_seconds"]
        out[f"{side}_solve_time_ratio"] = _r(mine / sb3) if mine and sb3 else None
    ratios = [out[f"{side}_solve_time_ratio"] for side in ("eager", "compiled")]
    best = min((r for r in ratios if r is not None), default=None)
    out["solve_time_ratio_max"] = SOLVE_TARGET
    out["target_met"] = best is not None and best <= SOLVE_TARGET
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts", nargs="+", default=["speed", "solve"], choices=["speed", "solve"]
    )
    parser.add_argument("--updates", type=int, default=2000, help="gradient steps timed (speed)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per side (solve)")
    parser.add_argument("--max-steps", type=int, default=30_000, help="Pendulum env steps cap")
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="compile with the user's inductor cache (default: an empty one per run)",
    )
    args = parser.parse_args()
    cold = not args.warm_cache
    ctx = mp.get_context("spawn")
    import torch

    result = {
        "benchmark": "compile",
        "settings": SETTINGS,
        "warmup_updates": WARMUP_UPDATES,
        "inductor_cache": "empty per run" if cold else "the user's",
    }
    if "speed" in args.parts:
        result["speed"] = [
            speed_part(ctx, env_id, args.updates, cold)
            for env_id in ("HalfCheetah-v5", "Pendulum-v1")
        ]
    if "solve" in args.parts:
        result["solve"] = solve_part(ctx, args.seeds, args.max_steps, cold)
    result["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
