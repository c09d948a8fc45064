"""Run logging: ``progress.csv``, ``params.json``, ``debug.log``, console, TensorBoard, snapshots.

A :class:`Logger` writes one run into an explicit run directory; several may exist in one
process. The module-level functions of the original rlpyt (``logger.log``,
``logger.record_tabular``, ``logger.dump_tabular``, ``logger.save_itr_params``...) act on the
*current* logger, the top of a stack that :func:`~rlpyt.utils.logging.context.logger_context`
pushes and pops. With no current logger they still work: lines and tables go to stdout and no
file is written, so library code never fails outside a context.

``progress.csv`` keeps the columns of its first row: a key first recorded later is shown on
the console and TensorBoard but left out of the CSV (with one warning), and a missing key is
written as an empty cell, so columns never shift. Failed writes to the CSV or the text log
(disk full) warn once and training continues; a failed snapshot raises (see
:mod:`rlpyt.utils.checkpoint`, which writes snapshots atomically).
"""

import csv
import datetime
import functools
import inspect
import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from numbers import Number
from typing import Any

import numpy as np

from rlpyt.utils.checkpoint import (
    append_whole,
    atomic_write_text,
    read_progress_header,
    save_checkpoint,
    snapshot_file_names,
    truncate_progress_file,
)

_COLORS = dict(gray=30, red=31, green=32, yellow=33, blue=34, magenta=35, cyan=36, white=37)


def _scalar(value: Any) -> Any:
    """Python scalar for numpy/torch scalars (``str(tensor(1.))`` is not a CSV cell)."""
    # Any value a user logs: numpy and torch scalars have ndim.
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def _csv_cell(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)  # shortest exact float


def _console_cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


