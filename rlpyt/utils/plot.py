"""Learning curves of an experiment's settings, from run directories (``progress.csv``).

An experiment directory is a tree of run directories, each holding the rllab/viskit files
``progress.csv`` (one row per logged iteration) and ``params.json`` (the run's config)::

    EXPERIMENT_DIR/<setting dirs ...>/run_<k>/progress.csv, params.json

Runs are grouped into *settings*: by default by their parent directory relative to the
experiment directory (the runs of one setting differ only by seed), or by values in their
params.json, named by dotted key paths (``"algo.learning_rate"``; several keys make a setting
the tuple of their values). Each setting's curves are interpolated onto a common x grid and
drawn as the mean across its runs with a min-max (or +-std) band
(:mod:`rlpyt.utils.runs` finds and groups the runs; :mod:`rlpyt.utils.summary` tabulates
them). Command line::

    python -m rlpyt plot EXPERIMENT_DIR --group-by algo.learning_rate   # one PNG per metric
    python -m rlpyt summary EXPERIMENT_DIR --format csv
"""

import os
import re
import warnings
from collections.abc import Sequence

import numpy as np

from rlpyt.utils.runs import (
    check_columns,
    columns_hint,
    default_metric,
    group_runs,
    read_progress,
    return_metrics,
    runs_under,
)

__all__ = [
    "aggregate_curves",
    "metric_figure",
    "plot_curves",
    "plot_experiment",
]

_X_CANDIDATES = ("CumSteps", "Iteration")  # the default x axis, in order of preference
_ROW_X_LABEL = "progress.csv row"  # the x axis when a run logs neither candidate


# ---------------------------------------------------------------------------- curves


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
    check_columns(tables, [y] + ([x] if x else []))
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
    runs, roots = runs_under(paths)
    tables = {run: read_progress(run) for run in runs}
    groups = group_runs(runs, group_by, roots=roots)
    y = y or default_metric(tables)
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
    runs, roots = runs_under(paths)
    tables = {run: read_progress(run) for run in runs}
    metrics = list(dict.fromkeys(metrics or return_metrics(tables.values())))
    if not metrics:
        raise KeyError(
            f"no return column (*ReturnAverage) to plot; choose --metrics from "
            f"{columns_hint(tables)}"
        )
    check_columns(tables, metrics + ([x] if x else []))
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
