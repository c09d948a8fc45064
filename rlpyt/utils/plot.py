"""Learning curves and result tables from run directories (``progress.csv`` + ``params.json``).

An experiment directory is a tree of run directories, each holding the rllab/viskit files
``progress.csv`` (one row per logged iteration) and ``params.json`` (the run's config)::

    EXPERIMENT_DIR/<setting dirs ...>/run_<k>/progress.csv, params.json

Runs are grouped into *settings*: by default by their parent directory relative to the
experiment directory (the runs of one setting differ only by seed), or by values in their
params.json, named by dotted key paths (``"algo.learning_rate"``; several keys make a setting
the tuple of their values). Each setting's curves are interpolated onto a common x grid and
drawn as the mean across its runs with a min-max (or +-std) band; :func:`summarize` gives the
final and best return and the speed of each setting. Command line::

    python -m rlpyt plot EXPERIMENT_DIR --group-by algo.learning_rate   # one PNG per metric
    python -m rlpyt summary EXPERIMENT_DIR --format csv
"""

import csv
import difflib
import io
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "SummaryRow",
    "aggregate_curves",
    "find_runs",
    "format_summary",
    "group_runs",
    "metric_figure",
    "plot_curves",
    "plot_experiment",
    "read_progress",
    "return_metrics",
    "summarize",
]

# Columns the runners log per trajectory statistic (TrajInfo.Return, .DiscountedReturn and
# AtariTrajInfo.GameScore through record_tabular_misc_stat), possibly behind a tabular prefix.
_RETURN_SUFFIXES = ("ReturnAverage", "GameScoreAverage")
_X_CANDIDATES = ("CumSteps", "Iteration")  # the default x axis, in order of preference
_ROW_X_LABEL = "progress.csv row"  # the x axis when a run logs neither candidate
_MISSING = object()  # a params.json key a run lacks
_VARIANT_FILE = "variant_config.json"  # a launched setting's variant, beside its runs


class SummaryRow(NamedTuple):
    """One setting of an experiment; means and stds are across the setting's runs."""

    group: str  # the setting's label
    n_runs: int  # runs of the setting, including ones that have logged no value yet
    final_mean: float  # mean over runs of the last logged (finite) value
    best_mean: float  # mean over runs of each run's best value
    steps_per_second: float  # mean over runs of their speed (see summarize); nan if unknown
    final_std: float = math.nan  # std (ddof 0) over runs of the last logged value
    best_std: float = math.nan  # std (ddof 0) over runs of each run's best value
    metric: str = "ReturnAverage"  # the progress.csv column summarized


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


def _runs_under(paths) -> tuple[list[str], list[str]]:
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


# ---------------------------------------------------------------------------- curves


def return_metrics(tables: Iterable[dict]) -> list[str]:
    """The return columns (``ReturnAverage``, ``DiscountedReturnAverage``, ``GameScoreAverage``
    and prefixed variants) of the progress tables ``tables``, in the order they first appear."""
    found: dict[str, None] = {}
    for columns in tables:
        found.update((key, None) for key in columns if key.endswith(_RETURN_SUFFIXES))
    return list(found)


def _default_metric(tables: dict[str, dict]) -> str:
    metrics = return_metrics(tables.values())
    if not metrics:
        raise KeyError(f"no return column (*ReturnAverage) in the runs: {_columns_hint(tables)}")
    return "ReturnAverage" if "ReturnAverage" in metrics else metrics[0]


def _columns_hint(tables: dict[str, dict], wanted: str | None = None) -> str:
    columns = sorted({key for columns in tables.values() for key in columns})
    close = difflib.get_close_matches(wanted, columns, n=1) if wanted else []
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}their columns: {', '.join(columns) or '(none)'}"


def _check_columns(tables: dict[str, dict], names: Iterable[str]) -> None:
    for name in names:
        if not any(name in columns for columns in tables.values()):
            raise KeyError(
                f"no run's progress.csv has a column {name!r}; {_columns_hint(tables, name)}"
            )


