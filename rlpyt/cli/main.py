"""``python -m rlpyt``: train a policy-gradient agent, resume a run, plot learning curves.

python -m rlpyt train --algo ppo --env CartPole-v1 --steps 100000 --seed 1
python -m rlpyt train --algo a2c --env pong --set sampler.batch_B=32
python -m rlpyt train --resume data/local/ppo_CartPole-v1/run_0 --steps 200000
python -m rlpyt plot data/local/ppo_CartPole-v1 -o curves.png
"""

import argparse
import json
import os
import sys

from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.utils.checkpoint import CheckpointError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rlpyt",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an agent (serial sampling)")
    train.add_argument("--algo", choices=["a2c", "ppo"], help="algorithm")
    train.add_argument("--env", help="gymnasium id (CartPole-v1, Pendulum-v1) or Atari game (pong)")
    train.add_argument("--steps", type=float, help="total env steps (default per env)")
    train.add_argument("--seed", type=int, help="run seed (default: random, logged)")
    train.add_argument("--log-dir", help="experiment directory (default data/local/ALGO_ENV)")
    train.add_argument("--run-id", type=int, default=None, help="run number (run_N directory)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. algo.learning_rate=3e-4",
    )
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run saved in RUN_DIR (appends to its logs)",
    )
    train.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit"
    )
    plot = sub.add_parser("plot", help="plot learning curves of runs to a PNG")
    plot.add_argument("paths", nargs="+", help="run directories or trees of them")
    plot.add_argument("--x", default="CumSteps")
    plot.add_argument("--y", default="ReturnAverage")
    plot.add_argument("-o", "--out", default="curves.png")
    plot.add_argument("--group-by", default=None, help="params.json key to group runs by")
    return parser


def _resolve_config(args) -> tuple[dict, str | None]:
    """The run's config: saved one when resuming, else defaults plus overrides."""
    if args.resume:
        path = os.path.join(args.resume, "config.json")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"--resume {args.resume}: no config.json (not a run "
                "directory written by `python -m rlpyt train`)"
            )
        with open(path) as f:
            config = json.load(f)
        if args.algo or args.env:
            raise ValueError("--resume continues the saved run: drop --algo/--env")
    else:
        if not (args.algo and args.env):
            raise ValueError("train needs --algo and --env (or --resume RUN_DIR)")
        config = default_config(args.algo, args.env)
        if args.log_dir:
            config["logging"]["log_dir"] = args.log_dir
        else:
            config["logging"]["log_dir"] = os.path.join("data", "local", f"{args.algo}_{args.env}")
        if args.run_id is not None:
            config["logging"]["run_ID"] = args.run_id
        # A fixed seed in the saved config makes the run repeatable from it.
        config["runner"]["seed"] = args.seed if args.seed is not None else _fresh_seed()
    if args.steps is not None:
        config["runner"]["n_steps"] = int(args.steps)
    config = apply_overrides(config, args.set)
    return config, args.resume


def _train(args) -> int:
    from rlpyt.cli.build import build_experiment
    from rlpyt.utils.logging.context import logger_context
    from rlpyt.utils.plot import plot_curves

    config, resume = _resolve_config(args)
    if args.print_config:
        print(json.dumps(config, indent=2))
        return 0
    runner = build_experiment(config, resume_from=resume)
    log = config["logging"]
    if resume:
        log_dir, run_dir = os.path.dirname(os.path.abspath(resume)), os.path.abspath(resume)
        run_ID = int(os.path.basename(run_dir).removeprefix("run_"))
    else:
        log_dir, run_ID = log["log_dir"], log["run_ID"]
    name = f"{config['algo_name']}_{config['env']['id']}"
    with logger_context(
        log_dir,
        run_ID,
        name,
        log_params=config,
        snapshot_mode=log["snapshot_mode"],
        use_summary_writer=log["use_summary_writer"],
        resume=bool(resume),
    ) as run_logger:
        run_dir = run_logger.run_dir
        if not resume:
            with open(os.path.join(run_dir, "config.json"), "w") as f:
                json.dump(config, f, indent=2)
        runner.train()
    out = plot_curves([run_dir], out=os.path.join(run_dir, "curves.png"))
    print(f"Learning curve: {out}")
    print(f"Run directory: {run_dir}")
    return 0


def _fresh_seed() -> int:
    from rlpyt.utils.seed import make_seed

    return make_seed()


def _plot(args) -> int:
    from rlpyt.utils.plot import plot_curves

    out = plot_curves(args.paths, x=args.x, y=args.y, out=args.out, group_by=args.group_by)
    print(f"Learning curves: {out}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        return _plot(args)
    except (ValueError, KeyError, FileNotFoundError, FileExistsError, CheckpointError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2
