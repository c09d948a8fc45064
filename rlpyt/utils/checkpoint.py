"""Atomic, validated checkpoints (training snapshots).

A checkpoint is a dict saved with :func:`torch.save`. :func:`save_checkpoint` adds two keys,
``"format_version"`` (:data:`CHECKPOINT_FORMAT_VERSION`) and ``"rlpyt_checkpoint": True``, and
writes atomically: the bytes go to ``<path>.tmp-<pid>`` in the same directory, are flushed and
fsynced, and only then renamed onto ``path``. A crash (or ``kill -9``) at any moment therefore
leaves either the previous checkpoint or the new one, never a torn file.

:func:`load_checkpoint` turns every way a file can be unusable (empty, truncated, random bytes,
someone else's pickle) into a :class:`CheckpointError` naming the file, and
:func:`find_latest_checkpoint` skips such files (with a warning) to resume from the newest valid
snapshot of a run directory.

The same durability rules cover the run's logs: :func:`append_whole` appends a progress row
entirely or not at all (disk full), :func:`read_progress_header` repairs a row torn by a kill
before a resumed run appends, and :func:`truncate_progress_file` drops the rows logged after
the snapshot a run resumes from.
"""

import csv
import glob
import io
import os
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "SNAPSHOT_MODES",
    "CheckpointError",
    "LatestCheckpoint",
    "atomic_write",
    "append_whole",
    "atomic_write_text",
    "check_compatible",
    "compatibility_info",
    "find_latest_checkpoint",
    "load_checkpoint",
    "read_progress_header",
    "save_checkpoint",
    "snapshot_file_names",
    "truncate_progress_file",
]

