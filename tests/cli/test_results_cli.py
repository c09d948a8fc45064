"""``python -m rlpyt plot`` and ``python -m rlpyt summary`` on a hand-written experiment tree.

A sweep over two learning rates, two seeds each, laid out as the launcher writes it
(EXPERIMENT_DIR/<setting>/run_<k>/progress.csv + params.json); the commands run in-process
through ``main`` (one through the real ``python -m rlpyt`` entry point).
"""

import json
import subprocess
import sys

import pytest

from rlpyt.cli.main import main
from rlpyt.utils import plot as plot_module

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# setting directory -> learning rate and per-seed ReturnAverage curves at CumSteps 0, 100, 200.
SWEEP = {
    "lr_0.01": (0.01, [[0, 4, 8], [0, 6, 10]]),
    "lr_0.1": (0.1, [[0, 1, 3], [0, 1, 1]]),
}


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "sweep"
    for setting, (lr, curves) in SWEEP.items():
        for seed, returns in enumerate(curves):
            run_dir = root / setting / f"run_{seed}"
            run_dir.mkdir(parents=True)
            rows = ["Iteration,CumSteps,CumTime (s),StepsPerSecond,ReturnAverage,loss"]
            rows += [
                f"{i},{100 * i},{i},{50 * (seed + 1)},{ret},{1 / (i + 1)}"
                for i, ret in enumerate(returns)
            ]
            (run_dir / "progress.csv").write_text("\n".join(rows) + "\n")
            params = {"algo": {"learning_rate": lr}, "runner": {"seed": seed}, "run_ID": seed}
            (run_dir / "params.json").write_text(json.dumps(params))
    return root


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot command draws, in order."""
    drawn = []
    draw = plot_module.metric_figure

    def spy(*args, **kwargs):
        drawn.append(draw(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(plot_module, "metric_figure", spy)
    return drawn


def test_plot_one_png_per_metric_one_curve_per_setting(sweep, figures, capsys):
    argv = ["plot", str(sweep), "--group-by", "algo.learning_rate", "--metrics", "loss"]
    assert main([*argv, "--y", "ReturnAverage", "--band", "std"]) == 0
    pngs = [sweep / "plots" / "loss.png", sweep / "plots" / "ReturnAverage.png"]
    assert capsys.readouterr().out.splitlines() == [f"Learning curves: {p}" for p in pngs]
    for png in pngs:
        assert png.stat().st_size > 1000 and png.read_bytes()[:8] == PNG_MAGIC
    assert len(figures) == 2
    for fig in figures:
        lines = fig.axes[0].get_lines()
        labels = ["algo.learning_rate=0.01 (n=2)", "algo.learning_rate=0.1 (n=2)"]
        assert [line.get_label() for line in lines] == labels
    returns = figures[1].axes[0].get_lines()
    assert returns[0].get_ydata().tolist() == [0, 5, 9]
    assert returns[1].get_ydata().tolist() == [0, 1, 2]


def test_plot_defaults_and_single_file(sweep, figures, tmp_path, capsys):
    # Default: the return columns, grouped by setting directory, into EXPERIMENT_DIR/plots.
    assert main(["plot", str(sweep)]) == 0
    assert capsys.readouterr().out == f"Learning curves: {sweep / 'plots' / 'ReturnAverage.png'}\n"
    assert [line.get_label() for line in figures[0].axes[0].get_lines()] == [
        "lr_0.01 (n=2)",
        "lr_0.1 (n=2)",
    ]
    # Backward compatible: --y M -o FILE writes that one file.
    out = tmp_path / "one" / "loss.png"
    assert (
        main(["plot", str(sweep / "lr_0.1"), "--y", "loss", "-o", str(out), "--x", "Iteration"])
        == 0
    )
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert capsys.readouterr().out == f"Learning curves: {out}\n"
    assert figures[1].axes[0].get_xlabel() == "Iteration"
    assert [line.get_label() for line in figures[1].axes[0].get_lines()] == ["lr_0.1 (n=2)"]
    assert sorted(p.name for p in (sweep / "plots").iterdir()) == ["ReturnAverage.png"]


def test_summary_table_csv_json(sweep, capsys):
    assert main(["summary", str(sweep)]) == 0
    assert capsys.readouterr().out == (
        "setting  runs  final ReturnAverage  best ReturnAverage  steps/s\n"
        "lr_0.01     2         9.00 +- 1.00        9.00 +- 1.00       75\n"
        "lr_0.1      2         2.00 +- 1.00        2.00 +- 1.00       75\n"
    )
    assert main(["summary", str(sweep), "--group-by", "algo.learning_rate", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "setting,runs,metric,final_mean,final_std,best_mean,best_std,steps_per_second",
        "algo.learning_rate=0.01,2,ReturnAverage,9.0,1.0,9.0,1.0,75.0",
        "algo.learning_rate=0.1,2,ReturnAverage,2.0,1.0,2.0,1.0,75.0",
    ]
    assert main(["summary", str(sweep), "--metric", "loss", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["setting"], r["metric"], r["final_mean"], r["best_mean"]) for r in records] == [
        ("lr_0.01", "loss", 1 / 3, 1.0),
        ("lr_0.1", "loss", 1 / 3, 1.0),
    ]


def test_summary_runs_missing_a_key_warn(sweep, capsys):
    run = sweep / "lr_0.1" / "run_1"
    (run / "params.json").write_text(json.dumps({"algo": {}}))
    assert main(["summary", str(sweep), "--group-by", "algo.learning_rate"]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"warning: run {run}: no such key for --group-by algo.learning_rate; "
        "grouped under algo.learning_rate=<missing>\n"
    )
    assert [line.split("  ")[0] for line in captured.out.splitlines()[1:]] == [
        "algo.learning_rate=0.01",
        "algo.learning_rate=0.1",
        "algo.learning_rate=<missing>",
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "{empty}"], "no runs under {empty}"),
        (["plot", "{empty}"], "no runs under {empty}"),
        (["summary", "{sweep}", "--group-by", "algo.lr"], "--group-by algo.lr: no run has"),
        (["plot", "{sweep}", "--metrics", "Return"], "no run's progress.csv has a column 'Return'"),
        (["summary", "{sweep}", "--metric", "los"], "did you mean 'loss'?"),
        (["plot", "{sweep}", "--metrics", "loss", "ReturnAverage", "-o", "x.png"], "-o/--out"),
    ],
)
def test_usage_errors_exit_2(sweep, tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    paths = {"empty": tmp_path / "empty", "sweep": sweep}
    assert main([arg.format(**paths) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message.format(**paths) in err
    assert not (sweep / "plots").exists()


def test_entry_point_summary(sweep):
    proc = subprocess.run(
        [sys.executable, "-m", "rlpyt", "summary", str(sweep), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["final_mean"] for r in json.loads(proc.stdout)] == [9.0, 2.0]


def test_results_commands_do_not_import_torch(sweep):
    """plot and summary only read CSV files: they start in well under a second."""
    code = (
        "import sys; from rlpyt.cli.main import main; "
        f"assert main(['summary', {str(sweep)!r}, '--format', 'csv']) == 0; "
        "print('torch imported' if 'torch' in sys.modules else 'no torch')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "no torch"
