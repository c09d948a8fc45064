"""Run a grid of experiments side by side on one machine: :func:`run_experiments`.

Each run is its own process, started as in the original rlpyt::

    python SCRIPT SLOT_AFFINITY_CODE LOG_DIR RUN_ID *common_args *runs_args[i]

``SLOT_AFFINITY_CODE`` is ``prepend_run_slot(slot, affinity_code)``, ``LOG_DIR`` the absolute
directory of the run's setting (variant) and ``RUN_ID`` one of ``range(runs_per_setting)``.
Before any run starts, each setting's variant is saved in its ``LOG_DIR``, so a run script reads::

    slot_affinity_code, log_dir, run_ID = sys.argv[1], sys.argv[2], int(sys.argv[3])
    affinity = affinity_from_code(slot_affinity_code)
    config = update_config(default_config, load_variant(log_dir))
    resume_from = resume_point(log_dir, run_ID)       # None: start afresh
    runner = MinibatchRl(..., affinity=affinity, resume_from=resume_from)
    with logger_context(log_dir, run_ID, name, config, snapshot_mode="last",
                        resume=resume_from is not None):
        runner.train()

**Layout.** ``EXPERIMENT_DIR = os.path.join(log_dir_root, experiment_title)`` (default root
``data/local``, relative to the working directory; ``experiment_dir=`` overrides both). It is
deterministic, so launching again resumes the experiment::

    EXPERIMENT_DIR/status.json                      every run's state (below)
    EXPERIMENT_DIR/<log_dirs[i]>/variant_config.json
    EXPERIMENT_DIR/<log_dirs[i]>/run_<k>/           the run's logs (progress.csv, params.json, ...)
    EXPERIMENT_DIR/<log_dirs[i]>/run_<k>.log        the run's stdout and stderr, all attempts

**Status.** ``status.json`` (rewritten atomically at every change, and each change printed as
one line) holds one entry per run: ``setting``, ``run_ID``, ``state`` (``queued``, ``running``,
``done``, ``failed`` or ``interrupted``), ``slot``, ``pid``, ``exit_code`` (negative: killed by
that signal, also named in ``signal``), ``log_path``, ``run_dir``, ``start_time``,
``end_time`` and ``attempts``. A run that exits 0 is done; any other exit is a failure, whose
last log lines are printed, and the other runs go on.

**Launching again** on the same directory skips the runs that are done and starts every
other one again (failed and interrupted ones included). A run whose directory holds a valid
snapshot resumes from it (:func:`resume_point`). Without one the run starts over: a run
directory without results (stopped while it started: no progress row, no snapshot file) is
reused, and one with results but no valid snapshot is moved aside to ``run_<k>.attempt<n>``,
never deleted (``plot`` and ``summary`` skip such directories). ``RLPYT_LAUNCH_ATTEMPT`` (1, 2, ...) tells a run its attempt. A
setting whose saved variant differs from the one given is an error: one experiment directory,
one grid. Only one launcher at a time may run an experiment (a lock file,
``EXPERIMENT_DIR/.launcher.lock``).

**Packing.** ``get_n_run_slots(affinity_code)`` runs at a time, at most; more runs wait in a
queue, so cores are never overloaded. A run's runner (or sampler) pins itself to its slot's
cores from the affinity dict; ``pin_cpus=True`` (the default) also pins the whole process
from its start (``os.sched_setaffinity``, one warning where refused). A pinned run sees only
its slot's CPUs, so the launcher passes its own in ``RLPYT_LAUNCH_CPUS``, which
``affinity_from_code`` (and :func:`slot_affinity`) count core indices in.
An affinity code that lays out more CPUs than this process may use
(``os.sched_getaffinity``) is an error before anything starts, unless
``allow_oversubscribe=True``: the slots then share the usable CPUs (core index ``i`` is CPU
``usable[i % n]``), which :func:`slot_affinity` applies in the runs.

**Stopping.** Every run starts in its own session (process group). On Ctrl-C or SIGTERM the
launcher sends SIGTERM to every running group (rlpyt runners write a snapshot and exit),
waits up to ``grace_period`` seconds (a second Ctrl-C cuts it short), SIGKILLs whatever is
left, marks those runs interrupted and raises ``KeyboardInterrupt``. A run's group is also
swept with SIGKILL when the run exits, so no process outlives its run. POSIX only.
"""

