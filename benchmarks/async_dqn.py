"""Atari Pong DQN throughput: MinibatchRl against AsyncRl, side by side; prints one JSON object.

Same work on both sides: ``AtariEnv(game="pong")`` (frame skip 4), 8 envs x 4 steps per
sampler batch, Nature CNN (``AtariDqnAgent``), replay 100k, learning from
``--min-steps-learn`` env steps, epsilon fixed at 0.05 after ``min_steps_learn``
(eps_steps=1). Each replay ratio of ``--replay-ratios`` is measured with every mode: 8 is
DQN's own (one gradient step on 32 transitions per 4 env steps), where the gradient steps
take about nine tenths of the synchronous loop; 1 is a ratio where sampling and training
take comparable time, so the overlap itself is visible.

* ``sync``: :class:`~rlpyt.runners.minibatch_rl.MinibatchRl` with ``SerialSampler``:
  sampling, then optimisation, in one process (``torch_threads`` 1 and 2: the second uses
  both cores for the gradient steps).
* ``async``: :class:`~rlpyt.runners.async_rl.AsyncRl` with ``AsyncSerialSampler``: a
  sampler process (1 torch thread) collects while this process (1 torch thread) trains;
  ``async_2threads``: the same with 2 torch threads for the training process.

Figures from each run's progress.csv, over the log intervals after learning started (the
first interval, with start-up and warm-up, is dropped): frames/s (env steps x 4 / s),
env steps/s, gradient updates/s and the logged replay ratio (async: ``ReplayRatio``; sync:
``CumUpdates`` x 32 / env steps after ``min_steps_learn``). Each run is a fresh subprocess,
one at a time. A line per finished run goes to stderr; the JSON to stdout.

Usage: ``python benchmarks/async_dqn.py [--n-steps 12000] [--log-interval 2000]
[--min-steps-learn 2000] [--replay-ratios 8 1] [--modes ...] [--rounds 1]``
"""

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
import torch

FRAME_SKIP = 4
BATCH_SIZE = 32
MODES = ("sync_1thread", "sync_2threads", "async", "async_2threads")


