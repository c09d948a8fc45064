"""
A grid of experiments on this machine: two learning rates x two batch sizes (8 or 16 envs per
batch) for PPO (or A2C) on two environments, CartPole-v1 and Acrobot-v1, with two runs (seeds)
of each setting. The launcher runs them side by side, one run per CPU core (one per GPU on a
machine with GPUs) and queues the rest; each run is examples/example_6a.py. Then it draws one
comparison plot per environment (each setting's mean return across its runs, with its min-max
band) and prints a summary table.

    python examples/example_6.py                        # 16 runs of 50k steps
    python examples/example_6.py --algo a2c --n_parallel 2 --root /tmp/rlpyt

The experiment directory is ROOT/example_6_ALGO (ROOT: data/local), one directory per setting:

    example_6_ppo/status.json                        every run's state, pid, exit code, log
    example_6_ppo/CartPole-v1/lr_0.001/B_8/run_0/    progress.csv, params.json, params.pkl
    example_6_ppo/CartPole-v1/lr_0.001/B_8/run_0.log the run's output
    example_6_ppo/plots/CartPole-v1/ReturnAverage.png

Interrupt it (Ctrl-C) and start it again: finished runs are skipped, interrupted ones resume
from their last snapshot. Other views of the results:

    python -m rlpyt plot data/local/example_6_ppo/Acrobot-v1 --group-by algo.learning_rate
    python -m rlpyt summary data/local/example_6_ppo --format csv
"""

import argparse
import os
import sys

from rlpyt.utils.launching.affinity import (
    detect_hyperthread_offset,
    quick_affinity_code,
    usable_cpus,
)
from rlpyt.utils.launching.exp_launcher import run_experiments
from rlpyt.utils.launching.variant import VariantLevel, make_variants
from rlpyt.utils.plot import plot_experiment
from rlpyt.utils.runs import find_runs
from rlpyt.utils.summary import format_summary, summarize

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example_6a.py")
ENV_IDS = ["CartPole-v1", "Acrobot-v1"]


def build_grid(learning_rates, batch_Bs, n_steps):
    """The variants (values that differ from example_6a's config) and their directories."""
    env = VariantLevel(keys=[("env", "id")], values=[(e,) for e in ENV_IDS], dir_names=ENV_IDS)
    lr = VariantLevel(
        keys=[("algo", "learning_rate")],
        values=[(v,) for v in learning_rates],
        dir_names=[f"lr_{v:g}" for v in learning_rates],
    )
    batch = VariantLevel(
        keys=[("sampler", "batch_B")],
        values=[(b,) for b in batch_Bs],
        dir_names=[f"B_{b}" for b in batch_Bs],
    )
    variants, log_dirs = make_variants(env, lr, batch)
    for variant in variants:  # the same budget for every setting
        variant["runner"] = dict(n_steps=n_steps, log_interval_steps=max(n_steps // 10, 1))
    return variants, log_dirs


def local_affinity_code(n_parallel=None):
    """One run per usable CPU core (or ``n_parallel`` runs); one per GPU when there are GPUs."""
    if n_parallel is None:
        cpus = usable_cpus()
        n_parallel = len(cpus) - detect_hyperthread_offset(cpus)
    return quick_affinity_code(n_parallel=n_parallel)


def main(algo, n_steps, runs_per_setting, n_parallel, root, tiny):
    learning_rates, batch_Bs = [1e-3, 3e-4], [8, 16]
    if tiny:  # a smoke test: one setting per env, 2 envs of 512 steps each (Acrobot's
        # episodes last 500 steps), one run each
        learning_rates, batch_Bs, runs_per_setting, n_steps = [1e-3], [2], 1, 1024
    variants, log_dirs = build_grid(learning_rates, batch_Bs, n_steps)
    if tiny and algo == "ppo":
        for variant in variants:
            variant["algo"]["epochs"] = 2  # instead of 10: seconds saved in a smoke test
    title = f"example_6_{algo}" + ("_tiny" if tiny else "")
    launch = dict(
        script=SCRIPT,
        affinity_code=local_affinity_code(n_parallel),
        experiment_title=title,
        runs_per_setting=runs_per_setting,
        variants=variants,
        log_dirs=log_dirs,
        common_args=[algo],  # example_6a's CONFIG_KEY
        log_dir_root=root,
        pin_cpus=True,  # example_6a resolves its slot with slot_affinity
    )
    try:
        summary = run_experiments(**launch)
    except KeyboardInterrupt:  # every run was stopped (and saved a snapshot if it could)
        print("interrupted: start example_6 again to finish the grid", file=sys.stderr)
        return 130
    experiment_dir = summary.experiment_dir
    for env_id in ENV_IDS:
        env_dir = os.path.join(experiment_dir, env_id)
        if not find_runs(env_dir):
            print(f"no run of {env_id} logged anything: no plot")
            continue
        (png,) = plot_experiment(
            env_dir,
            metrics=["ReturnAverage"],
            out_dir=os.path.join(experiment_dir, "plots", env_id),
            title=f"{algo.upper()} on {env_id}: learning rate x batch size",
        )
        print(f"Comparison plot: {png}")
    print(format_summary(summarize(experiment_dir)))
    if summary.failed:
        failed = ", ".join(f"{r['setting']}/run_{r['run_ID']}" for r in summary.failed)
        print(f"failed runs: {failed}; see their logs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--algo", choices=["ppo", "a2c"], default="ppo", help="algorithm")
    parser.add_argument("--n_steps", type=int, default=50_000, help="env steps per run")
    parser.add_argument("--runs_per_setting", type=int, default=2, help="runs (seeds) each")
    parser.add_argument(
        "--n_parallel", type=int, help="runs at a time (default: one per usable CPU core)"
    )
    parser.add_argument("--root", default="data/local", help="where the experiment goes")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="smoke test: one setting (lr 1e-3, batch_B 2) per env, 1 run of 1024 steps",
    )
    args = parser.parse_args()
    sys.exit(
        main(args.algo, args.n_steps, args.runs_per_setting, args.n_parallel, args.root, args.tiny)
    )