import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial

from rlpyt.utils.launching.experiment import (
    check_arg_list,
    check_setting,
    check_variants,
    experiment_lock,
    script_command,
)
from rlpyt.utils.launching.launch_queue import ATTEMPT_ENV, LaunchError, LaunchQueue, RunSpec
from rlpyt.utils.launching.run_status import (
    RUN_STATES,
    STATUS_FILE,
    LaunchSummary,
    read_status,
    resume_point,
)
from rlpyt.utils.launching.slots import (
    LAUNCH_CPUS_ENV,
    OVERSUBSCRIBED_ENV,
    RunSlot,
    run_slots,
    slot_affinity,
)
from rlpyt.utils.launching.variant import save_variant
from rlpyt.utils.validation import require_int_at_least, require_non_negative, require_positive

__all__ = [
    "run_experiments",
    "launch_runs",
    "resume_point",
    "slot_affinity",
    "run_slots",
    "read_status",
    "RunSpec",
    "RunSlot",
    "LaunchSummary",
    "LaunchError",
    "RUN_STATES",
    "STATUS_FILE",
    "ATTEMPT_ENV",
    "LAUNCH_CPUS_ENV",
    "OVERSUBSCRIBED_ENV",
]

# -- launching -------------------------------------------------------------------------------


def run_experiments(
    script: str | os.PathLike,
    affinity_code: str,
    experiment_title: str,
    runs_per_setting: int,
    variants: Sequence[Mapping],
    log_dirs: Sequence[str],
    common_args: Sequence | None = None,
    runs_args: Sequence[Sequence] | None = None,
    *,
    log_dir_root: str | os.PathLike = "data/local",
    experiment_dir: str | os.PathLike | None = None,
    allow_oversubscribe: bool = False,
    pin_cpus: bool = True,
    grace_period: float = 10.0,
    python: str | None = None,
    backend: str = "local",
    ray_options: Mapping | None = None,
) -> LaunchSummary:
    """Run ``script`` for every variant, ``runs_per_setting`` times each; see the module doc.

    Args:
        script: the run script (a python file), started with ``python`` (default: this
            interpreter).
        affinity_code: the machine's code (e.g. ``quick_affinity_code(n_parallel=4)``),
            without a run slot.
        experiment_title: the experiment directory's name under ``log_dir_root``.
        runs_per_setting: runs (run_IDs 0, 1, ...) per variant, usually different seeds.
        variants, log_dirs: as :func:`make_variants` returns them, one directory per variant.
        common_args: arguments appended to every run's command line.
        runs_args: one list of arguments per variant, appended after ``common_args``.
        log_dir_root: where ``EXPERIMENT_DIR = log_dir_root/experiment_title`` lies.
        experiment_dir: the experiment directory itself (overrides the two above).
        allow_oversubscribe, pin_cpus, grace_period: see the module doc.
        backend: ``"local"`` (this machine's run slots) or ``"ray"``: each run a Ray task
            placed by its slot's CPU/GPU count (``allow_oversubscribe`` and ``pin_cpus`` do
            not apply), see :func:`rlpyt.utils.launching.ray_launcher.run_experiments_ray`.
        ray_options: with ``backend="ray"``, further keywords of ``run_experiments_ray``:
            ``cpu_per_run``, ``gpu_per_run``, ``ray_init_kwargs`` (e.g.
            ``dict(address="auto")``).

    Returns the :class:`LaunchSummary`. Raises ValueError or TypeError naming the problem
    before anything starts; ``KeyboardInterrupt`` after stopping every run on Ctrl-C or
    SIGTERM.
    """
    if backend == "ray":
        from rlpyt.utils.launching.ray_launcher import run_experiments_ray

        return run_experiments_ray(
            script, affinity_code, experiment_title, runs_per_setting, variants, log_dirs,
            common_args, runs_args, log_dir_root=log_dir_root, experiment_dir=experiment_dir,
            grace_period=grace_period, python=python, **dict(ray_options or {}),
        )  # fmt: skip
    if backend != "local":
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    if ray_options:
        raise ValueError("ray_options apply only with backend='ray'")
    script = os.fspath(script)
    if not os.path.isfile(script):
        raise FileNotFoundError(f"run script {script} does not exist (or is not a file)")
    script = os.path.abspath(script)
    runs_per_setting = require_int_at_least("runs_per_setting", runs_per_setting, 1)
    variants, log_dirs = list(variants), list(log_dirs)
    if len(variants) != len(log_dirs):
        raise ValueError(
            f"{len(variants)} variants but {len(log_dirs)} log_dirs: give one log directory "
            "per variant (make_variants returns both)"
        )
    if not variants:
        raise ValueError("no variants to run: variants and log_dirs are empty")
    for i, variant in enumerate(variants):
        if not isinstance(variant, Mapping):
            raise TypeError(f"variants[{i}] must be a dict, got {variant!r}")
    common = check_arg_list(common_args, "common_args")
    if runs_args is None:
        runs_args = [[] for _ in variants]
    elif isinstance(runs_args, str | bytes) or len(runs_args) != len(variants):
        n = "a str" if isinstance(runs_args, str | bytes) else len(runs_args)
        raise ValueError(
            f"runs_args must hold one argument list per variant ({len(variants)}); got {n}"
        )
    runs_args = [check_arg_list(a, f"runs_args[{i}]") for i, a in enumerate(runs_args)]
    settings = [check_setting(d, f"log_dirs[{i}]") for i, d in enumerate(log_dirs)]
    if experiment_dir is None:
        if not isinstance(experiment_title, str) or not experiment_title:
            raise TypeError(f"experiment_title must be a non-empty str, got {experiment_title!r}")
        experiment_dir = os.path.join(os.fspath(log_dir_root), experiment_title)
    experiment_dir = os.path.abspath(os.fspath(experiment_dir))
    python = python or sys.executable
    runs = [
        RunSpec(
            setting,
            run_ID,
            partial(
                script_command,
                [python, script],
                os.path.join(experiment_dir, setting),
                run_ID,
                common + run_args,
            ),
        )
        for run_ID in range(runs_per_setting)  # the first runs of all settings come first
        for setting, run_args in zip(settings, runs_args)
    ]
    return launch_runs(
        runs,
        affinity_code,
        experiment_dir,
        variants=dict(zip(settings, variants)),
        allow_oversubscribe=allow_oversubscribe,
        pin_cpus=pin_cpus,
        grace_period=grace_period,
    )


