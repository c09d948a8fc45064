"""rlpyt.utils.plot on small hand-written experiment trees: grouping, curves, summaries."""

import csv
import json
import math
import os

import numpy as np
import pytest

from rlpyt.utils import plot as plot_module
from rlpyt.utils.logging import logger
from rlpyt.utils.logging.context import logger_context
from rlpyt.utils.plot import aggregate_curves, metric_figure, plot_curves, plot_experiment
from rlpyt.utils.runs import find_runs, group_runs, read_progress, return_metrics
from rlpyt.utils.summary import SummaryRow, format_summary, summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _fake_run(run_dir, steps, returns, params, sps=100.0, extra=""):
    """A run directory whose progress.csv holds ``returns`` at ``steps`` (Discounted = half)."""
    run_dir.mkdir(parents=True)
    lines = ["Iteration,CumSteps,ReturnAverage,DiscountedReturnAverage,StepsPerSecond"]
    lines += [f"{i},{s},{r},{r / 2},{sps}" for i, (s, r) in enumerate(zip(steps, returns))]
    (run_dir / "progress.csv").write_text("\n".join(lines) + "\n" + extra)
    (run_dir / "params.json").write_text(json.dumps(params))


def _lr(lr, seed=0, batch_B=8):
    return {"algo": {"learning_rate": lr}, "sampler": {"batch_B": batch_B}, "seed": seed}


@pytest.fixture
def exp(tmp_path):
    """exp/fast: two runs (lr 0.01), exp/slow: one longer run (lr 0.001)."""
    root = tmp_path / "exp"
    _fake_run(root / "fast" / "run_0", [0, 10, 20], [0, 1, 2], _lr(0.01, 0))
    _fake_run(root / "fast" / "run_1", [0, 10, 20], [0, 3, 4], _lr(0.01, 1), sps=300.0)
    _fake_run(root / "slow" / "run_0", [0, 10, 20, 30], [0, 0, 1, 1], _lr(0.001, 0))
    return root


def test_read_progress_empty_cells_are_nan(tmp_path):
    (tmp_path / "progress.csv").write_text("Iteration,A,B\n0,1.5,\n1,,x\n2,3\n")
    columns = read_progress(tmp_path)
    assert columns["Iteration"].tolist() == [0, 1, 2]
    assert columns["A"][0] == 1.5 and math.isnan(columns["A"][1]) and columns["A"][2] == 3
    assert np.isnan(columns["B"]).all()


def test_find_runs_and_group_by_directory(exp, tmp_path):
    found = find_runs([exp])
    assert found == [
        str(exp / s / r) for s, r in [("fast", "run_0"), ("fast", "run_1"), ("slow", "run_0")]
    ]
    assert find_runs(exp / "slow" / "run_0" / "progress.csv") == [found[2]]
    # Without roots: the parent's name; with the experiment directory: the path below it.
    assert list(group_runs(found)) == ["fast", "slow"]
    assert group_runs(found, roots=[exp]) == {"fast": found[:2], "slow": found[2:]}
    # Nested settings keep their path; numbers in names sort as numbers (lr_2 before lr_10).
    _fake_run(exp / "b" / "lr_10" / "run_0", [0], [0], _lr(10))
    _fake_run(exp / "b" / "lr_2" / "run_0", [0], [0], _lr(2))
    assert list(group_runs(find_runs(exp), roots=[exp])) == ["b/lr_2", "b/lr_10", "fast", "slow"]
    # Runs right in the directory given, or that directory a run: its (parent's) name.
    assert list(group_runs(found[:2], roots=[exp / "fast"])) == ["fast"]
    assert list(group_runs(found[:1], roots=[exp / "fast" / "run_0"])) == ["fast"]
    # Several experiment directories: their names keep equal setting names apart.
    _fake_run(tmp_path / "other" / "fast" / "run_0", [0], [0], _lr(1))
    roots = [exp, tmp_path / "other"]
    labels = list(group_runs(find_runs(roots), roots=roots))
    assert labels == ["exp/b/lr_2", "exp/b/lr_10", "exp/fast", "exp/slow", "other/fast"]


