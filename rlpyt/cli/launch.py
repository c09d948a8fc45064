"""``python -m rlpyt launch GRID.yaml``: train every setting of a grid, side by side.

A grid file (YAML or JSON) names a base config, the values to vary, and the machine::

    title: lr_batch_cartpole       # EXPERIMENT_DIR = ROOT/title
    runs_per_setting: 2            # run k of a setting trains with seed runner.seed + k
    root: data/local               # ROOT (default data/local; --root overrides it)
    affinity: {n_cpu_core: 2, cpu_per_run: 1}   # encode_affinity keywords, or a code string
    base:                          # a config as `train --config` takes it
      algo_name: ppo
      env: {id: CartPole-v1}
      runner: {n_steps: 20000}
    grid:                          # one level per entry; the settings are their product
      - {key: algo.learning_rate, values: [1.0e-3, 3.0e-4], dir_names: [lr1e-3, lr3e-4]}
      - {key: env.id, values: [CartPole-v1, Acrobot-v1]}      # dir_names default: the values
      - {keys: [sampler.batch_B, algo.minibatches], values: [[8, 1], [16, 2]]}

Optional: ``allow_oversubscribe`` and ``grace_period`` (see
:mod:`rlpyt.utils.launching.exp_launcher`). Without ``affinity``: one run per usable CPU core,
or one per GPU on a machine with GPUs. Every setting's config (base, then its grid values, on
the defaults of its algorithm and env) is checked before any run starts: unknown keys get a
"did you mean" error. It is saved as ``EXPERIMENT_DIR/<setting>/launch_config.json``, and each
run is::

    python -m rlpyt train --config <setting>/launch_config.json --log-dir <setting> \\
        --run-id K --seed S --affinity SLOT_CODE
    python -m rlpyt train --resume <setting>/run_K --affinity SLOT_CODE   # when it has a snapshot

launched by :func:`rlpyt.utils.launching.exp_launcher.launch_runs` (status file, queueing,
resuming, Ctrl-C). Launching the same file again finishes what is left; changing the settings of
an experiment already launched is an error. ``--dry-run`` prints the slots and runs only.
Afterwards: ``python -m rlpyt plot EXPERIMENT_DIR`` and ``python -m rlpyt summary EXPERIMENT_DIR``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping
from functools import partial
from inspect import signature

from rlpyt.cli.config_files import config_from_file, read_config_file
from rlpyt.utils.launching.affinity import (
    detect_hyperthread_offset,
    encode_affinity,
    quick_affinity_code,
    usable_cpus,
)
from rlpyt.utils.launching.exp_launcher import (
    LaunchError,
    RunSpec,
    launch_runs,
    read_status,
    run_slots,
)
from rlpyt.utils.launching.variant import VariantLevel, did_you_mean, make_variants
from rlpyt.utils.validation import require_int_at_least, require_non_negative

__all__ = ["add_launch_arguments", "launch_command", "load_grid", "CONFIG_NAME"]

CONFIG_NAME = "launch_config.json"
_TOP_KEYS = (
    "title",
    "runs_per_setting",
    "root",
    "affinity",
    "base",
    "grid",
    "allow_oversubscribe",
    "grace_period",
)
_LEVEL_KEYS = ("key", "keys", "values", "dir_names")
_AFFINITY_KEYS = tuple(p for p in signature(encode_affinity).parameters if p != "run_slot")


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of the ``launch`` subcommand."""
    parser.add_argument("grid", metavar="GRID_FILE", help="YAML or JSON grid file")
    parser.add_argument(
        "--root",
        help="directory to hold the experiment directory (default: the grid file's root, else data/local)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the slots and runs, start nothing"
    )


class _Grid:
    """A checked grid file: where it runs, on what slots, and each setting's config."""

    def __init__(self, path, experiment_dir, affinity_code, runs_per_setting, settings, options):
        self.path = path
        self.experiment_dir = experiment_dir
        self.affinity_code = affinity_code
        self.runs_per_setting = runs_per_setting
        self.settings = settings  # [(setting dir, variant, resolved config)]
        self.allow_oversubscribe = options["allow_oversubscribe"]
        self.grace_period = options["grace_period"]


def _unknown(keys, allowed, where: str) -> None:
    for key in keys:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f"the keys are {', '.join(allowed)}"
            raise KeyError(f"{where}: unknown key {key!r}; {hint}")


