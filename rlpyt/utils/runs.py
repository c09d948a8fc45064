"""Run directories of an experiment: finding them, reading ``progress.csv``, grouping into settings.

An experiment directory is a tree of run directories, each holding the rllab/viskit files
``progress.csv`` (one row per logged iteration) and ``params.json`` (the run's config)::

    EXPERIMENT_DIR/<setting dirs ...>/run_<k>/progress.csv, params.json

Runs are grouped into *settings*: by default by their parent directory relative to the
experiment directory (the runs of one setting differ only by seed), or by values in their
params.json, named by dotted key paths (``"algo.learning_rate"``; several keys make a setting
the tuple of their values). :mod:`rlpyt.utils.plot` draws them, :mod:`rlpyt.utils.summary`
tabulates them.
"""

import csv
import difflib
import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["find_runs", "group_runs", "read_progress", "return_metrics"]

_MISSING = object()  # a params.json key a run lacks
_VARIANT_FILE = "variant_config.json"  # a launched setting's variant, beside its runs
# Columns the runners log per trajectory statistic (TrajInfo.Return, .DiscountedReturn and
# AtariTrajInfo.GameScore through record_tabular_misc_stat), possibly behind a tabular prefix.
_RETURN_SUFFIXES = ("ReturnAverage", "GameScoreAverage")


# ---------------------------------------------------------------------------- reading runs


