"""Launching a published setup on this machine: ``python -m experiments.run SETUP``.

A :class:`Setup` (a row of :data:`experiments.setups.SETUPS`) says which run script trains
which config on which games or envs, how many runs each; :func:`launch` reads the command
line, builds one variant per game or env, encodes this machine's affinity code and runs every
run with :func:`rlpyt.utils.launching.exp_launcher.launch_runs`, each as
``python -m experiments.scripts.<script> SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]``
(so the runs find ``experiments`` as the launcher did: run it from the repository root).

**Full scale** (the default) is the published setup: its games or envs, its number of env
steps and runs per setting. **--tiny** runs the first game or env once, with the family's
``tiny`` config (seconds per run), into ``<title>_tiny``: enough to check that every setup
starts, logs and snapshots.

**The machine** comes from the command line or the environment, never from the script
(option, its environment variable, its default):

- ``--root DIR``, ``RLPYT_DATA``: ``data/local`` (relative to the working directory);
- ``--cores N``, ``RLPYT_CORES``: the usable cores less their hyperthread siblings;
- ``--gpus N``, ``RLPYT_GPUS``: the GPUs torch sees for setups that use GPUs, else 0;
- ``--contexts-per-gpu N``, ``RLPYT_CONTEXTS_PER_GPU``: 1;
- ``--cpu-per-run N``, ``RLPYT_CPU_PER_RUN``: the setup's (runs without GPUs);
- ``--hyperthread-offset N``, ``RLPYT_HYPERTHREAD_OFFSET``: detected (0: none);
- ``--sockets N``, ``RLPYT_SOCKETS``: detected.

An option given on the command line wins over its variable (``RLPYT_GPUS`` does not apply
to the CPU setups). Runs are packed ``get_n_run_slots(code)`` at a time: one per GPU context
with GPUs, else one per ``cpu_per_run`` cores; each is pinned to its slot's cores unless
``--no-pin``. Launching the same experiment again skips the runs that are done and resumes
the others from their snapshots.
"""

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from rlpyt.utils.launching.affinity import (
    detect_hyperthread_offset,
    encode_affinity,
    usable_cpus,
)
from rlpyt.utils.launching.exp_launcher import RunSpec, launch_runs, run_slots
from rlpyt.utils.launching.variant import (
    VariantLevel,
    did_you_mean,
    make_variants,
    update_config,
)

__all__ = ["Setup", "launch", "affinity_code", "check_env_names", "ENV_DEFAULTS"]

# Option -> environment variable supplying its default.
ENV_DEFAULTS = {
    "root": "RLPYT_DATA",
    "cores": "RLPYT_CORES",
    "gpus": "RLPYT_GPUS",
    "contexts_per_gpu": "RLPYT_CONTEXTS_PER_GPU",
    "cpu_per_run": "RLPYT_CPU_PER_RUN",
    "hyperthread_offset": "RLPYT_HYPERTHREAD_OFFSET",
    "sockets": "RLPYT_SOCKETS",
}


@dataclass(frozen=True)
class Setup:
    """One published setup.

    Args:
        title: the experiment's directory name under the root (``<title>_tiny`` for --tiny).
        script: its run script's module under ``experiments.scripts``, e.g.
            ``"atari.dqn.train.atari_dqn"`` (``scripts/atari/dqn/train/atari_dqn.py``).
        config_key: the config the runs train with, one of ``configs``.
        configs: the family's configs (to check the variants before anything starts).
        env_key: the config key the games or envs vary: ``("env", "game")`` for Atari,
            ``("env", "id")`` for gymnasium ids.
        envs: the published games or env ids.
        runs_per_setting: the published number of runs (seeds) per game or env.
        uses_gpu: whether the runs train on a GPU when the machine has one.
        cpu_per_run: cores per run on a machine without GPUs (more for parallel samplers).
        summary: one line saying what the setup reproduces (``--help``).
    """

    title: str
    script: str
    config_key: str
    configs: Mapping[str, dict]
    env_key: tuple[str, str]
    envs: Sequence[str]
    runs_per_setting: int = 2
    uses_gpu: bool = True
    cpu_per_run: int = 1
    summary: str = ""

    def __post_init__(self):
        if self.config_key not in self.configs:
            raise KeyError(
                f"Setup {self.title!r}: config_key {self.config_key!r} is not among the "
                f"configs {', '.join(self.configs)}"
            )
        if self.env_key not in (("env", "game"), ("env", "id")):
            raise ValueError(
                f"Setup {self.title!r}: env_key must be ('env', 'game') or ('env', 'id'), "
                f"got {self.env_key!r}"
            )

    @property
    def atari(self) -> bool:
        return self.env_key[1] == "game"

    @property
    def module(self) -> str:
        """The run script, as ``python -m`` takes it."""
        return f"experiments.scripts.{self.script}"


