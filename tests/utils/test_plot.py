import json
import math

import numpy as np
import pytest

from rlpyt.utils.plot import (
    aggregate_curves,
    find_runs,
    group_runs,
    plot_curves,
    read_progress,
    summarize,
)


def _fake_run(run_dir, steps, returns, lr, sps=100.0):
    run_dir.mkdir(parents=True)
    lines = ["Iteration,CumSteps,ReturnAverage,StepsPerSecond"]
    lines += [f"{i},{s},{r},{sps}" for i, (s, r) in enumerate(zip(steps, returns))]
    (run_dir / "progress.csv").write_text("\n".join(lines) + "\n")
    (run_dir / "params.json").write_text(json.dumps({"algo": {"learning_rate": lr}}))


@pytest.fixture
def runs(tmp_path):
    _fake_run(tmp_path / "exp" / "fast" / "run_0", [0, 10, 20], [0, 1, 2], 0.01)
    _fake_run(tmp_path / "exp" / "fast" / "run_1", [0, 10, 20], [0, 3, 4], 0.01, sps=300.0)
    _fake_run(tmp_path / "exp" / "slow" / "run_0", [0, 10, 20, 30], [0, 0, 1, 1], 0.001)
    return tmp_path


def test_read_progress_empty_cells_are_nan(tmp_path):
    (tmp_path / "progress.csv").write_text("Iteration,A,B\n0,1.5,\n1,,x\n2,3\n")
    columns = read_progress(tmp_path)
    assert columns["Iteration"].tolist() == [0, 1, 2]
    assert columns["A"][0] == 1.5 and math.isnan(columns["A"][1]) and columns["A"][2] == 3
    assert np.isnan(columns["B"]).all()


def test_find_and_group_runs(runs):
    found = find_runs([runs / "exp"])
    assert len(found) == 3
    assert find_runs(runs / "exp" / "slow" / "run_0" / "progress.csv") == [found[2]]
    by_dir = group_runs(found)
    assert list(by_dir) == ["fast", "slow"] and len(by_dir["fast"]) == 2
    by_lr = group_runs(found, group_by="algo.learning_rate")
    assert sorted(by_lr) == ["algo.learning_rate=0.001", "algo.learning_rate=0.01"]
    assert list(group_runs(found, group_by="algo.nope")) == ["algo.nope=<missing>"]


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


def test_plot_curves_writes_png(runs):
    out = plot_curves([runs / "exp"], out=runs / "plots" / "curves.png", title="test")
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # A run with no finished episode yet (all NaN) is left out with a warning, never fatal.
    (runs / "exp" / "empty" / "run_0").mkdir(parents=True)
    (runs / "exp" / "empty" / "run_0" / "progress.csv").write_text(
        "CumSteps,ReturnAverage\n10,nan\n"
    )
    with pytest.warns(UserWarning, match="'empty' left out"):
        assert plot_curves([runs / "exp" / "empty"], out=runs / "e.png") == str(runs / "e.png")
    with pytest.raises(KeyError, match="NoSuchColumn"):
        plot_curves([runs / "exp"], y="NoSuchColumn", out=runs / "x.png")


def test_summarize(runs):
    rows = {row.group: row for row in summarize(runs)}
    assert rows["fast"].n_runs == 2
    assert rows["fast"].final_mean == 3.0 and rows["fast"].best_mean == 3.0
    assert rows["fast"].steps_per_second == 200.0
    assert rows["slow"].final_mean == 1.0 and rows["slow"].n_runs == 1