def test_group_by_params_keys(exp):
    _fake_run(exp / "big" / "run_0", [0], [0], _lr(0.01, batch_B=16))
    runs = find_runs(exp)
    by_lr = group_runs(runs, group_by="algo.learning_rate")
    assert list(by_lr) == ["algo.learning_rate=0.001", "algo.learning_rate=0.01"]
    assert [len(v) for v in by_lr.values()] == [1, 3]
    # Several keys: a setting is the tuple of their values, sorted numerically.
    both = group_runs(runs, group_by=["sampler.batch_B", "algo.learning_rate"])
    assert {k: len(v) for k, v in both.items()} == {
        "sampler.batch_B=8, algo.learning_rate=0.001": 1,
        "sampler.batch_B=8, algo.learning_rate=0.01": 2,
        "sampler.batch_B=16, algo.learning_rate=0.01": 1,
    }
    assert list(both)[2].startswith("sampler.batch_B=16")  # 8 < 16, though "16" < "8"


def test_group_by_reads_the_variant_beside_runs(exp):
    """Keys params.json lacks come from the setting's variant_config.json (launched runs)."""
    (exp / "slow" / "run_0" / "params.json").write_text(json.dumps({"name": "x"}))
    (exp / "slow" / "variant_config.json").write_text(json.dumps({"algo": {"learning_rate": 2}}))
    (exp / "fast" / "variant_config.json").write_text(json.dumps({"algo": {"learning_rate": 3}}))
    groups = group_runs(find_runs(exp), group_by="algo.learning_rate")
    assert {k: len(v) for k, v in groups.items()} == {
        "algo.learning_rate=0.01": 2,  # params.json wins over the variant
        "algo.learning_rate=2": 1,
    }


def test_group_by_missing_key_warns_or_raises(exp):
    runs = find_runs(exp)
    with pytest.raises(KeyError, match=r"algo.learning_rat\b.*did you mean 'algo.learning_rate'"):
        group_runs(runs, group_by="algo.learning_rat")
    (exp / "slow" / "run_0" / "params.json").write_text(json.dumps({"algo": {}}))
    with pytest.warns(UserWarning, match=r"slow/run_0: no such key for --group-by algo.learn"):
        groups = group_runs(runs, group_by="algo.learning_rate")
    assert list(groups) == ["algo.learning_rate=0.01", "algo.learning_rate=<missing>"]
    os.remove(exp / "slow" / "run_0" / "params.json")
    with pytest.warns(UserWarning, match="slow/run_0: no readable params.json"):
        group_runs(runs, group_by="algo.learning_rate")


def test_aggregate_curves_mean_and_bands():
    curves = [
        (np.array([0, 10, 20]), np.array([0, 1, 2])),
        (np.array([0, 10, 20]), np.array([0, 3, 4])),
    ]
    grid, mean, low, high = aggregate_curves(curves)
    assert grid.tolist() == [0, 10, 20]
    assert mean.tolist() == [0, 2, 3] and low.tolist() == [0, 1, 2] and high.tolist() == [0, 3, 4]
    _, mean, low, high = aggregate_curves(curves, band="std")
    assert low.tolist() == [0, 1, 2] and high.tolist() == [0, 3, 4]  # std is 0, 1, 1
    # Different x: interpolated on the shared range only.
    grid, mean, _, _ = aggregate_curves(
        [(np.array([0, 10]), np.array([0, 10])), (np.array([0, 5, 20]), np.array([0, 5, 20]))],
        n_points=3,
    )
    assert grid.tolist() == [0, 5, 10] and mean.tolist() == [0, 5, 10]


def test_metric_figure_one_line_per_setting(exp):
    groups = group_runs(find_runs(exp), roots=[exp])
    ax = metric_figure(groups, "ReturnAverage").axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["fast (n=2)", "slow (n=1)"]
    assert lines[0].get_xdata().tolist() == [0, 10, 20]
    assert lines[0].get_ydata().tolist() == [0, 2, 3]  # mean of [0, 1, 2] and [0, 3, 4]
    assert lines[1].get_ydata().tolist() == [0, 0, 1, 1]
    assert len(ax.collections) == 1  # a band only for the setting with several runs
    assert ax.get_xlabel() == "CumSteps" and ax.get_ylabel() == "ReturnAverage"
    # A run cut short (still running) narrows its setting to the x range all its runs cover.
    (exp / "fast" / "run_1" / "progress.csv").write_text(
        "Iteration,CumSteps,ReturnAverage\n0,0,0\n1,10,3\n2,2"  # a half-written last row
    )
    ax = metric_figure(groups, "ReturnAverage", band="std").axes[0]
    assert ax.get_lines()[0].get_xdata().tolist() == [0, 5, 10]
    assert ax.get_lines()[0].get_ydata().tolist() == [0, 1, 2]  # at 5: (0.5 + 1.5) / 2


