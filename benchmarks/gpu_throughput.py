"""Atari Pong throughput with the learner on a GPU; prints one JSON object (``gpu_check.sh``).

Cases, each a fresh spawned subprocess, CUDA device 0:

* ``dqn_T4_B1``, ``dqn_T4_B8``: ``benchmarks/dqn.py``'s part (b) training loop (Nature CNN,
  replay ratio 8, ``SerialSampler``) with ``AtariDqnAgent`` on the GPU: frames/s (env steps
  x 4) of sampling, replay and gradient steps together, timed after learning starts;
* ``dqn_T4_B1_compiled``: the same with ``compile=True`` (inductor, CUDA graphs; the
  compiling happens before the timed window);
* ``a2c_gpu_sampler``: A2C with ``AtariFfAgent`` on the GPU acting for ``GpuSampler``'s
  workers (``batch_T=5``, ``batch_B=16``, one worker per usable core): frames/s of the
  whole loop, after 5 warm-up iterations.

Usage: ``python benchmarks/gpu_throughput.py [--seconds 20]`` (about 2 + 4 x seconds x 1.5 s
in all). Needs CUDA: without it, prints ``{"skipped": "no CUDA"}`` and exits 0.
"""

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time

import dqn
from isolated import run_isolated

A2C_WARMUP_ITRS = 5


class _Stop(Exception):
    """Ends the A2C run from inside its loop."""


def a2c_gpu_sampler(seconds: float) -> dict:
    from rlpyt.agents.pg.atari import AtariFfAgent
    from rlpyt.algos.pg.a2c import A2C
    from rlpyt.envs.atari.atari_env import AtariEnv
    from rlpyt.runners.minibatch_rl import MinibatchRl
    from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
    from rlpyt.utils.logging.context import logger_context

    T, B = 5, 16
    marks = []

    class TimedA2C(A2C):
        def optimize_agent(self, itr, samples):
            opt_info = super().optimize_agent(itr, samples)
            if itr >= A2C_WARMUP_ITRS:
                marks.append(time.perf_counter())
                if marks[-1] - marks[0] >= seconds:
                    raise _Stop
            return opt_info

    cpus = sorted(os.sched_getaffinity(0))
    runner = MinibatchRl(
        algo=TimedA2C(),
        agent=AtariFfAgent(),
        sampler=GpuSampler(
            EnvCls=AtariEnv,
            env_kwargs=dict(game="pong"),
            batch_T=T,
            batch_B=B,
            max_decorrelation_steps=0,
        ),
        n_steps=10**9,
        seed=0,
        log_interval_steps=10**9,
        affinity=dict(cuda_idx=0, workers_cpus=cpus, set_affinity=False),
        progress_bar=False,
    )
    with tempfile.TemporaryDirectory() as log_dir:
        with logger_context(log_dir, run_ID=0, name="a2c_pong", snapshot_mode="none"):
            try:
                runner.train()
            except _Stop:
                pass
    frames = 4 * T * B * (len(marks) - 1)
    return {"frames_per_s": frames / (marks[-1] - marks[0]), "workers": len(cpus)}


def _a2c_in_subprocess(ctx, seconds: float) -> dict:
    return run_isolated(ctx, a2c_gpu_sampler, dict(seconds=seconds), "a2c_gpu_sampler", None)


def _case(run):
    """``run()``'s result, or the error it raised (the other cases still run)."""
    try:
        return run()
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per case")
    parser.add_argument(
        "--out", help="also write the JSON here after every case (kept if a time limit hits)"
    )
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"benchmark": "gpu_throughput", "skipped": "no CUDA"}))
        return
    ctx = mp.get_context("spawn")
    result = {
        "benchmark": "gpu_throughput",
        "device": torch.cuda.get_device_name(0),
        "seconds": args.seconds,
    }

    def write():
        if args.out:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=2)

    cases = {"dqn_T4_B1": (4, 1, False), "dqn_T4_B8": (4, 8, False), "a2c_gpu_sampler": None}
    cases["dqn_T4_B1_compiled"] = (4, 1, True)  # last: compiling may take the longest
    for name, case in cases.items():
        if case is None:
            result[name] = _case(lambda: _a2c_in_subprocess(ctx, args.seconds))
        else:
            T, B, compile = case
            kwargs = dict(seconds=args.seconds, batch_T=T, batch_B=B, side=name, compile=compile)
            out = _case(lambda k=kwargs: dqn.run_in_subprocess(ctx, "pong_rlpyt", **k, cuda_idx=0))
            result[name] = {k: v for k, v in out.items() if k != "side"}
        write()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