def _xy(columns: dict, x: str | None, y: str) -> tuple[np.ndarray, np.ndarray]:
    ys = columns[y]
    xs = np.arange(ys.size, dtype=float) if x is None else columns[x]
    ok = np.isfinite(xs) & np.isfinite(ys)
    order = np.argsort(xs[ok], kind="stable")
    return xs[ok][order], ys[ok][order]


def aggregate_curves(
    curves: list[tuple[np.ndarray, np.ndarray]], band: str = "minmax", n_points: int | None = None
):
    """Mean and spread of several ``(x, y)`` curves on a common x grid.

    The grid spans the x range that *all* curves cover (no extrapolation), with ``n_points``
    points (default: the longest curve's length); each curve is linearly interpolated onto it.

    Returns ``(grid, mean, low, high)``: ``low/high`` are the min and max across curves
    (``band="minmax"``) or mean -+ std (``band="std"``). A single curve is returned on its
    own x values.
    """
    if band not in ("minmax", "std"):
        raise ValueError(f"band must be 'minmax' or 'std', got {band!r}")
    curves = [(np.asarray(cx, float), np.asarray(cy, float)) for cx, cy in curves]
    curves = [(cx, cy) for cx, cy in curves if cx.size]
    if not curves:
        raise ValueError("aggregate_curves: no curve has any finite point")
    if len(curves) == 1:
        grid = curves[0][0]
    else:
        lo = max(cx[0] for cx, _ in curves)
        hi = min(cx[-1] for cx, _ in curves)
        if hi < lo:
            raise ValueError(f"aggregate_curves: the curves share no x range (from {lo} to {hi})")
        n = n_points or max(cx.size for cx, _ in curves)
        grid = np.linspace(lo, hi, n) if hi > lo else np.array([lo])
    ys = np.stack([np.interp(grid, cx, cy) for cx, cy in curves])
    mean = ys.mean(axis=0)
    if band == "minmax":
        return grid, mean, ys.min(axis=0), ys.max(axis=0)
    std = ys.std(axis=0)
    return grid, mean, mean - std, mean + std


def metric_figure(
    groups: dict[str, list[str]],
    y: str,
    x: str | None = None,
    band: str = "minmax",
    title: str | None = None,
    tables: dict[str, dict] | None = None,
):
    """A matplotlib Figure of ``y`` against ``x``: per setting one line, the mean of its runs,
    and a band (``"minmax"`` or ``"std"``) when it has several.

    ``groups``: settings as :func:`group_runs` returns them. ``x=None``: ``CumSteps``, else
    ``Iteration``, whichever every run logs, else the row number. Runs of a setting are
    interpolated onto the x range they share. Runs without the column, or with no finite value
    yet, are left out (a warning names them); ``y`` in no run is a KeyError. ``tables``: the
    runs' :func:`read_progress` columns when already read.
    """
    # The object-oriented API with the Agg canvas: no display needed, and the caller's pyplot
    # backend (e.g. in a notebook) is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if band not in ("minmax", "std"):
        raise ValueError(f"band must be 'minmax' or 'std', got {band!r}")
    runs = [run for members in groups.values() for run in members]
    if tables is None:
        tables = {run: read_progress(run) for run in runs}
    _check_columns(tables, [y] + ([x] if x else []))
    if x is None:
        logged = [tables[run] for run in runs if y in tables[run]]
        x = next((c for c in _X_CANDIDATES if all(c in columns for columns in logged)), None)
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, members in groups.items():
        curves = []
        for run in members:
            missing = [key for key in (x, y) if key is not None and key not in tables[run]]
            if missing:
                warnings.warn(
                    f"run {run} left out of the {y} plot: no column {missing[0]!r}",
                    stacklevel=2,
                )
                continue
            curve = _xy(tables[run], x, y)
            if curve[0].size:  # no finite value yet (e.g. no episode finished): left out
                curves.append(curve)
        try:
            grid, mean, low, high = aggregate_curves(curves, band)
        except ValueError as err:
            warnings.warn(f"setting {label!r} left out of the {y} plot: {err}", stacklevel=2)
            continue
        (line,) = ax.plot(grid, mean, label=f"{label} (n={len(curves)})")
        if len(curves) > 1:
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.set_xlabel(x or _ROW_X_LABEL)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    if ax.lines:
        spread = "min-max" if band == "minmax" else "+-1 std"
        ax.legend(
            fontsize="small", title=f"mean, band {spread} across runs", title_fontsize="small"
        )
    else:
        ax.text(0.5, 0.5, f"no finite {y} values yet", ha="center", transform=ax.transAxes)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _save(fig, out: str | os.PathLike) -> str:
    out = os.fspath(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, format="png", dpi=120)
    return out