def _dir_name(value) -> str:
    text = "_".join(_dir_name(v) for v in value) if isinstance(value, list | tuple) else str(value)
    return "_".join(text.replace(os.sep, "_").split())


def _level(item, where: str) -> VariantLevel:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be a mapping {{key: ..., values: [...]}}, got {item!r}")
    _unknown(item, _LEVEL_KEYS, where)
    if ("key" in item) == ("keys" in item):
        raise ValueError(f"{where} needs exactly one of 'key' (one path) and 'keys' (a list)")
    if "values" not in item:
        raise ValueError(f"{where} has no 'values' list")
    single = "key" in item
    paths = [item["key"]] if single else item["keys"]
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise ValueError(f"{where}: keys must be dotted config paths such as algo.learning_rate")
    values = item["values"]
    if not isinstance(values, list):
        raise ValueError(f"{where}: values must be a list, got {values!r}")
    settings = [(v,) for v in values] if single else values
    dir_names = item.get("dir_names") or [_dir_name(v) for v in values]
    try:
        return VariantLevel([tuple(p.split(".")) for p in paths], settings, dir_names)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{where}: {err}") from None


def _merge(base: Mapping, over: Mapping) -> dict:
    merged = dict(base)
    for key, value in over.items():
        both = isinstance(value, Mapping) and isinstance(merged.get(key), Mapping)
        merged[key] = _merge(merged[key], value) if both else value
    return merged


def _resolve(settings: dict, where: str, tmp_dir: str) -> dict:
    """The full config of one setting, exactly as ``train --config`` would resolve it."""
    tmp = os.path.join(tmp_dir, "setting.json")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(settings, f)
    try:
        return config_from_file(tmp)
    except (ValueError, TypeError, KeyError) as err:
        message = str(err.args[0] if err.args else err).replace(f"config file {tmp}", where)
        raise type(err)(message) from None


def _local_affinity_code() -> str:
    """One run per usable CPU core, or one per GPU where there are GPUs."""
    cpus = usable_cpus()
    return quick_affinity_code(n_parallel=len(cpus) - detect_hyperthread_offset(cpus))


def _affinity_code(value, where: str) -> str:
    if value is None:
        return _local_affinity_code()
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: affinity must be a code string or a mapping, got {value!r}")
    _unknown(value, _AFFINITY_KEYS, f"{where}, affinity")
    try:
        return encode_affinity(**value)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{where}, affinity: {err}") from None


def load_grid(path: str, root: str | None = None) -> _Grid:
    """Read and check a grid file; resolve every setting's config. Nothing is written."""
    where = f"grid file {path}"
    grid = read_config_file(path)
    _unknown(grid, _TOP_KEYS, where)
    title = grid.get("title")
    if not isinstance(title, str) or not title:
        raise ValueError(f"{where} needs a title (the experiment directory's name)")
    runs_per_setting = grid.get("runs_per_setting", 1)
    runs_per_setting = require_int_at_least(f"{where}: runs_per_setting", runs_per_setting, 1)
    base = grid.get("base") or {}
    if not isinstance(base, Mapping):
        raise ValueError(f"{where}: base must be a config mapping, got {base!r}")
    levels = grid.get("grid")
    if not isinstance(levels, list) or not levels:
        raise ValueError(f"{where} needs a grid: a list of levels {{key: ..., values: [...]}}")
    options = dict(
        allow_oversubscribe=bool(grid.get("allow_oversubscribe", False)),
        grace_period=grid.get("grace_period", 10.0),
    )
    require_non_negative(f"{where}: grace_period", options["grace_period"])
    variants, log_dirs = make_variants(
        *(_level(item, f"{where}, grid[{i}]") for i, item in enumerate(levels))
    )
    settings = []
    with tempfile.TemporaryDirectory(prefix="rlpyt_grid_") as tmp_dir:
        for variant, log_dir in zip(variants, log_dirs):
            config = _resolve(_merge(base, variant), f"{where}, setting {log_dir!r}", tmp_dir)
            settings.append((log_dir, variant, config))
    root = root or grid.get("root") or os.path.join("data", "local")
    experiment_dir = os.path.abspath(os.path.join(root, title))
    code = _affinity_code(grid.get("affinity"), where)
    return _Grid(path, experiment_dir, code, runs_per_setting, settings, options)


def _seed(config: dict, run_ID: int) -> int:
    return int(config["runner"].get("seed") or 0) + run_ID