def launch_runs(
    runs: Sequence[RunSpec],
    affinity_code: str,
    experiment_dir: str | os.PathLike,
    *,
    variants: Mapping[str, Mapping] | None = None,
    allow_oversubscribe: bool = False,
    pin_cpus: bool = True,
    grace_period: float = 10.0,
    poll_interval: float = 0.05,
) -> LaunchSummary:
    """Run ``runs`` on the slots of ``affinity_code``, recorded in ``experiment_dir``.

    The engine of :func:`run_experiments` (and of ``python -m rlpyt launch``), for runs whose
    command is not the original's script convention. ``variants`` (setting -> variant) are
    checked against earlier launches and saved in their settings' directories first.
    """
    experiment_dir = os.path.abspath(os.fspath(experiment_dir))
    runs = list(runs)
    if not runs:
        raise ValueError("no runs to launch")
    runs = [r._replace(run_ID=require_int_at_least("run_ID", r.run_ID, 0)) for r in runs]
    keys = [(check_setting(r.setting, "RunSpec.setting"), r.run_ID) for r in runs]
    repeated = sorted({k for k, n in Counter(keys).items() if n > 1})
    if repeated:
        raise ValueError(f"runs repeat (setting, run_ID) pairs {repeated}: each run needs its own")
    require_non_negative("grace_period", grace_period)
    require_positive("poll_interval", poll_interval)
    variants = dict(variants or {})
    unknown = sorted(set(variants) - {setting for setting, _ in keys})
    if unknown:
        raise ValueError(f"variants given for settings without runs: {unknown}")
    slots = run_slots(affinity_code, allow_oversubscribe)
    check_variants(variants, experiment_dir)
    os.makedirs(experiment_dir, exist_ok=True)
    with experiment_lock(experiment_dir):
        launch = LaunchQueue(runs, slots, experiment_dir, affinity_code, pin_cpus, grace_period)
        launch.check_previous()  # before anything is written: a run still alive is an error
        for setting, variant in variants.items():
            save_variant(variant, os.path.join(experiment_dir, setting))
        return launch.run(poll_interval)