def _file_name(metric: str) -> str:
    return (re.sub(r"[^A-Za-z0-9._-]+", "_", metric).strip("_") or "metric") + ".png"


def plot_curves(
    paths,
    x: str | None = None,
    y: str | None = None,
    out: str | os.PathLike = "curves.png",
    group_by: str | Sequence[str] | None = None,
    title: str | None = None,
    band: str = "minmax",
) -> str:
    """Plot one metric ``y`` (default ``ReturnAverage`` or another return column) against ``x``,
    one line and band per setting (see :func:`metric_figure`); save to ``out`` (PNG).

    ``paths``: run directories or trees of them (see :func:`find_runs`). Returns ``out``.
    """
    runs, roots = _runs_under(paths)
    tables = {run: read_progress(run) for run in runs}
    groups = group_runs(runs, group_by, roots=roots)
    y = y or _default_metric(tables)
    return _save(metric_figure(groups, y, x, band, title, tables), out)


def plot_experiment(
    paths,
    metrics: Sequence[str] | None = None,
    x: str | None = None,
    group_by: str | Sequence[str] | None = None,
    out_dir: str | os.PathLike | None = None,
    band: str = "minmax",
    title: str | None = None,
) -> list[str]:
    """One PNG per metric, ``out_dir/<metric>.png``; returns the paths written.

    ``metrics`` default: the return columns the runs log (:func:`return_metrics`).
    ``out_dir`` default: ``plots`` in the first of ``paths``. Every metric is checked before
    anything is drawn, so a typo costs no half-written set of plots.
    """
    runs, roots = _runs_under(paths)
    tables = {run: read_progress(run) for run in runs}
    metrics = list(dict.fromkeys(metrics or return_metrics(tables.values())))
    if not metrics:
        raise KeyError(
            f"no return column (*ReturnAverage) to plot; choose --metrics from "
            f"{_columns_hint(tables)}"
        )
    _check_columns(tables, metrics + ([x] if x else []))
    groups = group_runs(runs, group_by, roots=roots)
    if out_dir is None:
        first = roots[0] if os.path.isdir(roots[0]) else os.path.dirname(roots[0])
        out_dir = os.path.join(first, "plots")
    names = [_file_name(metric) for metric in metrics]
    if len(set(names)) < len(names):
        raise ValueError(f"metrics {metrics} would share PNG file names {names}: plot them apart")
    written = []
    for metric, name in zip(metrics, names):
        fig = metric_figure(groups, metric, x, band, title, tables)
        written.append(_save(fig, os.path.join(os.fspath(out_dir), name)))
    return written


# ---------------------------------------------------------------------------- summary


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _mean_std(values: list[float]) -> tuple[float, float]:
    return (float(np.mean(values)), float(np.std(values))) if values else (math.nan, math.nan)


