"""The launch queue: runs started on free slots, watched, recorded, and stopped together.

:class:`LaunchQueue` is the engine of :func:`rlpyt.utils.launching.exp_launcher.launch_runs`,
whose module docstring describes the whole launcher. Here: each run is a process in its own
session (process group), started on the lowest free slot with its stdout and stderr appended to
its log; an exit is detected without reaping (``waitid(WNOWAIT)``), so the run's group can be
swept with SIGKILL while its id is still reserved; every change of a run's state is printed and
written to ``status.json`` atomically.
"""

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import psutil

from rlpyt.utils.launching.affinity import usable_cpus
from rlpyt.utils.launching.run_status import (
    RUN_STATES,
    STATUS_FILE,
    LaunchSummary,
    holds_results,
    new_entry,
    now,
    read_status,
    resume_point,
    still_running,
    write_text_atomically,
)
from rlpyt.utils.launching.slots import LAUNCH_CPUS_ENV, OVERSUBSCRIBED_ENV, RunSlot

__all__ = ["LaunchQueue", "LaunchError", "RunSpec", "ATTEMPT_ENV"]

ATTEMPT_ENV = "RLPYT_LAUNCH_ATTEMPT"  # 1 for a run's first start, 2 for the next, ...
_LOG_TAIL_LINES = 10


class LaunchError(RuntimeError):
    """The experiment cannot be launched now (another launcher, or a run still running)."""


class RunSpec(NamedTuple):
    """One run to launch.

    ``setting``: its setting's directory, relative to the experiment directory.
    ``command(slot_affinity_code, resume_dir)``: the argv that starts it; ``resume_dir`` is
    the run directory when it holds a snapshot to resume from, else None.
    """

    setting: str
    run_ID: int
    command: Callable[[str, str | None], list[str]]


def _oversubscribed(slots: list[RunSlot]) -> bool:
    cpus = [c for slot in slots for c in slot.cpus]
    return len(cpus) != len(set(cpus))


# -- the queue ------------------------------------------------------------------------------


class _Active(NamedTuple):
    proc: subprocess.Popen
    entry: dict
    slot: RunSlot


