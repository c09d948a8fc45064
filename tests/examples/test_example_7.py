"""example_7 (SyncRl: 2 CPU learners over gloo, evaluation on rank 0) runs end to end at a
tiny budget: progress rows of the combined steps, a snapshot, no process left behind."""

import csv
import os
import subprocess
import sys

import psutil
import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.mark.timeout(300)
def test_example_7_two_cpu_learners_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.abspath(os.path.join(EXAMPLES, "example_7.py")),
         "--n_learners", "2", "--eval", "--n_steps", "2560", "--log_interval_steps", "1280",
         "--log_dir", "out"],
        capture_output=True, text=True, cwd=tmp_path, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SyncRl: 2 learners (gloo)" in proc.stdout
    run = tmp_path / "out" / "run_0"
    with open(run / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # The evaluation before training, then one row per 1280 steps: 10 iterations of
    # 2 learners x 16 x 4 env steps each.
    assert [int(row["CumSteps"]) for row in rows] == [0, 1280, 2560]
    assert [int(row["CumUpdates"]) for row in rows] == [0, 10, 20]
    assert all(float(row["ReturnAverage"]) > 0 for row in rows)
    assert (run / "params.pkl").exists()
    assert [
        p for p in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(p.cmdline())
    ] == []  # fmt: skip