def _steps_per_second(columns: dict) -> float:
    """The run's mean ``StepsPerSecond``; without it, last ``CumSteps`` / last ``CumTime (s)``."""
    speeds = _finite(columns.get("StepsPerSecond", np.array([])))
    if speeds.size:
        return float(speeds.mean())
    steps, seconds = columns.get("CumSteps"), columns.get("CumTime (s)")
    if steps is None or seconds is None:
        return math.nan
    ok = np.isfinite(steps) & np.isfinite(seconds) & (seconds > 0)
    return float(steps[ok][-1] / seconds[ok][-1]) if ok.any() else math.nan


def summarize(
    paths, group_by: str | Sequence[str] | None = None, y: str | None = None
) -> list[SummaryRow]:
    """One :class:`SummaryRow` per setting (sorted as :func:`group_runs` sorts them).

    ``y``: the return column (default ``ReturnAverage``, else another return column). Final
    is each run's last finite value, best its largest; runs still in progress count with what
    they have logged, and runs with no value yet are left out of those means. Steps per second:
    a run's mean ``StepsPerSecond`` (the runners exclude evaluation time from it), or its last
    ``CumSteps / CumTime (s)`` when that column is absent.
    """
    runs, roots = _runs_under(paths)
    tables = {run: read_progress(run) for run in runs}
    y = y or _default_metric(tables)
    _check_columns(tables, [y])
    rows = []
    for label, members in group_runs(runs, group_by, roots=roots).items():
        finals, bests, speeds = [], [], []
        for run in members:
            values = _finite(tables[run].get(y, np.array([])))
            if values.size:
                finals.append(values[-1])
                bests.append(values.max())
            speed = _steps_per_second(tables[run])
            if not math.isnan(speed):
                speeds.append(speed)
        final_mean, final_std = _mean_std(finals)
        best_mean, best_std = _mean_std(bests)
        speed = _mean_std(speeds)[0]
        rows.append(
            SummaryRow(label, len(members), final_mean, best_mean, speed, final_std, best_std, y)
        )
    return rows


_FIELDS = ("setting", "runs", "metric", "final_mean", "final_std", "best_mean", "best_std")


def _records(rows: list[SummaryRow]) -> list[dict]:
    def number(value: float):
        return None if math.isnan(value) else value

    return [
        {
            "setting": row.group,
            "runs": row.n_runs,
            "metric": row.metric,
            "final_mean": number(row.final_mean),
            "final_std": number(row.final_std),
            "best_mean": number(row.best_mean),
            "best_std": number(row.best_std),
            "steps_per_second": number(row.steps_per_second),
        }
        for row in rows
    ]


def format_summary(rows: list[SummaryRow], fmt: str = "table") -> str:
    """``rows`` as an aligned text table, CSV (unknown values empty) or JSON (null)."""
    if fmt == "json":
        return json.dumps(_records(rows), indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        out = csv.DictWriter(buf, [*_FIELDS, "steps_per_second"], lineterminator="\n")
        out.writeheader()
        for record in _records(rows):
            out.writerow({k: "" if v is None else v for k, v in record.items()})
        return buf.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"summary format must be 'table', 'csv' or 'json', got {fmt!r}")
    metric = rows[0].metric if rows else "return"

    def stat(mean: float, std: float) -> str:
        return "-" if math.isnan(mean) else f"{mean:.2f} +- {std:.2f}"

    table = [["setting", "runs", f"final {metric}", f"best {metric}", "steps/s"]]
    for row in rows:
        speed = "-" if math.isnan(row.steps_per_second) else f"{row.steps_per_second:.0f}"
        table.append(
            [
                row.group,
                str(row.n_runs),
                stat(row.final_mean, row.final_std),
                stat(row.best_mean, row.best_std),
                speed,
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths))
        ).rstrip()
        for line in table
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m rlpyt.utils.plot ARGS``: the same as ``python -m rlpyt plot ARGS``."""
    from rlpyt.cli.main import main as cli_main

    return cli_main(["plot", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