# -- the command line ------------------------------------------------------------------


def _env_int(name: str):
    """The integer in environment variable ``name``, None when unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise SystemExit(f"environment variable {name}={text!r} must be an integer") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _parser(setup: Setup) -> argparse.ArgumentParser:
    what = "games (ale-py names)" if setup.atari else "gymnasium env ids"
    parser = argparse.ArgumentParser(
        prog=f"python -m experiments.run {setup.title}",
        description=f"{setup.summary} Published: {len(setup.envs)} {what} x "
        f"{setup.runs_per_setting} runs of config {setup.config_key!r} "
        f"({setup.module}).",
        epilog="Machine settings default to the environment variables "
        + ", ".join(f"{v} (--{k.replace('_', '-')})" for k, v in ENV_DEFAULTS.items())
        + ". See experiments/README.md.",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a run of seconds per setting: the first game/env once, into <title>_tiny (CI)",
    )
    parser.add_argument(
        "--games" if setup.atari else "--envs",
        dest="envs",
        nargs="+",
        metavar="GAME" if setup.atari else "ENV_ID",
        help=f"the {what} to run (default: the published {' '.join(setup.envs)})",
    )
    parser.add_argument(
        "--runs-per-setting",
        type=_positive,
        help=f"runs per game/env (default {setup.runs_per_setting}; 1 with --tiny)",
    )
    parser.add_argument(
        "--root", help="experiments go to ROOT/<title> (default $RLPYT_DATA or data/local)"
    )
    parser.add_argument("--title", help=f"the experiment's directory name (default {setup.title})")
    parser.add_argument("--cores", type=_positive, help="CPU cores to use (default: all usable)")
    parser.add_argument(
        "--gpus",
        type=_non_negative,
        help="GPUs to use (default: all torch sees)" if setup.uses_gpu else "GPUs (default 0)",
    )
    parser.add_argument("--contexts-per-gpu", type=_positive, help="runs sharing a GPU")
    parser.add_argument(
        "--cpu-per-run",
        type=_positive,
        help=f"cores per run without GPUs (default {setup.cpu_per_run})",
    )
    parser.add_argument(
        "--hyperthread-offset",
        type=_non_negative,
        help="CPU id offset of the hyperthread siblings (default: detected; 0: none)",
    )
    parser.add_argument("--sockets", type=_positive, help="CPU sockets (default: detected)")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin runs to their slots' cores"
    )
    parser.add_argument(
        "--oversubscribe",
        action="store_true",
        help="let the runs share the usable CPUs when --cores exceeds them",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the runs and the affinity code, start none"
    )
    return parser


def _with_env_defaults(args: argparse.Namespace, setup: Setup) -> argparse.Namespace:
    for option, variable in ENV_DEFAULTS.items():
        if getattr(args, option) is not None:
            continue
        if option == "gpus" and not setup.uses_gpu:
            continue
        if option == "root":
            args.root = os.environ.get(variable) or "data/local"
        else:
            setattr(args, option, _env_int(variable))
    return args


# -- checks before anything starts -----------------------------------------------------


def check_env_names(setup: Setup, names: Sequence[str]) -> None:
    """Raise SystemExit naming the first game or env id that does not exist here."""
    if setup.atari:
        from ale_py import roms

        known = roms.get_all_rom_ids()
        for name in names:
            if name not in known:
                hint = did_you_mean(name, known) or "e.g. pong, space_invaders, chopper_command"
                raise SystemExit(
                    f"unknown Atari game {name!r}: {hint} (ale-py names are lowercase, with "
                    "underscores)"
                )
        return
    import gymnasium

    for name in names:
        try:
            gymnasium.spec(name)
        except Exception as err:
            raise SystemExit(f"unknown gymnasium env id {name!r}: {err}") from None


def _variants(setup: Setup, names: Sequence[str]):
    """One variant per game/env, checked against the setup's config; (variants, log_dirs)."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SystemExit(f"{', '.join(repeated)} given more than once: name each game/env once")
    level = VariantLevel(keys=[setup.env_key], values=[(n,) for n in names], dir_names=names)
    variants, log_dirs = make_variants(level)
    for variant in variants:
        update_config(setup.configs[setup.config_key], variant)  # a bad key fails here
    return variants, log_dirs


