"""``python -m rlpyt plot`` and ``summary``: learning curves and tables of finished runs.

They read CSV and JSON files only, so torch is never imported.
"""

import argparse
import contextlib
import sys
import warnings

__all__ = ["add_results_commands", "results_command"]


def add_results_commands(sub) -> None:
    """The ``plot`` and ``summary`` subcommands, added to the subparsers ``sub``."""
    plot = sub.add_parser(
        "plot",
        help="learning curves, one PNG per metric: per setting the mean and spread across runs",
    )
    _add_results_arguments(plot)
    plot.add_argument(
        "--metrics",
        action="extend",
        nargs="+",
        default=[],
        metavar="COLUMN",
        help="progress.csv columns to plot, one PNG each (default: the return columns, "
        "e.g. ReturnAverage)",
    )
    plot.add_argument("--y", metavar="COLUMN", help="one more column to plot (as --metrics)")
    plot.add_argument(
        "--x", help="x axis column (default CumSteps, else Iteration, else the row number)"
    )
    plot.add_argument("--band", choices=("minmax", "std"), default="minmax", help="spread shown")
    plot.add_argument("--out-dir", help="where the PNGs go (default EXPERIMENT_DIR/plots)")
    plot.add_argument("-o", "--out", help="write the plot of one metric to this file instead")
    plot.add_argument("--title", help="title of the plots")
    summary = sub.add_parser(
        "summary", help="table of final and best return and steps/s per setting"
    )
    _add_results_arguments(summary)
    summary.add_argument("--metric", metavar="COLUMN", help="return column (default ReturnAverage)")
    summary.add_argument("--format", choices=("table", "csv", "json"), default="table")


def _add_results_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment directories and the grouping, shared by ``plot`` and ``summary``."""
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="EXPERIMENT_DIR",
        help="experiment directories (trees of run_<k> directories) or run directories",
    )
    parser.add_argument(
        "--group-by",
        action="extend",
        nargs="+",
        metavar="KEY",
        help="params.json keys that make a setting, e.g. algo.learning_rate (default: each "
        "run's directory relative to EXPERIMENT_DIR)",
    )


def _plot(args) -> int:
    from rlpyt.utils.plot import plot_curves, plot_experiment

    metrics = list(dict.fromkeys(args.metrics + ([args.y] if args.y else [])))
    with _warnings_on_stderr():
        if args.out:  # one file, as before --metrics and --out-dir existed
            if args.out_dir or len(metrics) > 1:
                raise ValueError(
                    "-o/--out writes one plot of one metric: give at most one of --y/--metrics, "
                    "or --out-dir for one PNG per metric"
                )
            y = metrics[0] if metrics else None
            written = [
                plot_curves(args.paths, args.x, y, args.out, args.group_by, args.title, args.band)
            ]
        else:
            written = plot_experiment(
                args.paths, metrics, args.x, args.group_by, args.out_dir, args.band, args.title
            )
    for path in written:
        print(f"Learning curves: {path}")
    return 0


def _summary(args) -> int:
    from rlpyt.utils.summary import format_summary, summarize

    with _warnings_on_stderr():
        rows = summarize(args.paths, args.group_by, args.metric)
    print(format_summary(rows, args.format))
    return 0


def results_command(args: argparse.Namespace) -> int:
    """Run ``plot`` or ``summary``; returns the exit status (errors are the caller's)."""
    return _plot(args) if args.command == "plot" else _summary(args)


@contextlib.contextmanager
def _warnings_on_stderr():
    """Warnings (e.g. a run missing a --group-by key) as one ``warning: ...`` line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                print(f"warning: {warning.message}", file=sys.stderr)
