"""``python -m rlpyt``: train an agent, resume a run, plot and summarize runs.

python -m rlpyt train --algo ppo --env CartPole-v1 --steps 100000 --seed 1
python -m rlpyt train --algo a2c --env pong --sampler cpu --workers 8 --set sampler.batch_B=32
python -m rlpyt train --algo dqn --env pong --runner async --sampler cpu   # sample while training
python -m rlpyt train --algo impala --env CartPole-v1 --runner actor_learner   # IMPALA layout
python -m rlpyt train --algo ppo --env CartPole-v1 --runner sync --learners 2
python -m rlpyt train --algo impala --env CartPole-v1 --runner scheme \
    --set scheme.collection_workers=4 scheme.gradient_workers=2 scheme.collection=async
python -m rlpyt train --algo ppo --env CartPole-v1 --sampler ray --workers 4   # Ray actors
python -m rlpyt train --config ppo_cartpole.yaml --seed 2 --set algo.epochs=10
python -m rlpyt train --resume data/local/ppo_CartPole-v1/run_0 --steps 200000
python -m rlpyt plot data/local/sweep --group-by algo.learning_rate   # PNGs in sweep/plots
python -m rlpyt summary data/local/sweep --group-by algo.learning_rate
python -m rlpyt launch grid.yaml --dry-run    # a grid of runs side by side (see rlpyt.cli.launch)
"""

import argparse
import json
import os
import sys

from rlpyt.cli.config_files import config_from_file, default_log_dir
from rlpyt.cli.configs import ALGOS, apply_overrides, default_config
from rlpyt.cli.results import add_results_commands, results_command
from rlpyt.cli.runners import add_runner_arguments, apply_runner_flags, fill_missing_keys

__all__ = ["main"]

# Errors in what the user asked for: reported in one line, exit status 2 (as argparse does).
_USAGE_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError)
# Exit status after Ctrl-C (SIGINT) and preemption (SIGTERM): 128 + the signal number.
EXIT_INTERRUPTED, EXIT_PREEMPTED = 130, 143


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rlpyt",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an agent")
    train.add_argument(
        "--config",
        metavar="FILE",
        help="YAML or JSON file with config settings (all or part of a config, e.g. a run's "
        "config.json); the flags and --set override it",
    )
    train.add_argument("--algo", choices=ALGOS, help="algorithm")
    train.add_argument("--env", help="gymnasium id (CartPole-v1, Pendulum-v1) or Atari game (pong)")
    train.add_argument("--steps", type=float, help="total env steps (default per env)")
    train.add_argument("--seed", type=int, help="run seed (default: random, logged)")
    train.add_argument("--log-dir", help="experiment directory (default data/local/ALGO_ENV)")
    train.add_argument("--run-id", type=int, default=None, help="run number (run_N directory)")
    add_runner_arguments(train)
    train.add_argument(
        "--set",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config values, e.g. --set algo.learning_rate=3e-4 sampler.batch_B=16 "
        "(repeatable; see --print-config for the keys)",
    )
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run saved in RUN_DIR (appends to its logs)",
    )
    train.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit"
    )
    train.add_argument(
        "--compile",
        action="store_true",
        help="run the agent's networks through torch.compile (agent.compile=True: inductor, "
        "static shapes, CUDA graphs on CUDA; the first iterations compile)",
    )
    train.add_argument(
        "--affinity",
        metavar="SLOT_CODE",
        help="slot affinity code (e.g. 1slt_4cpu_1cpr, as the launcher gives it): pins the "
        "run and its workers to the slot's cores and picks its GPU",
    )
    from rlpyt.cli.launch import add_launch_arguments

    add_launch_arguments(
        sub.add_parser(
            "launch",
            help="run a grid of settings (a YAML or JSON grid file) side by side on this machine",
        )
    )
    add_results_commands(sub)
    return parser