class Logger:
    """Logs of one run, kept in ``run_dir`` (``None``: console only, no files).

    Args:
        run_dir: the run directory (created if needed).
        snapshot_mode: ``"none"``, ``"last"`` (``params.pkl``), ``"all"`` (``itr_{itr}.pkl``),
            ``"gap"`` (``itr_{itr}.pkl`` at itr 0 and every ``snapshot_gap``-th itr) or
            ``"last+gap"`` (both ``params.pkl`` and the gap files).
        snapshot_gap: iterations between ``"gap"`` snapshots.
        use_summary_writer: also write TensorBoard scalars into ``run_dir``.
        resume: append to an existing ``progress.csv``, keeping its columns; otherwise
            ``progress.csv`` and ``debug.log`` start empty.
        log_prefix: text put before every log line (e.g. ``"name_0 "``).
        console: echo log lines and tables to stdout.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike | None = None,
        *,
        snapshot_mode: str = "none",
        snapshot_gap: int = 1,
        use_summary_writer: bool = False,
        resume: bool = False,
        log_prefix: str = "",
        console: bool = True,
    ):
        self.run_dir = None if run_dir is None else os.path.abspath(os.fspath(run_dir))
        self.snapshot_dir = self.run_dir
        self.console = console
        self.log_tabular_only = False
        self._prefixes = [log_prefix] if log_prefix else []
        self._tabular_prefixes: list[str] = []
        self._tabular: dict[str, Any] = {}
        self._header: list[str] | None = None  # the columns of progress.csv
        self._header_on_disk = False
        self._n_dumps = 0
        self._warned: set[str] = set()
        self._writer = None
        snapshot_file_names(0, snapshot_mode, snapshot_gap)  # validates both
        self.snapshot_mode, self.snapshot_gap = snapshot_mode, int(snapshot_gap)
        if self.run_dir is None:
            self.progress_path = self.text_path = None
            return
        os.makedirs(self.run_dir, exist_ok=True)
        self.progress_path = os.path.join(self.run_dir, "progress.csv")
        self.text_path = os.path.join(self.run_dir, "debug.log")
        if resume:  # adopt the existing columns
            self._header = read_progress_header(self.progress_path, repair=True)
            self._header_on_disk = self._header is not None
        else:
            for path in (self.progress_path, self.text_path):
                self._guarded(path, lambda p: open(p, "w").close())
        if use_summary_writer:
            self._open_summary_writer()

    # -- failure handling ------------------------------------------------------------------

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def _guarded(self, path: str, write) -> bool:
        """Run ``write(path)``; an OSError (disk full...) warns once per file, never raises."""
        try:
            write(path)
            return True
        except OSError as err:
            self._warn_once(
                path, f"logging to {path} failed ({err}); training continues without it"
            )
            return False

    def _open_summary_writer(self) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            self._warn_once("tensorboard", f"TensorBoard logging is off: {err}")
            return
        self._writer = SummaryWriter(log_dir=self.run_dir)

    # -- text log ----------------------------------------------------------------------------

    def log(self, msg: Any, with_prefix: bool = True, with_timestamp: bool = True, color=None):
        """One line to the console and ``debug.log``, with timestamp and prefix."""
        if self.log_tabular_only:
            return
        self._emit([str(msg)], with_prefix, with_timestamp, color)

    def _emit(self, lines: list[str], with_prefix=True, with_timestamp=True, color=None):
        head = "".join(self._prefixes) if with_prefix else ""
        if with_timestamp:
            stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
            head = f"{stamp} | {head}"
        lines = [head + line for line in lines]
        if self.console:
            text = "\n".join(lines)
            if color is not None:
                text = f"\x1b[{_COLORS[color]}m{text}\x1b[0m"
            print(text, flush=True)
        if self.text_path is not None:
            data = "".join(line + "\n" for line in lines)
            self._guarded(self.text_path, lambda p: append_whole(p, data))

    def push_prefix(self, prefix: str) -> None:
        self._prefixes.append(prefix)

    def pop_prefix(self) -> None:
        self._prefixes.pop()

    @contextmanager
    def prefix(self, prefix: str) -> Iterator[None]:
        """Put ``prefix`` before log lines written inside the block."""
        self.push_prefix(prefix)
        try:
            yield
        finally:
            self.pop_prefix()

    # -- tabular -----------------------------------------------------------------------------

    def record_tabular(self, key: str, value: Any) -> None:
        """Record ``value`` under ``key`` (with the tabular prefix) for the next dump."""
        self._tabular["".join(self._tabular_prefixes) + str(key)] = _scalar(value)

    def record_tabular_misc_stat(self, key: str, values: Iterable, placement: str = "back"):
        """Record Average, Std, Median, Min, Max of ``values`` (NaN when empty).

        ``placement="back"`` gives ``keyAverage`` (e.g. ``ReturnAverage``), ``"front"`` gives
        ``Averagekey``.
        """
        if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU
            values = values.detach().cpu().numpy()
        else:  # a list of python/numpy/torch scalars, or a generator
            values = [_scalar(v) for v in values]
        values = np.asarray(values, dtype=float)
        stats = ("Average", np.mean), ("Std", np.std), ("Median", np.median)
        stats += ("Min", np.min), ("Max", np.max)
        for name, fn in stats:
            column = key + name if placement == "back" else name + key
            self.record_tabular(column, float(fn(values)) if values.size else math.nan)

    def push_tabular_prefix(self, prefix: str) -> None:
        self._tabular_prefixes.append(prefix)

    def pop_tabular_prefix(self) -> None:
        self._tabular_prefixes.pop()

    @contextmanager
    def tabular_prefix(self, prefix: str) -> Iterator[None]:
        """Put ``prefix`` before tabular keys recorded inside the block."""
        self.push_tabular_prefix(prefix)
        try:
            yield
        finally:
            self.pop_tabular_prefix()

    def dump_tabular(self, with_prefix: bool = False, with_timestamp: bool = False) -> None:
        """Write the recorded row to the console, ``progress.csv`` and TensorBoard; clear it."""
        if not self._tabular:
            return
        row, self._tabular = self._tabular, {}
        width = max(len(k) for k in row)
        cells = {k: _console_cell(v) for k, v in row.items()}
        value_width = max(len(c) for c in cells.values())
        rule = "-" * (width + value_width + 3)
        table = [rule] + [f"{k:<{width}}   {c:>{value_width}}" for k, c in cells.items()] + [rule]
        self._emit(table, with_prefix, with_timestamp)
        if self.progress_path is not None:
            self._write_progress_row(row)
        if self._writer is not None:
            step = row.get("CumSteps", row.get("Iteration", self._n_dumps))
            step = int(step) if isinstance(step, Number) and math.isfinite(step) else self._n_dumps
            for key, value in row.items():
                if isinstance(value, Number) and not isinstance(value, bool):
                    self._writer.add_scalar(key, value, global_step=step)
            self._writer.flush()
        self._n_dumps += 1

    def _write_progress_row(self, row: dict) -> None:
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        if self._header is None:
            self._header = list(row)
        new_keys = [k for k in row if k not in self._header]
        for key in new_keys:
            self._warn_once(
                "column " + key,
                f"tabular key {key!r} first appeared after {self.progress_path} got its "
                "columns; it is shown on the console/TensorBoard but not written to the CSV "
                "(record every key from the first iteration on, e.g. as NaN)",
            )
        if not self._header_on_disk:
            out.writerow(self._header)
        out.writerow(["" if k not in row else _csv_cell(row[k]) for k in self._header])
        if self._guarded(self.progress_path, lambda p: append_whole(p, buf.getvalue())):
            self._header_on_disk = True

    def truncate_progress(self, after_iteration: int) -> int:
        """Drop ``progress.csv`` rows whose Iteration > ``after_iteration``; return how many.

        A run resumed from the snapshot of itr k calls ``truncate_progress(k)`` so the rows it
        writes again do not appear twice. The file is replaced atomically.
        """
        if self.progress_path is None:
            return 0
        header, removed = truncate_progress_file(self.progress_path, after_iteration)
        if header is not None:
            self._header, self._header_on_disk = header, True
        return removed

    # -- params and snapshots ----------------------------------------------------------------

    def log_params(self, params: dict, filename: str = "params.json") -> str | None:
        """Write ``params`` as JSON into the run dir (non-JSON values as ``str``)."""
        if self.run_dir is None:
            return None
        path = os.path.join(self.run_dir, filename)
        text = json.dumps(params, indent=2, sort_keys=True, default=str)
        return atomic_write_text(path, text + "\n")

    def set_snapshot_mode(self, mode: str) -> None:
        snapshot_file_names(0, mode, self.snapshot_gap)  # validates
        self.snapshot_mode = mode

    def set_snapshot_gap(self, gap: int) -> None:
        snapshot_file_names(0, self.snapshot_mode, gap)  # validates
        self.snapshot_gap = int(gap)

    def set_snapshot_dir(self, directory: str | os.PathLike) -> None:
        self.snapshot_dir = os.path.abspath(os.fspath(directory))
        os.makedirs(self.snapshot_dir, exist_ok=True)

    def get_snapshot_mode(self) -> str:
        return self.snapshot_mode

    def get_snapshot_gap(self) -> int:
        return self.snapshot_gap

    def get_snapshot_dir(self) -> str | None:
        return self.snapshot_dir

    def save_itr_params(self, itr: int, params: dict) -> list[str]:
        """Snapshot ``params`` (a dict) for ``itr`` atomically; return the paths written.

        A failed write raises (the previous snapshot stays intact).
        """
        if self.snapshot_dir is None:
            return []
        names = snapshot_file_names(itr, self.snapshot_mode, self.snapshot_gap)
        paths = [os.path.join(self.snapshot_dir, name) for name in names]
        for path in paths:
            save_checkpoint(path, params)
        return paths

    def get_tf_summary_writer(self):  # the TensorBoard SummaryWriter, or None
        return self._writer

    def close(self) -> None:
        """Flush and close TensorBoard; idempotent."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "Logger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- module level: the original rlpyt API, acting on the current logger ----------------------

