"""Run a grid of experiments on a Ray cluster: :func:`run_experiments_ray`.

The Ray mode of :func:`~rlpyt.utils.launching.exp_launcher.run_experiments`
(``run_experiments(..., backend="ray")`` calls it). Each run is a Ray task that
reserves the run's resources, ``num_cpus=cpu_per_run`` and ``num_gpus=gpu_per_run``,
so Ray places it on a node that has them free, and there starts the same command as
the local launcher::

    python SCRIPT SLOT_AFFINITY_CODE LOG_DIR RUN_ID *common_args *runs_args[i]

as a subprocess (its own process group), with stdout and stderr appended to
``LOG_DIR/run_<k>.log``. Run scripts need no change. On a cluster, the experiment
directory must be on a file system every node sees (and the script and Python at
the same paths).

**Resources.** By default a run reserves what one run slot of ``affinity_code``
holds: its CPU count and one GPU if the slot has one. Runs no live node can hold
(e.g. one GPU per run on a cluster without GPUs) are refused with a ``ValueError``
before anything starts; the others wait for free resources, so a node with ``n``
free CPUs runs ``n // cpu_per_run`` of them at a time. The slot code a run gets
(``<k>slt_<affinity_code>``) cycles over the code's slots, so runs that Ray puts side
by side on a node laid out like the code mostly get different cores; Ray reserves a
number of CPUs, not particular ones, so the pinning a run does from its slot code is
only a hint here (on a node running other work, make codes without pinning).

**Status.** ``EXPERIMENT_DIR/status.json`` has the local launcher's format (one
entry per run: ``setting``, ``run_ID``, ``state``, ``exit_code``, ``signal``,
``log_path``, ``run_dir``, ``start_time``, ``end_time``, ``attempts``, ``pid``), plus
``node`` (the IP address of the node that ran it). ``pid`` is the run's pid on that
node. Launching again skips the runs that are done. A run that exits non-zero is
failed and the others go on; a run whose Ray task is lost (its node died) is
failed with ``exit_code`` None.

**Stopping.** On Ctrl-C every running task is cancelled: the task sends SIGTERM to its
run's process group (rlpyt runners snapshot and exit), waits ``grace_period`` seconds,
then SIGKILLs the group; those runs are marked interrupted and ``KeyboardInterrupt``
is raised. A run's process also gets SIGKILL if its task's worker dies
(``PR_SET_PDEATHSIG``), so nothing outlives its task. Linux only.
"""

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial

from rlpyt.utils.launching.affinity import affinity_from_code, get_n_run_slots, prepend_run_slot
from rlpyt.utils.launching.experiment import (
    check_arg_list,
    check_setting,
    check_variants,
    experiment_lock,
    script_command,
)
from rlpyt.utils.launching.launch_queue import RunSpec
from rlpyt.utils.launching.run_status import (
    RUN_STATES,
    STATUS_FILE,
    LaunchSummary,
    new_entry,
    now,
    read_status,
    write_text_atomically,
)
from rlpyt.utils.launching.variant import save_variant
from rlpyt.utils.validation import require_int_at_least

__all__ = ["run_experiments_ray", "run_command"]

_PR_SET_PDEATHSIG = 1
_ANY_CPUS = list(range(4096))  # lay a slot out without this machine's CPU count


def _die_with_parent():  # preexec_fn: SIGKILL when the Ray worker that started us dies
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the task's own cleanup still applies
        pass


