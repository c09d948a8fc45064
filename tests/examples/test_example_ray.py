"""example_ray (PPO on CartPole with RaySampler under MinibatchRl) runs end to end at a tiny
budget on a local Ray instance started by the sampler, and leaves no process behind (the
sampler's shutdown stops the Ray it started)."""

import csv
import os
import subprocess
import sys
import time
import uuid

import psutil
import pytest

pytest.importorskip("ray")

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.mark.timeout(240)
def test_example_ray_tiny_run(tmp_path):
    tag = uuid.uuid4().hex  # every process the run starts inherits it
    proc = subprocess.run(
        [sys.executable, os.path.abspath(os.path.join(EXAMPLES, "example_ray.py")),
         "--n_steps", "512", "--seed", "1", "--batch_B", "4", "--log_dir", "logs"],
        capture_output=True, text=True, cwd=tmp_path, timeout=200,
        env={**os.environ, "RLPYT_TEST_TAG": tag},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = tmp_path / "logs" / "run_0"
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # 512 steps in batches of 32 x 4, logged every 128 (n_steps // 5 rounds down to one batch).
    assert [int(row["CumSteps"]) for row in rows] == [128, 256, 384, 512]
    assert any(row["ReturnAverage"] not in ("", "nan") for row in rows)
    assert (run_dir / "params.pkl").exists()
    # Ray's processes (GCS, raylet, actors) were all stopped by the sampler's shutdown.
    assert not _tagged(tag, timeout=10.0)


def _tagged(tag, timeout):
    """Live processes whose environment holds ``RLPYT_TEST_TAG=tag`` (after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for p in psutil.process_iter():
            try:
                if p.status() != psutil.STATUS_ZOMBIE and p.environ().get("RLPYT_TEST_TAG") == tag:
                    left.append((p.pid, p.name()))
            except psutil.Error:
                continue
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