CHECKPOINT_FORMAT_VERSION = 1
_MARKER = "rlpyt_checkpoint"
_ITR_FILE = re.compile(r"^itr_(\d+)\.pkl$")
SNAPSHOT_MODES = ("none", "last", "all", "gap", "last+gap")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used: unreadable, not ours, or incompatible."""


class LatestCheckpoint(NamedTuple):
    path: str
    checkpoint: dict
    itr: int | None  # the iteration stored in the checkpoint ("itr"), or None


def _fsync_dir(directory: str) -> None:
    # Makes the rename itself durable. Some filesystems refuse fsync on a directory; the
    # rename has happened either way, so that refusal is not worth failing a save over.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temps(path: str) -> None:
    """Delete ``<path>.tmp-<pid>`` files left by processes that no longer exist (kill -9)."""
    for tmp in glob.glob(glob.escape(path) + ".tmp-*"):
        try:
            pid = int(tmp.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # alive (or a reused pid): leave it alone
        except ProcessLookupError:
            pass
        except (PermissionError, OSError):
            continue
        try:
            os.unlink(tmp)
        except OSError:
            pass


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None]) -> str:
    """Call ``write(binary_file)`` on a temp file, fsync it, rename it onto ``path``.

    On any failure the temp file is removed, ``path`` keeps its previous content, and an
    ``OSError`` (I/O errors, e.g. disk full) or ``RuntimeError`` (anything else, e.g. an
    unpicklable object) naming ``path`` and the cause is raised. Returns ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temps(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if not isinstance(err, Exception):  # KeyboardInterrupt, SystemExit: pass through
            raise
        kept = "the previous file is kept" if os.path.exists(path) else "no file was written"
        if isinstance(err, OSError):
            raise OSError(
                err.errno, f"could not write {path} ({err.strerror or err}); {kept}"
            ) from err
        raise RuntimeError(f"could not write {path} ({type(err).__name__}: {err}); {kept}") from err
    _fsync_dir(directory)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def append_whole(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` to ``path`` entirely or not at all.

    On a failed write (e.g. disk full) the file is cut back to its previous length, so a later
    successful append does not follow a torn line; the OSError is re-raised.
    """
    size = os.path.getsize(path) if os.path.exists(path) else 0
    try:
        with open(path, "a", encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError:
        try:
            os.truncate(path, size)
        except OSError:
            pass
        raise


def read_progress_header(path: str | os.PathLike, repair: bool = False) -> list[str] | None:
    """The column names of a ``progress.csv`` (``None`` when absent or empty).

    With ``repair=True`` a partial last row, left by a process killed mid-write, is cut off
    (with a warning) so that rows appended on resume start on a line of their own.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    if repair and data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        os.truncate(path, keep)
        warnings.warn(
            f"{os.fspath(path)}: dropped a partial last row ({len(data) - keep} bytes)",
            RuntimeWarning,
            stacklevel=2,
        )
        data = data[:keep]
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    return next(rows, None)


def truncate_progress_file(path: str | os.PathLike, after_iteration: int):
    """Drop rows of a ``progress.csv`` whose Iteration > ``after_iteration`` (atomically).

    Returns ``(header, n_removed)``; ``(None, 0)`` when the file is absent or empty. Rows with
    no readable Iteration are kept.
    """
    if not os.path.exists(path):
        return None, 0
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return None, 0
    header, body = rows[0], rows[1:]
    if "Iteration" not in header:
        raise ValueError(f"{os.fspath(path)} has no 'Iteration' column to truncate by")
    col = header.index("Iteration")

    def keep(row: list[str]) -> bool:
        try:
            return float(row[col]) <= after_iteration
        except (IndexError, ValueError):
            return True  # nothing says this row is from after the snapshot

    kept = [row for row in body if keep(row)]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header] + kept)
    atomic_write_text(path, buf.getvalue())
    return header, len(body) - len(kept)


def snapshot_file_names(itr: int, mode: str, gap: int = 1) -> list[str]:
    """The snapshot files written at ``itr`` under ``mode`` (see :data:`SNAPSHOT_MODES`).

    ``"last"``: ``params.pkl`` every itr; ``"all"``: ``itr_{itr}.pkl`` every itr; ``"gap"``:
    ``itr_{itr}.pkl`` at itr 0 and whenever ``(itr + 1) % gap == 0`` (the original rlpyt rule);
    ``"last+gap"``: both ``params.pkl`` and the gap files; ``"none"``: nothing.
    """
    if mode not in SNAPSHOT_MODES:
        raise ValueError(f"snapshot_mode {mode!r} is not one of {SNAPSHOT_MODES}")
    if int(gap) < 1:
        raise ValueError(f"snapshot_gap must be >= 1, got {gap}")
    names = ["params.pkl"] if mode in ("last", "last+gap") else []
    on_gap = mode in ("gap", "last+gap") and (itr == 0 or (itr + 1) % gap == 0)
    if mode == "all" or on_gap:
        names.append(f"itr_{itr}.pkl")
    return names


def save_checkpoint(path: str | os.PathLike, obj: Mapping) -> str:
    """Save the dict ``obj`` (plus the format keys) to ``path`` atomically; return ``path``."""
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"save_checkpoint({os.fspath(path)!r}): expected a dict of snapshot contents, "
            f"got {type(obj).__name__}"
        )
    payload = dict(obj)  # never modify the caller's dict
    payload["format_version"] = CHECKPOINT_FORMAT_VERSION
    payload[_MARKER] = True
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`.

    ``map_location="cpu"`` (the default) makes checkpoints saved on a GPU load on a CPU-only
    machine. Raises ``FileNotFoundError`` when the file is absent and :class:`CheckpointError`
    when it is empty, truncated, or not an rlpyt checkpoint.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)  # FileNotFoundError names the path
    if size == 0:
        raise CheckpointError(
            f"checkpoint {path} is empty (0 bytes): its write never completed, "
            "or it is not a checkpoint"
        )
    try:
        # weights_only=False: snapshots hold our own namedtuples, numpy arrays and RNG states,
        # which the weights-only unpickler rejects. Only load checkpoints you wrote yourself.
        obj = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {path} ({size} bytes) is truncated or not a checkpoint: "
            f"{type(err).__name__}: {err}"
        ) from err
    if not isinstance(obj, dict) or obj.get(_MARKER) is not True:
        raise CheckpointError(
            f"{path} is not an rlpyt checkpoint (no {_MARKER!r} marker; it holds a "
            f"{type(obj).__name__}): write checkpoints with save_checkpoint()"
        )
    return obj


