"""The async Atari DQN examples run as scripts at a tiny budget and leave nothing behind."""

import csv
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def run_example(name, *args, cwd):
    return subprocess.run(
        [sys.executable, os.path.abspath(os.path.join(EXAMPLES, name)), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=240,
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "name, extra",
    [
        ("atari_dqn_async_serial.py", []),
        ("atari_dqn_async_cpu.py", ["--n_workers", "2"]),
        ("atari_dqn_async_gpu.py", ["--n_workers", "2"]),
    ],
)
def test_async_atari_example_runs(tmp_path, name, extra):
    proc = run_example(
        name, "--n_steps", "128", "--log_interval_steps", "64", "--min_steps_learn", "32",
        "--replay_size", "2000", "--log_dir", "ex", *extra,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "ex" / "run_0"
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # 4 x 8 = 32 env steps per sampler batch, a row every 2 batches.
    assert [int(r["CumSteps"]) for r in rows] == [64, 128]
    # Learning from batch 1 (32 steps), 8 x 32 / 32 = 8 updates per batch: 3 batches' worth.
    assert int(rows[-1]["CumUpdates"]) == (4 - 1) * 8
    assert float(rows[-1]["ReplayRatio"]) == pytest.approx(8.0)
    assert (run_dir / "params.pkl").stat().st_size > 0
    if name == "atari_dqn_async_gpu.py" and "CUDA" not in os.environ.get(
        "CUDA_VISIBLE_DEVICES", "x"
    ):
        assert "training on the CPU" in proc.stdout
