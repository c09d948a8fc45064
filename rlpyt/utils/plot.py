"""Learning curves from run directories (``progress.csv`` + ``params.json``).

Runs are grouped (by their parent directory, or by a params.json key such as
``"algo.learning_rate"``), each group's curves are interpolated onto a common x grid, and the
mean is drawn with a min-max (or +- std) band across the group's runs::

    python -m rlpyt.utils.plot data/local/20260101 --y ReturnAverage --out curves.png
"""

import argparse
import csv
import json
import math
import os
import warnings
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

__all__ = [
    "SummaryRow",
    "aggregate_curves",
    "find_runs",
    "group_runs",
    "plot_curves",
    "read_progress",
    "summarize",
]


class SummaryRow(NamedTuple):
    group: str
    n_runs: int
    final_mean: float  # mean over runs of the last logged value
    best_mean: float  # mean over runs of each run's best value
    steps_per_second: float  # mean over runs of the mean "StepsPerSecond" (nan if absent)


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


def find_runs(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Every directory holding a ``progress.csv`` at or below ``paths`` (sorted, unique)."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    found = set()
    for path in map(os.fspath, paths):
        if os.path.isfile(path) and os.path.basename(path) == "progress.csv":
            found.add(os.path.dirname(os.path.abspath(path)))
            continue
        if not os.path.isdir(path):
            raise FileNotFoundError(f"find_runs: {path} is neither a directory nor a progress.csv")
        for root, _dirs, files in os.walk(path):
            if "progress.csv" in files:
                found.add(os.path.abspath(root))
    return sorted(found)


def _params_value(run_dir: str, key_path: str):
    try:
        with open(os.path.join(run_dir, "params.json"), encoding="utf-8") as f:
            node = json.load(f)
    except (OSError, ValueError):
        return "<no params.json>"
    for part in key_path.split("."):
        if not isinstance(node, dict) or part not in node:
            return "<missing>"
        node = node[part]
    return node


def group_runs(runs: Iterable[str], group_by: str | None = None) -> dict[str, list[str]]:
    """Group run directories into ``{label: [run_dir, ...]}`` (labels sorted).

    ``group_by=None``: by the name of each run's parent directory (the experiment or variant
    directory above ``run_{ID}``). Otherwise by the params.json value at ``group_by``, a dotted
    path into nested dicts (``"algo.learning_rate"``); labels read ``"algo.learning_rate=0.001"``.
    """
    groups: dict[str, list[str]] = {}
    for run in runs:
        if group_by is None:
            label = os.path.basename(os.path.dirname(os.path.abspath(run)))
        else:
            label = f"{group_by}={_params_value(run, group_by)}"
        groups.setdefault(label, []).append(run)
    return dict(sorted(groups.items()))


def _xy(run: str, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    columns = read_progress(run)
    for key in (x, y):
        if key not in columns:
            raise KeyError(f"{run}/progress.csv has no column {key!r}; it has {sorted(columns)}")
    xs, ys = columns[x], columns[y]
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


def plot_curves(
    paths,
    x: str = "CumSteps",
    y: str = "ReturnAverage",
    out: str | os.PathLike = "curves.png",
    group_by: str | None = None,
    title: str | None = None,
    band: str = "minmax",
) -> str:
    """Plot ``y`` against ``x``, one line (mean) and band per group; save to ``out`` (PNG).

    ``paths``: run directories or trees of them (see :func:`find_runs`). Returns ``out``.
    """
    # The object-oriented API with the Agg canvas: no display needed, and the caller's pyplot
    # backend (e.g. in a notebook) is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = group_runs(find_runs(paths), group_by)
    if not groups:
        raise FileNotFoundError(f"plot_curves: no progress.csv found under {paths}")
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    spread = "min-max" if band == "minmax" else "+-1 std"
    for label, runs in groups.items():
        # Runs with no finite point yet (e.g. no episode finished) are left out, not fatal.
        curves = [c for c in (_xy(r, x, y) for r in runs) if c[0].size]
        try:
            grid, mean, low, high = aggregate_curves(curves, band)
        except ValueError as err:
            warnings.warn(f"plot_curves: group {label!r} left out: {err}", stacklevel=2)
            continue
        (line,) = ax.plot(grid, mean, label=f"{label} (n={len(curves)}, band: {spread})")
        if len(curves) > 1:
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, f"no finite {y} values yet", ha="center", transform=ax.transAxes)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = os.fspath(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, format="png", dpi=120)
    return out


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def summarize(paths, group_by: str | None = None, y: str = "ReturnAverage") -> list[SummaryRow]:
    """One :class:`SummaryRow` per group: final and best ``y`` and StepsPerSecond, run means."""
    rows = []
    for label, runs in group_runs(find_runs(paths), group_by).items():
        finals, bests, speeds = [], [], []
        for run in runs:
            columns = read_progress(run)
            values = _finite(columns.get(y, np.array([])))
            if values.size:
                finals.append(values[-1])
                bests.append(values.max())
            sps = _finite(columns.get("StepsPerSecond", np.array([])))
            if sps.size:
                speeds.append(sps.mean())
        rows.append(SummaryRow(label, len(runs), _mean(finals), _mean(bests), _mean(speeds)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Plot learning curves of rlpyt runs.")
    parser.add_argument("paths", nargs="+", help="run directories or trees of them")
    parser.add_argument("--x", default="CumSteps")
    parser.add_argument("--y", default="ReturnAverage")
    parser.add_argument("--out", default="curves.png")
    parser.add_argument("--group-by", default=None, help="params.json key, e.g. algo.learning_rate")
    parser.add_argument("--band", choices=("minmax", "std"), default="minmax")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    out = plot_curves(args.paths, args.x, args.y, args.out, args.group_by, args.title, args.band)
    for row in summarize(args.paths, args.group_by, args.y):
        print(
            f"{row.group}: {row.n_runs} runs, final {row.final_mean:.4g}, "
            f"best {row.best_mean:.4g}, {row.steps_per_second:.4g} steps/s"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