def _lookup(checkpoint: Mapping, field: str) -> Any:
    """``checkpoint[field]``, where a dotted ``field`` may reach into nested dicts."""
    if field in checkpoint:
        return checkpoint[field]
    node: Any = checkpoint
    for part in field.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(field)
        node = node[part]
    return node


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. arrays of different shapes, or an ambiguous truth value
        return repr(a) == repr(b)


def check_compatible(checkpoint: Mapping, expected: Mapping) -> None:
    """Raise :class:`CheckpointError` listing every field where ``checkpoint`` differs.

    ``expected`` maps field names (dotted names reach into nested dicts) to the values the
    current run has, e.g. ``compatibility_info(env_spaces, agent, algo)``. The format version
    is always checked. Each mismatch reads ``"field: saved X, current Y"``.
    """
    wanted = {"format_version": CHECKPOINT_FORMAT_VERSION, **expected}
    problems = []
    for field, current in wanted.items():
        try:
            saved = _lookup(checkpoint, field)
        except KeyError:
            problems.append(f"{field}: saved <missing>, current {current!r}")
            continue
        if not _same(saved, current):
            problems.append(f"{field}: saved {saved!r}, current {current!r}")
    if problems:
        raise CheckpointError(
            "checkpoint does not match the current setup:\n  " + "\n  ".join(problems)
        )


def _qualname(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def compatibility_info(env_spaces: Any = None, agent: Any = None, algo: Any = None) -> dict:
    """The fields a snapshot stores so that :func:`check_compatible` can vet a resume.

    Spaces are compared by ``repr``; the agent, its model and the algorithm by class name.
    """
    info = {}
    if env_spaces is not None:
        info["spaces"] = repr(env_spaces)
    if agent is not None:
        info["agent_class"] = _qualname(agent)
        if agent.model is not None:
            info["model_class"] = _qualname(agent.model)
    if algo is not None:
        info["algo_class"] = _qualname(algo)
    return info


def _try_load(path: str) -> dict | None:
    try:
        return load_checkpoint(path)
    except (CheckpointError, OSError) as err:
        warnings.warn(
            f"skipping unusable checkpoint {path}: {err}; falling back to an older one",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def find_latest_checkpoint(run_dir: str | os.PathLike) -> LatestCheckpoint | None:
    """The newest valid snapshot among ``params.pkl`` and ``itr_*.pkl`` in ``run_dir``.

    Newest means the highest iteration stored inside (``"itr"``), else the one in the file
    name; a ``params.pkl`` without a stored iteration counts as newest (it is rewritten every
    iteration). Corrupt files are skipped with a warning naming them. Returns ``None`` when
    no valid checkpoint exists.
    """
    run_dir = os.fspath(run_dir)
    best: LatestCheckpoint | None = None
    last = os.path.join(run_dir, "params.pkl")
    if os.path.exists(last):
        ckpt = _try_load(last)
        if ckpt is not None:
            best = LatestCheckpoint(last, ckpt, ckpt.get("itr"))
            if best.itr is None:
                return best
    numbered = []
    for name in os.listdir(run_dir) if os.path.isdir(run_dir) else []:
        match = _ITR_FILE.match(name)
        if match:
            numbered.append((int(match.group(1)), os.path.join(run_dir, name)))
    for name_itr, path in sorted(numbered, reverse=True):
        if best is not None and best.itr >= name_itr:
            break  # nothing older by name can be newer than what we hold
        ckpt = _try_load(path)
        if ckpt is None:
            continue
        itr = ckpt.get("itr", name_itr)
        if best is None or itr > best.itr:
            best = LatestCheckpoint(path, ckpt, itr)
        break  # the highest-numbered valid file is the newest numbered one
    return best