def test_metric_figure_x_fallback(tmp_path):
    (tmp_path / "a" / "run_0").mkdir(parents=True)
    (tmp_path / "a" / "run_0" / "progress.csv").write_text("Iteration,R\n1,5\n3,7\n")
    groups = group_runs(find_runs(tmp_path), roots=[tmp_path])
    ax = metric_figure(groups, "R").axes[0]
    assert ax.get_xlabel() == "Iteration" and ax.get_lines()[0].get_xdata().tolist() == [1, 3]
    (tmp_path / "a" / "run_0" / "progress.csv").write_text("R\n5\n7\n9\n")
    ax = metric_figure(groups, "R").axes[0]
    assert ax.get_xlabel() == "progress.csv row"
    assert ax.get_lines()[0].get_xdata().tolist() == [0, 1, 2]
    with pytest.raises(KeyError, match="'CumSteps'"):
        metric_figure(groups, "R", x="CumSteps")


def test_plot_experiment_one_png_per_metric(exp):
    written = plot_experiment(exp)
    plots = exp / "plots"
    assert written == [str(plots / "ReturnAverage.png"), str(plots / "DiscountedReturnAverage.png")]
    for path in written:
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC


def test_plot_experiment_metrics_and_errors(exp, tmp_path):
    out = tmp_path / "out"
    written = plot_experiment(exp, metrics=["StepsPerSecond"], out_dir=out, band="std")
    assert written == [str(out / "StepsPerSecond.png")]
    assert (out / "StepsPerSecond.png").stat().st_size > 0
    # Every metric is checked before any file is written.
    with pytest.raises(KeyError, match=r"'ReturnAverag'.*did you mean 'ReturnAverage'"):
        plot_experiment(exp, metrics=["StepsPerSecond", "ReturnAverag"], out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="band must be 'minmax' or 'std', got 'iqr'"):
        plot_experiment(exp, out_dir=tmp_path / "x", band="iqr")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no runs under .*empty"):
        plot_experiment(tmp_path / "empty")
    # Column names become file names.
    assert plot_module._file_name("Eval/Return (s)") == "Eval_Return_s.png"