@dataclass
class LaunchQueue:
    """One launch: the queue, the running processes, and the status file.

    Reads the experiment's earlier ``status.json``; :meth:`check_previous` refuses runs an
    earlier launcher left alive, then :meth:`run` runs every run not done yet and returns the
    :class:`LaunchSummary` (or raises ``KeyboardInterrupt`` after stopping them on a signal).
    """

    runs: list[RunSpec]
    slots: list[RunSlot]
    experiment_dir: str
    affinity_code: str
    pin_cpus: bool
    grace_period: float

    def __post_init__(self):
        self.status_path = os.path.join(self.experiment_dir, STATUS_FILE)
        previous = read_status(self.experiment_dir)["runs"]
        self.entries = {(e["setting"], e["run_ID"]): e for e in previous if "setting" in e}
        self.specs = {(r.setting, r.run_ID): r for r in self.runs}
        self.oversubscribed = _oversubscribed(self.slots)
        self.running: dict[int, _Active] = {}  # slot index -> its run
        self.stop_signal: int | None = None
        self.hurry = False
        self._pin_warned = False

    # -- set-up ----------------------------------------------------------------------

    def check_previous(self) -> None:
        """Runs an earlier launcher left running: alive is an error, dead is interrupted."""
        for key in self.specs:
            entry = self.entries.get(key)
            if entry is None or entry.get("state") != "running":
                continue
            if still_running(entry):
                raise LaunchError(
                    f"run {entry['setting']}/run_{entry['run_ID']} is still running as pid "
                    f"{entry['pid']}, started by an earlier launcher that did not stop it: "
                    f"wait for it or stop it (kill -TERM -{entry['pid']}), then launch again"
                )
            entry.update(state="interrupted", pid=None, pid_create_time=None)

    def run(self, poll_interval: float) -> LaunchSummary:
        """Queue the runs not done yet, keep the slots busy until all have exited."""
        queue = deque()
        for key, spec in self.specs.items():
            entry = self.entries.get(key)
            if entry is not None and entry.get("state") == "done":
                self._say(entry, "done earlier, skipped")
                continue
            if entry is None:
                entry = self.entries[key] = new_entry(
                    spec.setting, spec.run_ID, self.experiment_dir
                )
            entry.update(state="queued", slot=None, pid=None, pid_create_time=None)
            queue.append(key)
        self._write_status()
        print(
            f"[launch] {len(queue)} of {len(self.specs)} runs to go on {len(self.slots)} "
            f"slots of {self.affinity_code!r}; status in {self.status_path}",
            flush=True,
        )
        with self._stop_on_signals():
            try:
                while (queue or self.running) and self.stop_signal is None:
                    free = [s for s in self.slots if s.index not in self.running]
                    while queue and free:
                        self._start(self.entries[queue.popleft()], free.pop(0))
                    self._reap()
                    time.sleep(poll_interval)
            except KeyboardInterrupt:  # e.g. raised before our handler was installed
                self.stop_signal = signal.SIGINT
            finally:
                # Whatever stops the loop (a signal, or an error of the launcher itself),
                # no run outlives it.
                if self.running:
                    self._stop_running(poll_interval)
        summary = self._summary()
        if self.stop_signal is not None:
            print(f"[launch] stopped by {signal.Signals(self.stop_signal).name}", flush=True)
            raise KeyboardInterrupt
        print(f"[launch] finished: {summary.counts}", flush=True)
        return summary

    @contextlib.contextmanager
    def _stop_on_signals(self):
        """SIGINT and SIGTERM set ``stop_signal`` (a second one: ``hurry``); main thread only."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self.stop_signal is None:
                self.stop_signal = signum
            else:
                self.hurry = True

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, old in previous.items():
                signal.signal(s, old)

    # -- one run ---------------------------------------------------------------------

    def _start(self, entry: dict, slot: RunSlot) -> None:
        spec = self.specs[(entry["setting"], entry["run_ID"])]
        log_dir = os.path.join(self.experiment_dir, spec.setting)
        resume_dir = resume_point(log_dir, spec.run_ID)
        if resume_dir is None:
            self._set_aside(entry)
        attempt = entry["attempts"] + 1
        command = spec.command(slot.code, resume_dir)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env[ATTEMPT_ENV] = str(attempt)
        env[LAUNCH_CPUS_ENV] = ",".join(str(c) for c in usable_cpus())
        env[OVERSUBSCRIBED_ENV] = "1" if self.oversubscribed else "0"
        os.makedirs(log_dir, exist_ok=True)
        entry.update(
            attempts=attempt,
            slot=slot.index,
            command=command,
            resumed_from=resume_dir,
            start_time=now(),
            end_time=None,
            exit_code=None,
            signal=None,
            error=None,
        )
        with open(entry["log_path"], "ab") as log:
            log.write(
                f"=== rlpyt launcher: attempt {attempt}, slot {slot.index} ({slot.code}), "
                f"{entry['start_time']}\n=== {subprocess.list2cmdline(command)}\n".encode()
            )
            log.flush()
            try:
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # its own process group: stopped as a whole
                )
            except OSError as err:
                entry.update(state="failed", end_time=now(), error=f"could not start: {err}")
                self._write_status()
                self._say(entry, f"failed: could not start {command[0]!r}: {err}")
                return
        self._pin(proc.pid, slot)
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            created = None  # already gone: _reap records it
        entry.update(state="running", pid=proc.pid, pid_create_time=created)
        self.running[slot.index] = _Active(proc, entry, slot)
        self._write_status()
        how = f", resuming {resume_dir}" if resume_dir else ""
        self._say(entry, f"running (slot {slot.index}, pid {proc.pid}, attempt {attempt}{how})")

    def _pin(self, pid: int, slot: RunSlot) -> None:
        """Pin the new process to the slot's CPUs (before it starts any thread)."""
        if not self.pin_cpus or not slot.cpus:
            return
        try:
            os.sched_setaffinity(pid, slot.cpus)
        except ProcessLookupError:
            pass  # it has already exited
        except (OSError, AttributeError) as err:
            if not self._pin_warned:
                self._pin_warned = True
                warnings.warn(
                    f"could not pin runs to their slots' CPUs ({err}); they run unpinned",
                    stacklevel=3,
                )

    def _set_aside(self, entry: dict) -> None:
        """A run directory without a valid snapshot: make room for a fresh start.

        Logs without results (no progress row, no snapshot file: the run stopped while it
        started) are left for the new attempt to start over; a directory with results is
        moved to ``run_<k>.attempt<n>``, kept.
        """
        run_dir = entry["run_dir"]
        if not holds_results(run_dir):
            return
        n = 1
        while os.path.exists(f"{run_dir}.attempt{n}"):
            n += 1
        os.rename(run_dir, f"{run_dir}.attempt{n}")
        entry.setdefault("set_aside", []).append(f"{run_dir}.attempt{n}")
        self._say(entry, f"no snapshot to resume from: moved {run_dir} to {run_dir}.attempt{n}")

    def _reap(self) -> None:
        for index, active in list(self.running.items()):
            if _has_exited(active.proc):
                del self.running[index]
                self._finish(active, interrupted=False)

    def _finish(self, active: _Active, interrupted: bool) -> None:
        """Record an exited run (its group swept first, while its pid is still reserved)."""
        _signal_group(active.proc.pid, signal.SIGKILL)
        code = active.proc.wait()
        entry = active.entry
        state = (
            "done" if code == 0 and not interrupted else "interrupted" if interrupted else "failed"
        )
        name = signal.Signals(-code).name if code < 0 and -code in signal.valid_signals() else None
        entry.update(state=state, exit_code=code, signal=name, end_time=now())
        self._write_status()
        how = f" by {name}" if name else ""
        self._say(entry, f"{state} (exit code {code}{how}); log {entry['log_path']}")
        if state == "failed":
            for line in _tail(entry["log_path"], _LOG_TAIL_LINES):
                print(f"    | {line}", flush=True)

    def _stop_running(self, poll_interval: float) -> None:
        """SIGTERM every running group, wait up to the grace period, SIGKILL the rest."""
        print(
            f"[launch] stopping {len(self.running)} runs: SIGTERM, then SIGKILL after "
            f"{self.grace_period:g} s (Ctrl-C again to kill at once)",
            flush=True,
        )
        for active in self.running.values():
            _signal_group(active.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_period
        while not self.hurry and time.monotonic() < deadline:
            if all(_has_exited(a.proc) for a in self.running.values()):
                break
            time.sleep(poll_interval)
        for active in list(self.running.values()):
            self._finish(active, interrupted=True)
        self.running.clear()

    # -- reporting -------------------------------------------------------------------

    def _summary(self) -> LaunchSummary:
        entries = [self.entries[key] for key in self.specs]
        counts = {state: 0 for state in RUN_STATES}
        counts.update(Counter(e["state"] for e in entries))
        return LaunchSummary(self.experiment_dir, self.status_path, counts, entries)

    def _write_status(self) -> None:
        entries = list(self.entries.values())
        counts = {state: 0 for state in RUN_STATES}
        counts.update(Counter(e["state"] for e in entries))
        status = dict(
            experiment_dir=self.experiment_dir,
            affinity_code=self.affinity_code,
            n_slots=len(self.slots),
            launcher_pid=os.getpid(),
            updated=now(),
            counts=counts,
            runs=entries,
        )
        write_text_atomically(self.status_path, json.dumps(status, indent=2) + "\n")

    def _say(self, entry: dict, what: str) -> None:
        print(f"[launch] {entry['setting']}/run_{entry['run_ID']}: {what}", flush=True)


def _has_exited(proc: subprocess.Popen) -> bool:
    """Whether ``proc`` exited, without reaping it (its pid, and so its group, stay reserved)."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone (a zombie leader alone is not signalled: EPERM on some OSes)


def _tail(path: str, n: int) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line.rstrip("\r") for line in text.splitlines()[-n:]]