def _count_gpus() -> int:
    """The GPUs torch sees; 0 without importing torch where no GPU device node exists."""
    if not any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg")):
        return 0  # no NVIDIA, ROCm or WSL GPU: spare the launcher torch's import time
    import torch

    return torch.cuda.device_count()


def affinity_code(setup: Setup, args: argparse.Namespace) -> str:
    """This machine's affinity code (no run slot) from the options; errors name the option."""
    gpus = args.gpus
    if gpus is None:
        gpus = _count_gpus() if setup.uses_gpu else 0
    hto = args.hyperthread_offset
    cores = args.cores
    if cores is None:
        detected = detect_hyperthread_offset() if hto is None else hto
        cores = len(usable_cpus()) - detected
    common = dict(
        n_cpu_core=cores,
        hyperthread_offset=hto,
        n_socket=args.sockets,
        set_affinity=not args.no_pin,
    )
    try:
        if gpus:
            return encode_affinity(
                n_gpu=gpus, contexts_per_gpu=args.contexts_per_gpu or 1, **common
            )
        cpu_per_run = min(args.cpu_per_run or setup.cpu_per_run, cores)
        return encode_affinity(n_gpu=0, cpu_per_run=cpu_per_run, **common)
    except (TypeError, ValueError) as err:
        raise SystemExit(
            f"cannot lay out runs on --cores {cores} --gpus {gpus}: {err} (see --help)"
        ) from None


# -- launching -----------------------------------------------------------------------------


def _runs(setup: Setup, experiment_dir: str, log_dirs, runs_per_setting: int, common_args):
    """One :class:`RunSpec` per run, the first runs of all settings first."""
    return [
        RunSpec(
            log_dir,
            run_ID,
            partial(
                _command, setup.module, os.path.join(experiment_dir, log_dir), run_ID, common_args
            ),
        )
        for run_ID in range(runs_per_setting)
        for log_dir in log_dirs
    ]


def _command(module, log_dir, run_ID, common_args, slot_code, resume_dir) -> list[str]:
    del resume_dir  # the run script finds it itself (resume_point)
    return [sys.executable, "-m", module, slot_code, log_dir, str(run_ID), *common_args]


def launch(setup: Setup, argv=None) -> int:
    """Run the setup as the command line (default ``sys.argv[1:]``) says; the exit status.

    0 when every run is done; 1 when some failed (their logs' last lines are printed by the
    launcher, their full logs are in ``EXPERIMENT_DIR/<game>/run_<k>.log``); 130 when stopped
    by Ctrl-C or SIGTERM (the runs are stopped too, and resume at the next launch).
    """
    args = _with_env_defaults(_parser(setup).parse_args(argv), setup)
    names = list(args.envs or (setup.envs[:1] if args.tiny else setup.envs))
    check_env_names(setup, names)
    runs_per_setting = args.runs_per_setting or (1 if args.tiny else setup.runs_per_setting)
    title = args.title or (f"{setup.title}_tiny" if args.tiny else setup.title)
    variants, log_dirs = _variants(setup, names)
    code = affinity_code(setup, args)
    try:
        n_slots = len(run_slots(code, allow_oversubscribe=args.oversubscribe))
    except ValueError as err:
        raise SystemExit(f"{err} (launcher option: --oversubscribe)") from None
    common_args = [setup.config_key] + (["--tiny"] if args.tiny else [])
    experiment_dir = os.path.abspath(os.path.join(args.root, title))
    print(
        f"{title}: {len(names)} x {runs_per_setting} runs of {setup.module} "
        f"{' '.join(common_args)}; affinity {code} ({n_slots} at a time); "
        f"logs in {experiment_dir}",
        flush=True,
    )
    if args.dry_run:
        for log_dir in log_dirs:
            for run_ID in range(runs_per_setting):
                print(f"  {os.path.join(experiment_dir, log_dir)}/run_{run_ID}")
        return 0
    try:
        summary = launch_runs(
            _runs(setup, experiment_dir, log_dirs, runs_per_setting, common_args),
            code,
            experiment_dir,
            variants=dict(zip(log_dirs, variants)),
            allow_oversubscribe=args.oversubscribe,
            pin_cpus=not args.no_pin,
        )
    except KeyboardInterrupt:  # the launcher stopped every run first (see run_experiments)
        print(
            f"stopped; the same command resumes the experiment in {experiment_dir}",
            file=sys.stderr,
        )
        return 130
    not_done = [r for r in summary.runs if r["state"] != "done"]
    for run in not_done:
        print(f"{run['state']}: {run['run_dir']} (log {run['log_path']})", file=sys.stderr)
    return 1 if not_done else 0