def _float(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return math.nan  # empty cell (key missing that iteration) or text


def read_progress(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """The columns of ``run_dir/progress.csv`` (or of that csv file) as float arrays.

    Empty or non-numeric cells, and cells missing from a short (partially written) row, are NaN.
    """
    path = os.fspath(run_dir)
    if os.path.isdir(path):
        path = os.path.join(path, "progress.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    table = np.full((len(body), len(header)), np.nan)
    for i, row in enumerate(body):
        for j, cell in enumerate(row[: len(header)]):
            table[i, j] = _float(cell)
    return {key: table[:, j] for j, key in enumerate(header)}


def _as_paths(paths) -> list[str]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    return [os.fspath(path) for path in paths]


_SET_ASIDE_ATTEMPT = re.compile(r"^run_.+\.attempt\d+$")


def find_runs(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Every directory holding a ``progress.csv`` at or below ``paths`` (sorted, unique).

    Directories ``run_<k>.attempt<n>`` (earlier attempts the launcher moved aside) are skipped.
    """
    found = set()
    for path in _as_paths(paths):
        if os.path.isfile(path) and os.path.basename(path) == "progress.csv":
            found.add(os.path.dirname(os.path.abspath(path)))
            continue
        if not os.path.isdir(path):
            raise FileNotFoundError(f"find_runs: {path} is neither a directory nor a progress.csv")
        for root, dirs, files in os.walk(path):
            # Attempts the launcher set aside before restarting a run are not runs.
            dirs[:] = [d for d in dirs if not _SET_ASIDE_ATTEMPT.match(d)]
            if "progress.csv" in files:
                found.add(os.path.abspath(root))
    return sorted(found)


def runs_under(paths) -> tuple[list[str], list[str]]:
    """``(runs, roots)`` for ``paths``; an error naming them when they hold no run."""
    roots = _as_paths(paths)
    if not roots:
        raise ValueError("no experiment directory given")
    runs = find_runs(roots)
    if not runs:
        raise FileNotFoundError(
            f"no runs under {', '.join(roots)}: no directory there holds a progress.csv "
            "(expected EXPERIMENT_DIR/<setting>/run_<k>/progress.csv)"
        )
    return runs, roots


# ---------------------------------------------------------------------------- grouping


def _read_json_dict(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None  # no such file yet, or one being written
    return value if isinstance(value, dict) else None


def _merged(base: dict, over: dict) -> dict:
    merged = dict(base)
    for key, value in over.items():
        both_dicts = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both_dicts else value
    return merged


def _read_params(run_dir: str) -> dict | None:
    """The run's params.json; keys it lacks are taken from the ``variant_config.json`` of its
    setting directory (see rlpyt.utils.launching.variant.save_variant), when there is one."""
    params = _read_json_dict(os.path.join(run_dir, "params.json"))
    variant = _read_json_dict(os.path.join(os.path.dirname(run_dir), _VARIANT_FILE))
    return params if variant is None else _merged(variant, params or {})


def _lookup(params: dict | None, key_path: str):
    node = params
    for part in key_path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _leaf_keys(node, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves of nested dicts: ``{"algo": {"lr": 1}}`` -> ``["algo.lr"]``."""
    if isinstance(node, dict) and node:
        return [key for k, v in node.items() for key in _leaf_keys(v, f"{prefix}{k}.")]
    return [prefix[:-1]] if prefix else []


def _unknown_key(key: str, params: dict[str, dict | None]) -> KeyError:
    keys = sorted({key for p in params.values() if p for key in _leaf_keys(p)})
    if not keys:
        return KeyError(f"--group-by {key}: none of the {len(params)} runs has a params.json")
    close = difflib.get_close_matches(key, keys, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(keys[:30]) + (", ..." if len(keys) > 30 else "")
    return KeyError(
        f"--group-by {key}: no run has this key in its params.json{hint}. Keys there: {shown}"
    )


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _value_order(value) -> tuple:
    """Sort key of a params value: numbers numerically, before text, before missing values."""
    if value is _MISSING:
        return (2, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value))
    return (1, _show(value))


def _natural_order(label: str) -> list:
    """``lr_0.001 < lr_0.01``, ``run_2 < run_10``: numbers inside labels compare as numbers."""
    parts = re.split(r"(\d+(?:\.\d+)?)", label)
    return [float(part) if i % 2 else part for i, part in enumerate(parts)]


def _setting_of(run: str, roots: Sequence[str]) -> str:
    """The run's parent directory relative to the (deepest) root it was found under."""
    parent = os.path.dirname(run)
    roots = [os.path.abspath(r if os.path.isdir(r) else os.path.dirname(r)) for r in roots]
    containing = [r for r in roots if run == r or run.startswith(r + os.sep)]
    if not containing:
        return os.path.basename(parent)
    root = max(containing, key=len)
    # Several roots: keep each one's name, so equal setting names of two experiments stay apart.
    base = os.path.dirname(root) if len(roots) > 1 else root
    rel = os.path.relpath(parent, base)
    if rel == "." or rel.startswith(".."):  # runs right in the root, or the root is a run
        return os.path.basename(parent)
    return rel.replace(os.sep, "/")


def group_runs(
    runs: Iterable[str],
    group_by: str | Sequence[str] | None = None,
    roots: Sequence[str | os.PathLike] | None = None,
) -> dict[str, list[str]]:
    """Group run directories into settings, ``{label: [run_dir, ...]}``, sorted by setting.

    ``group_by=None``: by each run's parent directory, relative to the root in ``roots`` it
    lies under (the experiment directory given on the command line), e.g. ``"lr_0.01"``;
    without ``roots``, by the parent's name. Otherwise by the params.json values at
    ``group_by``, one dotted path into nested dicts (``"algo.learning_rate"``) or several
    (keys params.json lacks are looked up in the ``variant_config.json`` beside the run);
    labels read ``"algo.learning_rate=0.001"`` (several keys joined by ``", "``) and sort
    numerically. A run that lacks a key is grouped under ``key=<missing>`` with a warning
    naming it; a key no run has is a KeyError listing the keys there are.
    """
    runs = [os.path.abspath(run) for run in runs]
    keys = [group_by] if isinstance(group_by, str) else list(group_by or [])
    groups: dict[str, list[str]] = {}
    order: dict[str, tuple] = {}
    if not keys:
        roots = _as_paths(roots) if roots else []
        for run in runs:
            label = _setting_of(run, roots) if roots else os.path.basename(os.path.dirname(run))
            groups.setdefault(label, []).append(run)
            order[label] = tuple(_natural_order(label))
        return {label: groups[label] for label in sorted(groups, key=order.__getitem__)}
    params = {run: _read_params(run) for run in runs}
    for key in keys:
        if runs and all(_lookup(p, key) is _MISSING for p in params.values()):
            raise _unknown_key(key, params)
    for run in runs:
        values = [_lookup(params[run], key) for key in keys]
        for key, value in zip(keys, values):
            if value is _MISSING:
                why = "no readable params.json" if params[run] is None else "no such key"
                warnings.warn(
                    f"run {run}: {why} for --group-by {key}; grouped under {key}=<missing>",
                    stacklevel=2,
                )
        label = ", ".join(
            f"{key}={'<missing>' if value is _MISSING else _show(value)}"
            for key, value in zip(keys, values)
        )
        groups.setdefault(label, []).append(run)
        order[label] = tuple(_value_order(value) for value in values)
    return {label: groups[label] for label in sorted(groups, key=lambda k: (order[k], k))}


# ---------------------------------------------------------------------------- columns


def return_metrics(tables: Iterable[dict]) -> list[str]:
    """The return columns (``ReturnAverage``, ``DiscountedReturnAverage``, ``GameScoreAverage``
    and prefixed variants) of the progress tables ``tables``, in the order they first appear."""
    found: dict[str, None] = {}
    for columns in tables:
        found.update((key, None) for key in columns if key.endswith(_RETURN_SUFFIXES))
    return list(found)


def default_metric(tables: dict[str, dict]) -> str:
    metrics = return_metrics(tables.values())
    if not metrics:
        raise KeyError(f"no return column (*ReturnAverage) in the runs: {columns_hint(tables)}")
    return "ReturnAverage" if "ReturnAverage" in metrics else metrics[0]


def columns_hint(tables: dict[str, dict], wanted: str | None = None) -> str:
    columns = sorted({key for columns in tables.values() for key in columns})
    close = difflib.get_close_matches(wanted, columns, n=1) if wanted else []
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}their columns: {', '.join(columns) or '(none)'}"


def check_columns(tables: dict[str, dict], names: Iterable[str]) -> None:
    for name in names:
        if not any(name in columns for columns in tables.values()):
            raise KeyError(
                f"no run's progress.csv has a column {name!r}; {columns_hint(tables, name)}"
            )