def run_one(mode, replay_ratio, n_steps, log_interval, min_steps_learn, log_dir):
    """Train in this process; returns the figures of ``mode``."""
    from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
    from rlpyt.algos.dqn.dqn import DQN
    from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
    from rlpyt.runners.async_rl import AsyncRl
    from rlpyt.runners.minibatch_rl import MinibatchRl
    from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler
    from rlpyt.samplers.serial.sampler import SerialSampler
    from rlpyt.utils.logging.context import logger_context

    threads = 2 if mode.endswith("2threads") else 1
    torch.set_num_threads(threads)
    SamplerCls, RunnerCls = (
        (AsyncSerialSampler, AsyncRl) if mode.startswith("async") else (SerialSampler, MinibatchRl)
    )
    sampler = SamplerCls(
        EnvCls=AtariEnv,
        TrajInfoCls=AtariTrajInfo,
        env_kwargs=dict(game="pong"),
        batch_T=4,
        batch_B=8,
        max_decorrelation_steps=0,
    )
    algo = DQN(
        batch_size=BATCH_SIZE,
        replay_ratio=replay_ratio,
        replay_size=100_000,
        min_steps_learn=min_steps_learn,
        learning_rate=1e-4,
        target_update_interval=2500,
        eps_steps=1,
        updates_per_sync=4,
    )
    agent = AtariDqnAgent(eps_final=0.05)
    runner = RunnerCls(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        seed=1,
        log_interval_steps=log_interval,
        affinity=dict(torch_threads=threads),
        progress_bar=False,
    )
    with logger_context(log_dir, 0, mode, snapshot_mode="none") as lg:
        runner.train()
    with open(os.path.join(lg.run_dir, "progress.csv")) as f:
        rows = list(csv.DictReader(f))
    rows = [r for r in rows if int(r["CumSteps"]) > min_steps_learn]
    first, last = rows[0], rows[-1]
    seconds = float(last["CumTime (s)"]) - float(first["CumTime (s)"])
    steps = int(last["CumSteps"]) - int(first["CumSteps"])
    updates = int(last["CumUpdates"]) - int(first["CumUpdates"])
    if "ReplayRatio" in last:
        ratio = float(last["ReplayRatio"])
    else:
        consumed = int(last["CumUpdates"]) * BATCH_SIZE
        ratio = consumed / (int(last["CumSteps"]) - min_steps_learn)
    return dict(
        mode=mode,
        frames_per_s=round(FRAME_SKIP * steps / seconds, 1),
        env_steps_per_s=round(steps / seconds, 1),
        updates_per_s=round(updates / seconds, 2),
        replay_ratio=round(ratio, 3),
        timed_env_steps=steps,
        timed_seconds=round(seconds, 2),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-steps", type=int, default=12_000)
    parser.add_argument("--log-interval", type=int, default=2_000)
    parser.add_argument("--min-steps-learn", type=int, default=2_000)
    parser.add_argument("--replay-ratios", type=float, nargs="+", default=[8.0, 1.0])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--rounds", type=int, default=1, help="runs per mode; medians reported")
    parser.add_argument("--_run", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.n_steps < args.min_steps_learn + 2 * args.log_interval:
        parser.error("--n-steps must cover --min-steps-learn plus two log intervals")
    if args._run:  # a child run
        with tempfile.TemporaryDirectory() as log_dir:
            result = run_one(
                args._run,
                args.replay_ratios[0],
                args.n_steps,
                args.log_interval,
                args.min_steps_learn,
                log_dir,
            )
        with open(args._out, "w") as f:
            json.dump(result, f)
        return
    by_ratio = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ratio in args.replay_ratios:
            results = by_ratio[f"replay_ratio_{ratio:g}"] = {}
            runs = {mode: [] for mode in args.modes}
            for _ in range(args.rounds):  # interleaved: each round runs every mode once
                for mode in args.modes:
                    runs[mode].append(_child_run(mode, ratio, args, tmp))
                    print(f"ratio {ratio:g} {mode}: {runs[mode][-1]}", file=sys.stderr, flush=True)
            for mode, figures in runs.items():
                results[mode] = _medians(figures)
            best = {
                side: max(results[m]["frames_per_s"] for m in args.modes if m.startswith(side))
                for side in ("sync", "async")
                if any(m.startswith(side) for m in args.modes)
            }
            if len(best) == 2:
                ratio_ = best["async"] / best["sync"]
                results["best_async_over_best_sync_frames"] = round(ratio_, 3)
    summary = dict(
        benchmark="async_dqn",
        settings=dict(
            env="AtariEnv(game='pong'), frame skip 4",
            batch_T=4,
            batch_B=8,
            batch_size=BATCH_SIZE,
            n_steps=args.n_steps,
            log_interval=args.log_interval,
            min_steps_learn=args.min_steps_learn,
        ),
        machine=dict(
            cpus=len(os.sched_getaffinity(0)),
            python=platform.python_version(),
            torch=torch.__version__,
        ),
        results=by_ratio,
        target_async_over_sync=1.3,
    )
    print(json.dumps(summary, indent=2))


def _medians(figures: list[dict]) -> dict:
    """Per figure, the median over the rounds (the mode's name kept)."""
    out = dict(mode=figures[0]["mode"], rounds=len(figures))
    for key in figures[0]:
        if key != "mode":
            out[key] = float(np.median([f[key] for f in figures]))
    return out


def _child_run(mode: str, ratio: float, args, tmp: str) -> dict:
    """One run in a fresh subprocess (its own torch threads and start-up); returns its figures."""
    out = os.path.join(tmp, f"{mode}_{ratio:g}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--_run", mode, "--_out", out]
    cmd += ["--n-steps", str(args.n_steps), "--log-interval", str(args.log_interval)]
    cmd += ["--min-steps-learn", str(args.min_steps_learn), "--replay-ratios", str(ratio)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} run (replay ratio {ratio:g}) failed:\n{proc.stderr[-3000:]}")
    with open(out) as f:
        return json.load(f)


if __name__ == "__main__":
    main()