def test_plot_curves_writes_png(exp, tmp_path):
    out = plot_curves([exp], out=tmp_path / "plots" / "curves.png", title="test")
    with open(out, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    # A run with no finished episode yet (all NaN) is left out with a warning, never fatal.
    (exp / "empty" / "run_0").mkdir(parents=True)
    (exp / "empty" / "run_0" / "progress.csv").write_text("CumSteps,ReturnAverage\n10,nan\n")
    with pytest.warns(UserWarning, match="'empty' left out"):
        assert plot_curves([exp / "empty"], out=tmp_path / "e.png") == str(tmp_path / "e.png")
    with pytest.raises(KeyError, match="NoSuchColumn"):
        plot_curves([exp], y="NoSuchColumn", out=tmp_path / "x.png")


def test_return_metrics():
    tables = [{"CumSteps": 0, "ReturnAverage": 0, "ReturnStd": 0}, {"GameScoreAverage": 0}]
    assert return_metrics(tables) == ["ReturnAverage", "GameScoreAverage"]


def test_summarize_exact(exp):
    rows = summarize(exp)
    assert rows == [
        SummaryRow("fast", 2, 3.0, 3.0, 200.0, 1.0, 1.0, "ReturnAverage"),
        SummaryRow("slow", 1, 1.0, 1.0, 100.0, 0.0, 0.0, "ReturnAverage"),
    ]
    rows = summarize(exp, group_by="algo.learning_rate", y="DiscountedReturnAverage")
    assert [(r.group, r.final_mean, r.best_mean) for r in rows] == [
        ("algo.learning_rate=0.001", 0.5, 0.5),
        ("algo.learning_rate=0.01", 1.5, 1.5),
    ]


def test_summarize_in_progress_runs_and_speed_fallback(exp):
    # A run still going: its last row half written, its best value not the last.
    (exp / "fast" / "run_1" / "progress.csv").write_text(
        "Iteration,CumSteps,CumTime (s),ReturnAverage\n0,100,2.0,6\n1,200,4.0,5\n2,300"
    )
    # A run that has not finished an episode yet counts as a run, not in the means.
    (exp / "fast" / "run_2").mkdir()
    (exp / "fast" / "run_2" / "progress.csv").write_text("Iteration,ReturnAverage\n0,nan\n")
    fast = summarize(exp)[0]
    assert (fast.n_runs, fast.final_mean, fast.final_std) == (3, 3.5, 1.5)  # of 2 and 5
    assert (fast.best_mean, fast.best_std) == (4.0, 2.0)  # of 2 and 6
    assert fast.steps_per_second == 75.0  # of 100 and 200 steps / 4 s
    with pytest.raises(KeyError, match="no run's progress.csv has a column 'Nope'"):
        summarize(exp, y="Nope")


def test_format_summary():
    rows = [
        SummaryRow("a", 2, 3.0, 4.5, 200.0, 1.0, 0.25, "ReturnAverage"),
        SummaryRow("long name", 1, math.nan, math.nan, math.nan, math.nan, math.nan),
    ]
    assert format_summary(rows) == (
        "setting    runs  final ReturnAverage  best ReturnAverage  steps/s\n"
        "a             2         3.00 +- 1.00        4.50 +- 0.25      200\n"
        "long name     1                    -                   -        -"
    )
    assert format_summary(rows, "csv").splitlines() == [
        "setting,runs,metric,final_mean,final_std,best_mean,best_std,steps_per_second",
        "a,2,ReturnAverage,3.0,1.0,4.5,0.25,200.0",
        "long name,1,ReturnAverage,,,,,",
    ]
    records = json.loads(format_summary(rows, "json"))
    assert records[0] == {
        "setting": "a",
        "runs": 2,
        "metric": "ReturnAverage",
        "final_mean": 3.0,
        "final_std": 1.0,
        "best_mean": 4.5,
        "best_std": 0.25,
        "steps_per_second": 200.0,
    }
    assert records[1]["final_mean"] is None
    with pytest.raises(ValueError, match="'xml'"):
        format_summary(rows, "xml")


def test_logged_run_reads_with_csv_json_and_pandas(tmp_path):
    """What the logger writes stays readable by viskit (csv + json) and pandas."""
    config = {"algo": {"learning_rate": 0.001}, "env": {"id": "CartPole-v1"}}
    with logger_context(tmp_path / "exp", 3, "ppo", log_params=config) as run_logger:
        for itr, ret in enumerate([1.5, math.nan, 4.0]):
            logger.record_tabular("Iteration", itr)
            logger.record_tabular("CumSteps", 64 * (itr + 1))
            logger.record_tabular_misc_stat("Return", [] if math.isnan(ret) else [ret])
            logger.dump_tabular()
        run_dir = run_logger.run_dir
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["CumSteps"]) for r in rows] == [64, 128, 192]
    assert [r["ReturnAverage"] for r in rows] == ["1.5", "nan", "4.0"]
    with open(os.path.join(run_dir, "params.json")) as f:
        params = json.load(f)
    assert params["algo"] == {"learning_rate": 0.001} and params["run_ID"] == 3
    assert summarize(tmp_path / "exp")[0][:4] == ("exp", 1, 4.0, 4.0)
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(os.path.join(run_dir, "progress.csv"))
    assert frame["ReturnAverage"].isna().tolist() == [False, True, False]
    assert frame["CumSteps"].tolist() == [64, 128, 192]


def test_find_runs_skips_attempts_the_launcher_set_aside(tmp_path):
    for name in ("run_0", "run_0.attempt1", "run_1"):
        (tmp_path / "lr_1" / name).mkdir(parents=True)
        (tmp_path / "lr_1" / name / "progress.csv").write_text("Iteration\n0\n")
    runs = find_runs(tmp_path)
    assert [os.path.basename(r) for r in runs] == ["run_0", "run_1"]