_STACK: list[Logger] = []
_FALLBACK = Logger(None)  # used outside any logger_context: console only


def push_logger(logger: Logger) -> None:
    _STACK.append(logger)


def pop_logger(logger: Logger | None = None) -> Logger:
    """Remove the current logger, or ``logger`` and any pushed after it; return it."""
    if logger is None:
        return _STACK.pop()
    index = next((i for i, x in enumerate(_STACK) if x is logger), None)
    if index is None:
        raise ValueError("pop_logger: that logger is not on the stack")
    del _STACK[index:]
    return logger


def current_logger() -> Logger | None:
    """The logger the module-level functions write to (``None`` outside any context)."""
    return _STACK[-1] if _STACK else None


def _active() -> Logger:
    return _STACK[-1] if _STACK else _FALLBACK


def _delegate(name: str):
    """A module-level function calling method ``name`` of the current logger."""

    # The module-level functions forward to the Logger's methods, by name.
    method = getattr(Logger, name)

    @functools.wraps(method)
    def call(*args, **kwargs):
        return getattr(_active(), name)(*args, **kwargs)

    signature = inspect.signature(method)  # shown without ``self``
    call.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return call


log = _delegate("log")
record_tabular = _delegate("record_tabular")
record_tabular_misc_stat = _delegate("record_tabular_misc_stat")
dump_tabular = _delegate("dump_tabular")
push_prefix = _delegate("push_prefix")
pop_prefix = _delegate("pop_prefix")
prefix = _delegate("prefix")
push_tabular_prefix = _delegate("push_tabular_prefix")
pop_tabular_prefix = _delegate("pop_tabular_prefix")
tabular_prefix = _delegate("tabular_prefix")
save_itr_params = _delegate("save_itr_params")
log_params = _delegate("log_params")
truncate_progress = _delegate("truncate_progress")
get_snapshot_dir = _delegate("get_snapshot_dir")
set_snapshot_dir = _delegate("set_snapshot_dir")
get_snapshot_mode = _delegate("get_snapshot_mode")
set_snapshot_mode = _delegate("set_snapshot_mode")
get_snapshot_gap = _delegate("get_snapshot_gap")
set_snapshot_gap = _delegate("set_snapshot_gap")
get_tf_summary_writer = _delegate("get_tf_summary_writer")


def set_log_tabular_only(log_tabular_only: bool) -> None:
    """Suppress plain log lines (tables are still shown), as in the original."""
    _active().log_tabular_only = bool(log_tabular_only)
