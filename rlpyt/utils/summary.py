"""Result tables of an experiment: final and best return and speed per setting.

``python -m rlpyt summary EXPERIMENT_DIR [--group-by KEY ...] [--format table|csv|json]``;
settings as in :mod:`rlpyt.utils.runs`.
"""

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from rlpyt.utils.runs import (
    check_columns,
    default_metric,
    group_runs,
    read_progress,
    runs_under,
)

__all__ = ["SummaryRow", "format_summary", "summarize"]


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
    runs, roots = runs_under(paths)
    tables = {run: read_progress(run) for run in runs}
    y = y or default_metric(tables)
    check_columns(tables, [y])
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