def run_command(command: list, log_path: str, env: dict, grace_period: float) -> dict:
    """Run ``command`` with output appended to ``log_path``; what happened, as a dict.

    The body of each run's Ray task. A cancellation (``KeyboardInterrupt`` raised
    by ``ray.cancel``) stops the run: SIGTERM to its group, then SIGKILL after
    ``grace_period`` seconds.
    """
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    node = socket.gethostbyname(socket.gethostname())
    interrupted = False
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        interrupted = True
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout=grace_period)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            code = proc.wait()
    _signal_group(proc.pid, signal.SIGKILL)  # whatever the run left behind in its group
    return dict(exit_code=code, pid=proc.pid, node=node, interrupted=interrupted)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def run_experiments_ray(
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
    cpu_per_run: float | None = None,
    gpu_per_run: float | None = None,
    grace_period: float = 10.0,
    python: str | None = None,
    ray_init_kwargs: Mapping | None = None,
) -> LaunchSummary:
    """Run ``script`` for every variant on Ray; arguments as ``run_experiments`` (see the module doc).

    Args:
        cpu_per_run, gpu_per_run: resources each run reserves (default: one run slot of
            ``affinity_code``).
        ray_init_kwargs: for ``ray.init`` when Ray is not initialized (e.g.
            ``dict(address="auto")``); a Ray instance this function started is shut
            down at the end.

    Returns the :class:`LaunchSummary`.
    """
    runs, experiment_dir, variants_by_setting = _grid(
        script, experiment_title, runs_per_setting, variants, log_dirs, common_args, runs_args,
        log_dir_root, experiment_dir, python,
    )  # fmt: skip
    n_slots = get_n_run_slots(affinity_code)
    slot_codes = [prepend_run_slot(k, affinity_code) for k in range(n_slots)]
    if cpu_per_run is None or gpu_per_run is None:
        layout = affinity_from_code(slot_codes[0], cpus=_ANY_CPUS)
        layout = layout[0] if isinstance(layout, list) else layout
        if cpu_per_run is None:
            cpu_per_run = len(layout.get("all_cpus") or layout.get("workers_cpus") or [0])
        if gpu_per_run is None:
            gpu_per_run = 0 if layout.get("cuda_idx") is None else 1
    for name, value in (("cpu_per_run", cpu_per_run), ("gpu_per_run", gpu_per_run)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    try:
        import ray
    except ImportError as err:
        raise ImportError(
            "backend='ray' needs Ray: install the optional extra with pip install 'rlpyt[ray]'"
        ) from err

    started = False
    if not ray.is_initialized():
        ray.init(**dict(ray_init_kwargs or {}))
        started = True
    try:
        _check_placeable(ray.nodes(), cpu_per_run, gpu_per_run)
        os.makedirs(experiment_dir, exist_ok=True)
        with experiment_lock(experiment_dir):
            for setting, variant in variants_by_setting.items():
                save_variant(variant, os.path.join(experiment_dir, setting))
            launch = _RayLaunch(experiment_dir, affinity_code, grace_period)
            return launch.run(runs, slot_codes, cpu_per_run, gpu_per_run)
    finally:
        if started:
            ray.shutdown()


def _check_placeable(nodes: list, cpu_per_run: float, gpu_per_run: float) -> None:
    """Refuse runs no node of the cluster can hold (Ray would leave them pending forever)."""
    alive = [node["Resources"] for node in nodes if node.get("Alive")]
    if any(r.get("CPU", 0) >= cpu_per_run and r.get("GPU", 0) >= gpu_per_run for r in alive):
        return
    largest = ", ".join(f"{r.get('CPU', 0):g} CPU and {r.get('GPU', 0):g} GPU" for r in alive)
    raise ValueError(
        f"each run reserves {cpu_per_run:g} CPU and {gpu_per_run:g} GPU, but no node of the "
        f"Ray cluster has that much (its {len(alive)} node(s): {largest or 'none'}): lower "
        "cpu_per_run / gpu_per_run (or use an affinity code with fewer CPUs or no GPU per "
        "run slot), or add such a node"
    )


def _grid(
    script, experiment_title, runs_per_setting, variants, log_dirs, common_args, runs_args,
    log_dir_root, experiment_dir, python,
):  # fmt: skip
    """The runs (``RunSpec``), experiment directory and variants, checked as the local launcher does."""
    script = os.fspath(script)
    if not os.path.isfile(script):
        raise FileNotFoundError(f"run script {script} does not exist (or is not a file)")
    script = os.path.abspath(script)
    runs_per_setting = require_int_at_least("runs_per_setting", runs_per_setting, 1)
    variants, log_dirs = list(variants), list(log_dirs)
    if len(variants) != len(log_dirs) or not variants:
        raise ValueError(
            f"{len(variants)} variants and {len(log_dirs)} log_dirs: give one log directory "
            "per variant, at least one (make_variants returns both)"
        )
    for i, variant in enumerate(variants):
        if not isinstance(variant, Mapping):
            raise TypeError(f"variants[{i}] must be a dict, got {variant!r}")
    common = check_arg_list(common_args, "common_args")
    runs_args = [[] for _ in variants] if runs_args is None else list(runs_args)
    if len(runs_args) != len(variants):
        raise ValueError(
            f"runs_args must hold one argument list per variant ({len(variants)}); got "
            f"{len(runs_args)}"
        )
    runs_args = [check_arg_list(a, f"runs_args[{i}]") for i, a in enumerate(runs_args)]
    settings = [check_setting(d, f"log_dirs[{i}]") for i, d in enumerate(log_dirs)]
    if experiment_dir is None:
        if not isinstance(experiment_title, str) or not experiment_title:
            raise TypeError(f"experiment_title must be a non-empty str, got {experiment_title!r}")
        experiment_dir = os.path.join(os.fspath(log_dir_root), experiment_title)
    experiment_dir = os.path.abspath(os.fspath(experiment_dir))
    prefix = [python or sys.executable, script]
    runs = [
        RunSpec(
            setting,
            run_ID,
            partial(
                script_command,
                prefix,
                os.path.join(experiment_dir, setting),
                run_ID,
                common + run_args,
            ),
        )  # fmt: skip
        for run_ID in range(runs_per_setting)
        for setting, run_args in zip(settings, runs_args)
    ]
    variants_by_setting = dict(zip(settings, variants))
    check_variants(variants_by_setting, experiment_dir)
    return runs, experiment_dir, variants_by_setting


class _RayLaunch:
    """Submits the runs as Ray tasks, records them in ``status.json``, stops them on Ctrl-C."""

    def __init__(self, experiment_dir, affinity_code, grace_period):
        self.experiment_dir = experiment_dir
        self.status_path = os.path.join(experiment_dir, STATUS_FILE)
        self.affinity_code = affinity_code
        self.grace_period = float(grace_period)
        previous = read_status(experiment_dir) if os.path.exists(self.status_path) else {}
        self.previous = {(e["setting"], e["run_ID"]): e for e in previous.get("runs", [])}
        self.entries = {}

    def run(self, runs, slot_codes, cpu_per_run, gpu_per_run) -> LaunchSummary:
        import ray

        task = ray.remote(run_command).options(
            num_cpus=cpu_per_run, num_gpus=gpu_per_run, max_retries=0
        )
        pending = {}
        for i, run in enumerate(runs):
            key = (run.setting, run.run_ID)
            entry = self.previous.get(key) or new_entry(*key, self.experiment_dir)
            self.entries[key] = entry
            if entry["state"] == "done":
                continue
            slot_code = slot_codes[i % len(slot_codes)]
            command = [str(c) for c in run.command(slot_code, None)]
            attempts = entry.get("attempts", 0) + 1
            entry.update(
                state="running", slot=slot_code, command=command, start_time=now(),
                end_time=None, exit_code=None, signal=None, attempts=attempts, pid=None,
            )  # fmt: skip
            env = {"RLPYT_LAUNCH_ATTEMPT": str(attempts)}
            ref = task.remote(command, entry["log_path"], env, self.grace_period)
            pending[ref] = key
            self._say(entry, f"submitted ({cpu_per_run} CPU, {gpu_per_run} GPU)")
        self._write_status()
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in ready:
                    self._finish(self.entries[pending.pop(ref)], ref)
        except KeyboardInterrupt:
            self._stop(pending)
            raise
        return self._summary()

    def _finish(self, entry, ref, interrupted=False):
        import ray

        try:
            result = ray.get(ref)
        except (ray.exceptions.RayError, KeyboardInterrupt) as err:
            state = "interrupted" if interrupted else "failed"
            entry.update(state=state, end_time=now(), error=f"{type(err).__name__}")
            self._write_status()
            self._say(entry, f"{state} (Ray task lost: {type(err).__name__})")
            return
        code = result["exit_code"]
        name = signal.Signals(-code).name if code < 0 and -code in signal.valid_signals() else None
        state = "interrupted" if result["interrupted"] or interrupted else (
            "done" if code == 0 else "failed"
        )  # fmt: skip
        entry.update(
            state=state, exit_code=code, signal=name, pid=result["pid"], node=result["node"],
            end_time=now(),
        )  # fmt: skip
        self._write_status()
        how = f" by {name}" if name else ""
        self._say(
            entry, f"{state} on {result['node']} (exit code {code}{how}); log {entry['log_path']}"
        )

    def _stop(self, pending):
        import ray

        print(f"[launch] stopping {len(pending)} runs (SIGTERM, then SIGKILL)", flush=True)
        for ref in pending:
            ray.cancel(ref, force=False)
        deadline = time.monotonic() + self.grace_period + 5.0
        while pending and time.monotonic() < deadline:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                self._finish(self.entries[pending.pop(ref)], ref, interrupted=True)
        for ref in list(pending):
            ray.cancel(ref, force=True)
            entry = self.entries[pending.pop(ref)]
            entry.update(state="interrupted", end_time=now())
        self._write_status()

    def _counts(self) -> dict:
        counts = {state: 0 for state in RUN_STATES}
        counts.update(Counter(e["state"] for e in self.entries.values()))
        return counts

    def _summary(self) -> LaunchSummary:
        entries = list(self.entries.values())
        return LaunchSummary(self.experiment_dir, self.status_path, self._counts(), entries)

    def _write_status(self):
        status = dict(
            experiment_dir=self.experiment_dir,
            affinity_code=self.affinity_code,
            backend="ray",
            launcher_pid=os.getpid(),
            updated=now(),
            counts=self._counts(),
            runs=list(self.entries.values()),
        )
        write_text_atomically(self.status_path, json.dumps(status, indent=2) + "\n")

    def _say(self, entry, what):
        print(f"[launch ray] {entry['setting']}/run_{entry['run_ID']}: {what}", flush=True)