def _resolve_config(args) -> tuple[dict, str | None]:
    """The run's config: saved one when resuming, else defaults plus overrides.

    Precedence, lowest first: defaults for (algo, env) < ``--config`` file < flags
    (``--steps``, ``--seed``, ...) < ``--set``.
    """
    if args.resume:
        path = os.path.join(args.resume, "config.json")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"--resume {args.resume}: no config.json (not a run "
                "directory written by `python -m rlpyt train`)"
            )
        with open(path) as f:
            config = json.load(f)
        fill_missing_keys(config)  # run directories of older versions
        given = [
            flag
            for flag, value in (
                ("--config", args.config),
                ("--algo", args.algo),
                ("--env", args.env),
                ("--seed", args.seed),
                ("--log-dir", args.log_dir),
                ("--run-id", args.run_id),
            )
            if value is not None
        ]
        if given:
            raise ValueError(
                f"--resume continues the saved run with its own settings: drop {', '.join(given)}"
            )
    else:
        if args.config:
            config = config_from_file(args.config, algo=args.algo, env_id=args.env)
        elif not (args.algo and args.env):
            raise ValueError("train needs --algo and --env, or --config FILE (or --resume RUN_DIR)")
        else:
            config = default_config(args.algo, args.env)
            config["logging"]["log_dir"] = default_log_dir(args.algo, args.env)
        if args.log_dir:
            config["logging"]["log_dir"] = args.log_dir
        if args.run_id is not None:
            config["logging"]["run_ID"] = args.run_id
        # A fixed seed in the saved config makes the run repeatable from it.
        if args.seed is not None:
            config["runner"]["seed"] = args.seed
        elif config["runner"]["seed"] is None:  # none in the config file either
            config["runner"]["seed"] = _fresh_seed()
    if args.steps is not None:
        if "n_epochs" in config["runner"]:
            raise ValueError(
                f"--steps: planner {config['algo_name']!r} runs epochs of whole episodes; "
                "give their number with --set runner.n_epochs=N"
            )
        if "n_itr" in config["runner"]:
            raise ValueError(
                f"--steps: {config['algo_name']!r} runs meta-training iterations; give their "
                "number with --set runner.n_itr=N"
            )
        config["runner"]["n_steps"] = int(args.steps)
    # Also when resuming: the sampler may change (e.g. more workers on a bigger machine), and
    # an async run may continue with --runner minibatch.
    apply_runner_flags(config, args)
    if args.compile:
        if "compile" not in config.get("agent", {}):
            raise ValueError(
                f"--compile: {config['algo_name']!r} has no agent.compile setting (the "
                "model-free algorithms have it; planners and PEARL run eagerly)"
            )
        config["agent"]["compile"] = True
    config = apply_overrides(config, args.set)
    return config, args.resume


def _run_location(config: dict, resume: str | None) -> tuple[str, int | str, bool]:
    """``(log_dir, run_ID, exist_ok)`` of the run; refuses to overwrite a finished one.

    Checked here, before anything is built, so the refusal comes in a second.
    """
    if resume:
        run_dir = os.path.abspath(resume)
        name = os.path.basename(run_dir)
        if not name.startswith("run_"):
            raise ValueError(f"--resume {resume}: expected a run directory named run_<ID>")
        run_ID = name.removeprefix("run_")
        return os.path.dirname(run_dir), int(run_ID) if run_ID.isdigit() else run_ID, False
    log_dir, run_ID = config["logging"]["log_dir"], config["logging"]["run_ID"]
    run_dir = os.path.abspath(os.path.join(log_dir, f"run_{run_ID}"))
    progress = os.path.join(run_dir, "progress.csv")
    if not os.path.exists(progress):
        return log_dir, run_ID, False
    if _has_rows(progress) or _has_snapshot(run_dir):
        raise FileExistsError(
            f"{run_dir} already holds a run. Continue it with `--resume {run_dir}`, "
            "or choose another --run-id or --log-dir."
        )
    # A start that failed before logging anything (e.g. a bad env argument): nothing to keep.
    return log_dir, run_ID, True


def _has_rows(progress_csv: str) -> bool:
    with open(progress_csv, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip()) > 1  # a header and at least one row


def _has_snapshot(run_dir: str) -> bool:
    return any(
        name == "params.pkl" or (name.startswith("itr_") and name.endswith(".pkl"))
        for name in os.listdir(run_dir)
    )


