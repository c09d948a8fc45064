"""example_6 (a grid launched on this machine's cores) runs end to end at its tiny budget and
draws its comparison plots."""

import csv
import json
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SETTINGS = ["CartPole-v1/lr_0.001/B_2", "Acrobot-v1/lr_0.001/B_2"]


@pytest.mark.timeout(300)
def test_example_6_tiny_grid_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.abspath(os.path.join(EXAMPLES, "example_6.py")), "--tiny",
         "--root", "results"],
        capture_output=True, text=True, cwd=tmp_path, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exp = tmp_path / "results" / "example_6_ppo_tiny"
    status = json.loads((exp / "status.json").read_text())
    assert sorted(e["setting"] for e in status["runs"]) == sorted(SETTINGS)
    assert {(e["state"], e["exit_code"]) for e in status["runs"]} == {("done", 0)}
    for setting in SETTINGS:
        with open(exp / setting / "run_0" / "progress.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert int(rows[-1]["CumSteps"]) == 1024  # 16 iterations of 32 x 2 env steps
        assert any(row["ReturnAverage"] not in ("", "nan") for row in rows), setting
        assert (exp / setting / "run_0" / "params.pkl").exists()
    for env in ("CartPole-v1", "Acrobot-v1"):
        png = exp / "plots" / env / "ReturnAverage.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert f"Comparison plot: {png}" in proc.stdout
    # The summary table: one line per setting.
    lines = proc.stdout.splitlines()
    assert all(any(line.startswith(f"{s}  ") for line in lines) for s in SETTINGS)
