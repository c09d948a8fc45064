"""Learning results of the CLI's default A2C and PPO on CartPole-v1 across seeds.

Prints one JSON object: for each algorithm and seed, the ReturnAverage curve
(one point per 10k-step log interval), the best value within 100k steps, and
the first step at which it reached 475. The learning tests assert this for one
seed; this shows how the settings fare over many.

    .venv/bin/python benchmarks/pg_learning.py --algos ppo a2c --seeds 1 2 3 4 5 6 7 8
    .venv/bin/python benchmarks/pg_learning.py --algos ppo --seeds 1 2 --samplers serial cpu gpu alternating
"""

import argparse
import contextlib
import csv
import io
import json
import os
import tempfile
import time

import torch

from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import default_config
from rlpyt.utils.logging.context import logger_context


def run(algo: str, seed: int, n_steps: int, sampler: str = "serial") -> dict:
    config = default_config(algo, "CartPole-v1")
    config["runner"].update(seed=seed, n_steps=n_steps)
    config["sampler"]["kind"] = sampler
    runner = build_experiment(config)
    runner.progress_bar = False
    start = time.time()
    # Only the JSON goes to stdout: the run's console log is dropped (debug.log keeps it).
    with tempfile.TemporaryDirectory() as log_dir, contextlib.redirect_stdout(io.StringIO()):
        with logger_context(log_dir, seed, f"{algo}_cartpole") as lg:
            runner.train()
        with open(os.path.join(lg.run_dir, "progress.csv")) as f:
            rows = [(int(r["CumSteps"]), float(r["ReturnAverage"])) for r in csv.DictReader(f)]
    within = [(steps, ret) for steps, ret in rows if steps <= n_steps]
    solved = next((steps for steps, ret in within if ret >= 475), None)
    return {
        "seed": seed,
        "sampler": sampler,
        "curve": [round(ret, 1) for _, ret in within],
        "best": round(max(ret for _, ret in within), 1),
        "first_step_at_475": solved,
        "seconds": round(time.time() - start, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=["ppo", "a2c"])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(1, 9)))
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument(
        "--samplers",
        nargs="+",
        default=["serial"],
        choices=["serial", "cpu", "gpu", "alternating"],
        help="train once per sampler (parallel ones with one worker per usable core)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = {"benchmark": "pg_learning", "env": "CartPole-v1", "steps": args.steps, "results": {}}
    for algo in args.algos:
        runs = [
            run(algo, seed, args.steps, sampler) for sampler in args.samplers for seed in args.seeds
        ]
        out["results"][algo] = {
            "runs": runs,
            "seeds_reaching_475": sum(r["first_step_at_475"] is not None for r in runs),
            "n_seeds": len(runs),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
