"""What the launcher records about each run: ``status.json``, and where a run may resume.

``status.json`` in the experiment directory holds one entry per run (see
:mod:`rlpyt.utils.launching.exp_launcher` for its fields); it is rewritten atomically at every
change. :func:`resume_point` tells a run (and the launcher) whether its directory holds a
snapshot to resume from.
"""

import datetime
import json
import os
from typing import NamedTuple

import psutil

__all__ = [
    "LaunchSummary",
    "read_status",
    "resume_point",
    "new_entry",
    "still_running",
    "holds_results",
    "write_text_atomically",
    "now",
    "STATUS_FILE",
    "RUN_STATES",
]

STATUS_FILE = "status.json"
RUN_STATES = ("queued", "running", "done", "failed", "interrupted")


class LaunchSummary(NamedTuple):
    """What :func:`launch_runs` left: ``counts`` by state and the status ``runs`` entries."""

    experiment_dir: str
    status_path: str
    counts: dict[str, int]
    runs: list[dict]

    @property
    def failed(self) -> list[dict]:
        return [run for run in self.runs if run["state"] == "failed"]


def resume_point(log_dir: str | os.PathLike, run_ID: int | str) -> str | None:
    """``LOG_DIR/run_{run_ID}`` when it holds a valid snapshot to resume from, else None.

    Valid means :func:`rlpyt.utils.checkpoint.find_latest_checkpoint` finds one (corrupt
    files are skipped with a warning). Pass the result as ``resume_from=`` to the runner and
    ``resume=result is not None`` to ``logger_context``.
    """
    run_dir = os.path.join(os.fspath(log_dir), f"run_{run_ID}")
    try:
        names = os.listdir(run_dir)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not _any_snapshot_file(names):
        return None  # decided without importing torch
    from rlpyt.utils.checkpoint import find_latest_checkpoint

    return run_dir if find_latest_checkpoint(run_dir) is not None else None


def _any_snapshot_file(names) -> bool:
    """Whether ``names`` include a snapshot's: ``params.pkl`` or ``itr_<n>.pkl``."""
    return any(n == "params.pkl" or (n.startswith("itr_") and n.endswith(".pkl")) for n in names)


def holds_results(run_dir: str) -> bool:
    """Whether ``run_dir`` holds a progress.csv row or a snapshot file (valid or not)."""
    try:
        names = os.listdir(run_dir)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if _any_snapshot_file(names):
        return True
    try:
        with open(os.path.join(run_dir, "progress.csv"), encoding="utf-8") as f:
            return sum(1 for line in f if line.strip()) > 1  # a header and a row
    except (FileNotFoundError, UnicodeDecodeError):
        return False


def read_status(experiment_dir: str | os.PathLike) -> dict:
    """The experiment's ``status.json`` (``{"runs": []}`` when there is none yet)."""
    path = os.path.join(os.fspath(experiment_dir), STATUS_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            status = json.load(f)
    except FileNotFoundError:
        return {"runs": []}
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON (line {err.lineno}): {err.msg}") from None
    if not isinstance(status, dict) or not isinstance(status.get("runs"), list):
        raise ValueError(f"{path} is not a launcher status file (no 'runs' list)")
    return status


def now() -> str:
    """The local time, ISO 8601 with milliseconds and the UTC offset."""
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")


def new_entry(setting: str, run_ID: int, experiment_dir: str) -> dict:
    """The status entry of a run not started yet."""
    log_dir = os.path.join(experiment_dir, setting)
    return dict(
        setting=setting,
        run_ID=run_ID,
        state="queued",
        slot=None,
        pid=None,
        pid_create_time=None,
        exit_code=None,
        signal=None,
        log_path=os.path.join(log_dir, f"run_{run_ID}.log"),
        run_dir=os.path.join(log_dir, f"run_{run_ID}"),
        start_time=None,
        end_time=None,
        attempts=0,
        resumed_from=None,
        set_aside=[],
        command=None,
    )


def still_running(entry: dict) -> bool:
    """Whether a run recorded as running is alive (same pid and start time: no pid reuse)."""
    if entry.get("pid") is None:
        return False
    try:
        process = psutil.Process(entry["pid"])
        created = process.create_time()
        if process.status() == psutil.STATUS_ZOMBIE:
            return False  # exited; its new parent (init) has not reaped it yet
    except psutil.Error:
        return False
    recorded = entry.get("pid_create_time")
    return recorded is not None and abs(created - recorded) < 1.0


def write_text_atomically(path: str, text: str) -> None:
    """Write a temp file beside ``path``, fsync it, rename it onto ``path``.

    As ``rlpyt.utils.checkpoint.atomic_write_text``, without importing torch (which that
    module needs): the launcher starts in a fraction of a second and stays small.
    """
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
