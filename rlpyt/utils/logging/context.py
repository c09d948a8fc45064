"""``logger_context``: one run's log directory, with its logger current inside the block.

Layout (as in the original rlpyt)::

    {log_dir}/run_{run_ID}/progress.csv   one row per logged iteration
                          /params.json    log_params plus name and run_ID
                          /debug.log      text log
                          /params.pkl, itr_{itr}.pkl   snapshots (per snapshot_mode)

A relative ``log_dir`` is taken relative to the current working directory (never inside the
installed package, unlike the original). A run directory that already holds a
``progress.csv`` is never reused silently: pass ``resume=True`` to continue that run, or
``exist_ok=True`` to start it over.
"""

import datetime
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

from rlpyt.utils.logging import logger as logger_module
from rlpyt.utils.logging.logger import Logger

__all__ = ["get_log_dir", "logger_context"]


def get_log_dir(experiment_name: str, root: str | os.PathLike = "data") -> str:
    """``{root}/local/<yyyymmdd>/{experiment_name}``, the original's default layout."""
    yyyymmdd = datetime.datetime.today().strftime("%Y%m%d")
    return os.path.join(os.fspath(root), "local", yyyymmdd, experiment_name)


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _has_rows(progress: str) -> bool:
    """True when progress.csv holds at least one data row (a header alone is no run)."""
    try:
        with open(progress) as f:
            return len(f.readlines(4096)) > 1
    except FileNotFoundError:
        return False


@contextmanager
def logger_context(
    log_dir: str | os.PathLike,
    run_ID: int | str,
    name: str,
    log_params: dict | None = None,
    snapshot_mode: str = "none",
    override_prefix: bool = False,
    use_summary_writer: bool = False,
    snapshot_gap: int | None = None,
    resume: bool = False,
    exist_ok: bool = False,
) -> Iterator[Logger]:
    """Log into ``{log_dir}/run_{run_ID}`` for the duration of the block; yields the Logger.

    Args:
        log_dir: experiment directory (relative paths: relative to the working directory).
        run_ID: run number; the run directory is ``run_{run_ID}``.
        name: experiment name, stored in params.json and put before log lines.
        log_params: configuration to store in params.json (values JSON cannot hold are
            written as ``str``).
        snapshot_mode: ``"none"``, ``"last"``, ``"all"``, ``"gap"`` or ``"last+gap"``.
        override_prefix: accepted for compatibility; the original used it to keep ``log_dir``
            outside its package data folder, which is always the case here.
        use_summary_writer: also write TensorBoard scalars into the run directory.
        snapshot_gap: iterations between ``"gap"`` snapshots (default 1).
        resume: continue an existing run: append to its progress.csv, keep its params.json
            (differing ``log_params`` go to params_resumed.json).
        exist_ok: reuse a run directory that holds a previous run's logs, starting them over.

    Raises:
        FileExistsError: the run directory already holds a progress.csv and neither
            ``resume`` nor ``exist_ok`` is set.
    """
    del override_prefix  # nothing to override: see the docstring
    run_dir = os.path.abspath(os.path.join(os.fspath(log_dir), f"run_{run_ID}"))
    progress = os.path.join(run_dir, "progress.csv")
    if _has_rows(progress) and not (resume or exist_ok):
        raise FileExistsError(
            f"{run_dir} already holds a run (progress.csv exists). Pass resume=True to "
            "continue it, exist_ok=True to start it over, or choose another run_ID or log_dir."
        )
    os.makedirs(run_dir, exist_ok=True)
    logger = Logger(
        run_dir,
        snapshot_mode=snapshot_mode,
        snapshot_gap=1 if snapshot_gap is None else snapshot_gap,
        use_summary_writer=use_summary_writer,
        resume=resume,
        log_prefix=f"{name}_{run_ID} ",
    )
    try:  # from here on, close the logger (TensorBoard) whatever happens
        params = dict(log_params or {})
        params["name"] = name
        params["run_ID"] = run_ID
        params_path = os.path.join(run_dir, "params.json")
        if resume and os.path.exists(params_path):
            # Compare through a JSON round trip, so tuples vs lists or classes vs their str
            # do not count as a change.
            now = json.loads(json.dumps(params, default=str))
            if _read_json(params_path) != now:
                logger.log_params(params, filename="params_resumed.json")
                logger.log(
                    "resumed with log_params that differ from params.json: see params_resumed.json"
                )
        else:
            logger.log_params(params)
        logger.log(f"logging to {run_dir}" + (" (resumed)" if resume else ""))
        logger_module.push_logger(logger)
        yield logger
    finally:
        # Pop exactly our logger, even if the block left others pushed above it.
        try:
            logger_module.pop_logger(logger)
        except ValueError:
            pass  # the block already popped it
        logger.close()