def _train_command(config_path, log_dir, run_ID, seed, slot_code, resume_dir) -> list[str]:
    train = [sys.executable, "-m", "rlpyt", "train"]
    if resume_dir is not None:
        return [*train, "--resume", resume_dir, "--affinity", slot_code]
    return [
        *train,
        "--config",
        config_path,
        "--log-dir",
        log_dir,
        "--run-id",
        str(run_ID),
        "--seed",
        str(seed),
        "--affinity",
        slot_code,
    ]


def _runs(grid: _Grid) -> list[RunSpec]:
    runs = []
    for run_ID in range(grid.runs_per_setting):
        for setting, _variant, config in grid.settings:
            log_dir = os.path.join(grid.experiment_dir, setting)
            command = partial(
                _train_command,
                os.path.join(log_dir, CONFIG_NAME),
                log_dir,
                run_ID,
                _seed(config, run_ID),
            )
            runs.append(RunSpec(setting, run_ID, command))
    return runs


def _save_configs(grid: _Grid) -> None:
    """Write each setting's launch_config.json; one from an earlier launch must be the same."""
    from rlpyt.utils.checkpoint import atomic_write_text

    for setting, _variant, config in grid.settings:
        path = os.path.join(grid.experiment_dir, setting, CONFIG_NAME)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
            if saved != json.loads(json.dumps(config)):
                changed = sorted(
                    k for k in set(saved) | set(config) if saved.get(k) != config.get(k)
                )
                raise ValueError(
                    f"{path} (from an earlier launch) differs from the grid file's settings "
                    f"(sections {changed}): an experiment directory keeps its settings; change "
                    "the title (or --root) for a new experiment"
                )
    for setting, _variant, config in grid.settings:
        log_dir = os.path.join(grid.experiment_dir, setting)
        os.makedirs(log_dir, exist_ok=True)
        atomic_write_text(os.path.join(log_dir, CONFIG_NAME), json.dumps(config, indent=2) + "\n")


def _dry_run(grid: _Grid) -> int:
    slots = run_slots(grid.affinity_code, grid.allow_oversubscribe)
    states = {
        (e.get("setting"), e.get("run_ID")): e.get("state")
        for e in read_status(grid.experiment_dir)["runs"]
    }
    runs = _runs(grid)
    print(
        f"experiment {grid.experiment_dir}: {len(grid.settings)} settings x "
        f"{grid.runs_per_setting} runs on {len(slots)} slots of {grid.affinity_code!r}"
    )
    for slot in slots:
        gpu = "-" if slot.cuda_idx is None else slot.cuda_idx
        print(f"  slot {slot.index}: {slot.code}  cpus {slot.cpus}  gpu {gpu}")
    for run in runs:
        state = states.get((run.setting, run.run_ID)) or "new"
        action = "skip (done)" if state == "done" else f"run ({state})"
        command = subprocess.list2cmdline(run.command("SLOT_CODE", None))
        print(f"  {run.setting}/run_{run.run_ID}: {action}\n    {command}")
    return 0


def launch_command(args) -> int:
    """Run ``launch``; the exit status: 0 all done, 1 a run failed, 2 a bad grid, 130 Ctrl-C."""
    try:
        grid = load_grid(args.grid, args.root)
        if args.dry_run:
            return _dry_run(grid)
        with warnings.catch_warnings():  # launch_runs warns about oversubscription
            warnings.simplefilter("ignore")
            run_slots(grid.affinity_code, grid.allow_oversubscribe)  # a bad code: before writing
        _save_configs(grid)
        summary = launch_runs(
            _runs(grid),
            grid.affinity_code,
            grid.experiment_dir,
            variants={setting: variant for setting, variant, _ in grid.settings},
            allow_oversubscribe=grid.allow_oversubscribe,
            pin_cpus=True,  # train resolves its slot with slot_affinity
            grace_period=grid.grace_period,
        )
    except (ValueError, TypeError, KeyError, FileNotFoundError, LaunchError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: launch {args.grid} again to finish the experiment", file=sys.stderr)
        return 130
    print(f"Compare the settings: python -m rlpyt plot {summary.experiment_dir}")
    if summary.failed:
        failed = ", ".join(f"{r['setting']}/run_{r['run_ID']}" for r in summary.failed)
        print(f"failed runs: {failed} (see their logs)", file=sys.stderr)
        return 1
    return 0
