"""Atari Pong: IMPALA with the actor-learner runner against synchronous A2C of the same batch.

Prints one JSON object. Same work on both sides: ``AtariEnv(game="pong")`` (frame skip 4),
``--batch-T`` x ``--batch-B`` env steps per batch, the Nature CNN of ``AtariFfAgent``, one
gradient step per batch (the CLI's Atari settings of each algorithm). A mode is
``{algo}_{sampler}_{threads}t``:

* ``a2c_*``: A2C with :class:`~rlpyt.runners.minibatch_rl.MinibatchRl`: collect a batch,
  then take the gradient step, in turn; ``serial``: ``SerialSampler`` (envs and action
  selection in this process), ``cpu``: ``CpuSampler`` with ``--workers`` worker processes;
  ``2t``: 2 torch threads in this process (both cores for the step and, serial, the actions).
* ``impala_*``: IMPALA with :class:`~rlpyt.runners.actor_learner.ActorLearnerRl` and the
  asynchronous counterpart of the sampler (``max_lead`` 2): the sampler process (1 torch
  thread; ``cpu``: with its workers) collects the next batch while this process trains on
  the last one with ``1t``/``2t`` torch threads.

Figures from each run's progress.csv over the log intervals after the first (start-up and
decorrelation dropped): frames/s (env steps x 4 / s), env steps/s, gradient updates/s, the
share of the time in gradient steps (``CumTrainTime``), and for IMPALA the logged policy
lag. Each run is a fresh subprocess, one at a time (``--rounds`` interleaves the modes,
medians reported). A line per finished run goes to stderr; the JSON to stdout.

Usage: ``python benchmarks/impala_pong.py [--seconds 75] [--batch-T 20] [--batch-B 16]
[--workers 2] [--modes ...] [--rounds 1]``
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
MODES = (
    "a2c_serial_1t",
    "a2c_serial_2t",
    "a2c_cpu_2t",
    "a2c_cpu_1t",
    "impala_serial_1t",
    "impala_cpu_1t",
    "impala_cpu_2t",
)
DEFAULT_MODES = (
    "a2c_serial_1t",
    "a2c_serial_2t",
    "a2c_cpu_1t",
    "a2c_cpu_2t",
    "impala_serial_1t",
    "impala_cpu_1t",
)
N_LOG_ROWS = 6  # the first one is dropped


def run_one(mode, args, log_dir):
    """Train in this process; returns the figures of ``mode``."""
    from rlpyt.agents.pg.atari import AtariFfAgent
    from rlpyt.cli.configs import default_config
    from rlpyt.cli.runners import sampler_class
    from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
    from rlpyt.utils.logging.context import logger_context

    algo_name, sampler_kind, threads = mode.split("_")
    impala = algo_name == "impala"
    threads = int(threads[:-1])
    if impala:
        from rlpyt.algos.pg.impala import IMPALA
        from rlpyt.runners.actor_learner import ActorLearnerRl as RunnerCls

        algo = IMPALA(**default_config("impala", "pong")["algo"])
        runner_kind = "actor_learner"
    else:
        from rlpyt.algos.pg.a2c import A2C
        from rlpyt.runners.minibatch_rl import MinibatchRl as RunnerCls

        algo = A2C(**default_config("a2c", "pong")["algo"])
        runner_kind = "minibatch"
    SamplerCls = sampler_class(sampler_kind, runner_kind)
    sampler = SamplerCls(
        EnvCls=AtariEnv,
        TrajInfoCls=AtariTrajInfo,
        env_kwargs=dict(game="pong"),
        batch_T=args.batch_T,
        batch_B=args.batch_B,
        max_decorrelation_steps=0,
    )
    batch = args.batch_T * args.batch_B
    affinity = dict(torch_threads=threads)
    if sampler_kind != "serial":
        affinity["workers_cpus"] = list(range(args.workers))
        affinity["set_affinity"] = False  # the benchmark machine may be shared: no pinning
    log_itrs = max(1, round(args.seconds * args.est_steps_per_s / batch / N_LOG_ROWS))
    runner = RunnerCls(
        algo=algo,
        agent=AtariFfAgent(),
        sampler=sampler,
        n_steps=N_LOG_ROWS * log_itrs * batch,
        seed=1,
        log_interval_steps=log_itrs * batch,
        affinity=affinity,
        progress_bar=False,
    )
    with logger_context(log_dir, 0, mode, snapshot_mode="none") as lg:
        runner.train()
    with open(os.path.join(lg.run_dir, "progress.csv")) as f:
        rows = list(csv.DictReader(f))
    first, last = rows[0], rows[-1]
    seconds = float(last["CumTime (s)"]) - float(first["CumTime (s)"])
    steps = int(last["CumSteps"]) - int(first["CumSteps"])
    updates = int(last["CumUpdates"]) - int(first["CumUpdates"])
    out = dict(
        mode=mode,
        frames_per_s=round(FRAME_SKIP * steps / seconds, 1),
        env_steps_per_s=round(steps / seconds, 1),
        updates_per_s=round(updates / seconds, 2),
        timed_env_steps=steps,
        timed_seconds=round(seconds, 2),
        # The share of the time this process spent in the gradient steps.
        train_share=round(
            (float(last["CumTrainTime"]) - float(first["CumTrainTime"])) / seconds, 3
        ),
    )
    if impala:
        out["policy_lag_mean"] = round(float(np.mean([float(r["PolicyLagMean"]) for r in rows])), 3)
        out["policy_lag_max"] = max(int(float(r["PolicyLagMax"])) for r in rows)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=75.0, help="about this long per run")
    parser.add_argument(
        "--est-steps-per-s",
        type=float,
        default=300.0,
        help="expected env steps/s, to size the runs to --seconds",
    )
    parser.add_argument("--batch-T", type=int, default=20)
    parser.add_argument("--batch-B", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="of the cpu samplers")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(DEFAULT_MODES))
    parser.add_argument("--rounds", type=int, default=1, help="runs per mode; medians reported")
    parser.add_argument("--_run", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._run:  # a child run
        with tempfile.TemporaryDirectory() as log_dir:
            result = run_one(args._run, args, log_dir)
        with open(args._out, "w") as f:
            json.dump(result, f)
        return
    runs = {mode: [] for mode in args.modes}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):  # interleaved: each round runs every mode once
            for mode in args.modes:
                runs[mode].append(_child_run(mode, args, tmp))
                print(f"{mode}: {runs[mode][-1]}", file=sys.stderr, flush=True)
    results = {mode: _medians(figures) for mode, figures in runs.items()}
    best = {
        side: max(results[m]["frames_per_s"] for m in args.modes if m.startswith(side))
        for side in ("a2c", "impala")
        if any(m.startswith(side) for m in args.modes)
    }
    if len(best) == 2:
        results["best_impala_over_best_a2c_frames"] = round(best["impala"] / best["a2c"], 3)
    summary = dict(
        benchmark="impala_pong",
        settings=dict(
            env="AtariEnv(game='pong'), frame skip 4",
            batch_T=args.batch_T,
            batch_B=args.batch_B,
            workers=args.workers,
            seconds_per_run=args.seconds,
        ),
        machine=dict(
            cpus=len(os.sched_getaffinity(0)),
            python=platform.python_version(),
            torch=torch.__version__,
        ),
        results=results,
        target_impala_over_a2c=1.3,
    )
    print(json.dumps(summary, indent=2))


def _medians(figures: list[dict]) -> dict:
    """Per figure, the median over the rounds (the mode's name kept)."""
    out = dict(mode=figures[0]["mode"], rounds=len(figures))
    for key in figures[0]:
        if key != "mode":
            out[key] = float(np.median([f[key] for f in figures]))
    return out


def _child_run(mode: str, args, tmp: str) -> dict:
    """One run in a fresh subprocess (its own torch threads and start-up); returns its figures."""
    out = os.path.join(tmp, f"{mode}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--_run", mode, "--_out", out]
    cmd += ["--seconds", str(args.seconds), "--est-steps-per-s", str(args.est_steps_per_s)]
    cmd += ["--batch-T", str(args.batch_T), "--batch-B", str(args.batch_B)]
    cmd += ["--workers", str(args.workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{proc.stderr[-3000:]}")
    with open(out) as f:
        return json.load(f)


if __name__ == "__main__":
    main()