def _prepare_training(args, may_reexec: bool):
    """Everything that can fail on the user's input, before the run directory is touched.

    Returns ``None`` when only printing the config, else ``(config, runner, location)``.
    ``may_reexec``: this process is the command line's own, so a reproducible run may
    re-execute it with the environment it needs (see :mod:`rlpyt.utils.reproducible`).
    """
    from rlpyt.utils.reproducible import missing_settings, reexec_reproducible

    config, resume = _resolve_config(args)
    if args.print_config:
        print(json.dumps(config, indent=2))
        return None
    if config["runner"]["reproducible"] and missing_settings():
        if not may_reexec:
            raise ValueError(
                "runner.reproducible=True needs a process started with "
                f"{' '.join(missing_settings())}: run `python -m rlpyt train` from the shell "
                "(it sets them and restarts itself)"
            )
        reexec_reproducible()  # before torch loads: the same command line, the new environment
    from rlpyt.cli.build import build_experiment, check_env

    location = _run_location(config, resume)
    runner = build_experiment(config, resume_from=resume, affinity_code=args.affinity)
    if resume and not _has_snapshot(resume):
        raise FileNotFoundError(f"--resume {resume}: no snapshot (params.pkl or itr_*.pkl)")
    # The one check that builds an env: last, and still before logging.
    check_env(config["env"], config.get("sampler"))
    return config, runner, location


def _run_training(config: dict, runner, location, resume: str | None) -> int:
    from rlpyt.runners.minibatch_rl import Preempted
    from rlpyt.utils.logging.context import logger_context
    from rlpyt.utils.plot import plot_curves

    log_dir, run_ID, exist_ok = location
    log = config["logging"]
    name = f"{config['algo_name']}_{config['env']['id']}"
    run_dir = None
    try:
        with logger_context(
            log_dir,
            run_ID,
            name,
            log_params=config,
            snapshot_mode=log["snapshot_mode"],
            use_summary_writer=log["use_summary_writer"],
            resume=bool(resume),
            exist_ok=exist_ok,
        ) as run_logger:
            run_dir = run_logger.run_dir
            if not resume:
                _write_config(run_dir, config)
            runner.train()
    except (KeyboardInterrupt, Preempted) as err:
        if resume and runner.completed_itr is not None:
            # The resume itself succeeded (the snapshot loaded): a later --resume keeps
            # this one's settings, e.g. its larger --steps.
            _write_config(run_dir, config)
        return _interrupted(err, run_dir)
    if resume:
        # Only now: a resume refused (e.g. an incompatible --set) leaves the saved config as it
        # was, while a finished one records its new settings (a larger --steps) for the next.
        _write_config(run_dir, config)
    out = plot_curves([run_dir], out=os.path.join(run_dir, "curves.png"))
    print(f"Learning curve: {out}")
    print(f"Run directory: {run_dir}")
    return 0


def _interrupted(err: BaseException, run_dir: str | None) -> int:
    """One line on stderr saying where the run is and how to continue it; the exit status."""
    code = EXIT_INTERRUPTED if isinstance(err, KeyboardInterrupt) else EXIT_PREEMPTED
    if run_dir is not None and _has_snapshot(run_dir):
        message = f"interrupted: run saved in {run_dir}, continue with --resume {run_dir}"
    elif run_dir is not None:
        message = f"interrupted before the first snapshot: nothing to resume in {run_dir}"
    else:
        message = "interrupted"
    print(message, file=sys.stderr, flush=True)
    return code


def _write_config(run_dir: str, config: dict) -> None:
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def _fresh_seed() -> int:
    from rlpyt.utils.seed import make_seed

    return make_seed()


def _usage_error(err: Exception) -> int:
    message = err.args[0] if isinstance(err, KeyError) and err.args else err
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Mistakes in the input (unknown keys, invalid values, an existing run) print one line and
    return 2 before any env is built; errors during training keep their traceback. Ctrl-C
    returns 130 and SIGTERM (preemption) 143, after one line naming the run to ``--resume``.
    """
    args = _parser().parse_args(argv)
    if args.command in ("plot", "summary"):
        try:  # they read CSV files only, so torch is never imported
            return results_command(args)
        except _USAGE_ERRORS as err:
            return _usage_error(err)
        except KeyboardInterrupt as err:
            return _interrupted(err, None)
    if args.command == "launch":
        from rlpyt.cli.launch import launch_command

        return launch_command(args)
    from rlpyt.utils.checkpoint import CheckpointError

    try:
        try:
            prepared = _prepare_training(args, may_reexec=argv is None)
        except (*_USAGE_ERRORS, CheckpointError) as err:
            return _usage_error(err)
        if prepared is None:
            return 0
        try:
            return _run_training(*prepared, resume=args.resume)
        except CheckpointError as err:  # an incompatible or unreadable snapshot to resume from
            return _usage_error(err)
    except KeyboardInterrupt as err:  # before or after the training itself
        return _interrupted(err, None)
