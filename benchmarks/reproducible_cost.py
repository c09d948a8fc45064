"""What ``runner.reproducible=True`` costs; prints one JSON object.

Each case trains through the real entry point (``python -m rlpyt train``) twice per round,
with and without the option, rounds interleaved and alternating which goes first. The time
compared is the training loop's own (the last ``CumTime (s)`` of progress.csv: start-up and
the option's re-execution are excluded and reported apart, as ``startup_s``)::

    slowdown = reproducible_train_s / default_train_s     (median over rounds)

Cases: PPO CartPole-v1 (CLI defaults), DQN CartPole-v1 (CLI defaults, learning from 5k
steps), SAC Pendulum-v1 (CLI defaults: [256, 256] networks, one update per step).

Usage: ``python benchmarks/reproducible_cost.py [--rounds R] [--cases ppo,dqn,sac]``
"""

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

CASES = {
    "ppo": ["--algo", "ppo", "--env", "CartPole-v1", "--steps", "30000"],
    "dqn": ["--algo", "dqn", "--env", "CartPole-v1", "--steps", "15000"],
    "sac": ["--algo", "sac", "--env", "Pendulum-v1", "--steps", "3000"],
}
LOG_EVERY = {"ppo": 10_000, "dqn": 5_000, "sac": 1_000}


def train(case: str, reproducible: bool, log_dir: str, run_id: int) -> dict:
    args = [sys.executable, "-m", "rlpyt", "train", *CASES[case], "--seed", "1"]
    args += ["--log-dir", log_dir, "--run-id", str(run_id), "--set"]
    args += [f"runner.log_interval_steps={LOG_EVERY[case]}", f"runner.reproducible={reproducible}"]
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{case} reproducible={reproducible} failed:\n{done.stderr[-2000:]}")
    with open(os.path.join(log_dir, f"run_{run_id}", "progress.csv")) as f:
        rows = list(csv.DictReader(f))
    train_s = float(rows[-1]["CumTime (s)"])
    return dict(train_s=train_s, startup_s=wall - train_s, steps=int(rows[-1]["CumSteps"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="ppo,dqn,sac")
    args = parser.parse_args()
    cases = args.cases.split(",")
    times = {c: {False: [], True: []} for c in cases}
    run_id = 0
    with tempfile.TemporaryDirectory() as log_dir:
        for r in range(args.rounds):
            for case in cases:
                for reproducible in (False, True) if r % 2 == 0 else (True, False):
                    times[case][reproducible].append(train(case, reproducible, log_dir, run_id))
                    run_id += 1
    result = dict(
        benchmark="reproducible_cost",
        machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count()),
        rounds=args.rounds,
    )
    for case in cases:
        med = {
            key: {
                field: statistics.median(t[field] for t in times[case][key])
                for field in ("train_s", "startup_s")
            }
            for key in (False, True)
        }
        result[case] = dict(
            steps=times[case][False][0]["steps"],
            default_train_s=round(med[False]["train_s"], 2),
            reproducible_train_s=round(med[True]["train_s"], 2),
            slowdown=round(med[True]["train_s"] / med[False]["train_s"], 2),
            default_startup_s=round(med[False]["startup_s"], 2),
            reproducible_startup_s=round(med[True]["startup_s"], 2),
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
