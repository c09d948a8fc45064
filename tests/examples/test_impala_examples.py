"""example_impala (actor-learner runner, and the scheme in debug mode) and example_scheme_ray
(Atari, IMPALA on Ray) run as scripts at a tiny budget and write their logs and snapshots."""

import csv
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def run_example(name, *args, cwd, env=None):
    return subprocess.run(
        [sys.executable, os.path.abspath(os.path.join(EXAMPLES, name)), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=240,
        env={**os.environ, **(env or {})},
    )


def progress_rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("runner", ["actor_learner", "scheme"])
def test_example_impala_tiny_run(tmp_path, runner):
    args = ["--n_steps", "6400", "--seed", "1", "--runner", runner, "--log_dir", "logs"]
    if runner == "scheme":
        args += ["--collection", "async"]
    proc = run_example("example_impala.py", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "logs" / "run_0"
    rows = progress_rows(run_dir)
    # 640 env steps per rollout (32 envs x 20 steps), a row every 640 steps.
    assert [int(r["CumSteps"]) for r in rows] == [640 * i for i in range(1, 11)]
    assert all(r["PolicyLagMax"] not in ("", "nan") for r in rows)
    assert any(r["ReturnAverage"] not in ("", "nan") for r in rows)
    assert (run_dir / "params.pkl").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_example_scheme_ray_tiny_atari_run(tmp_path):
    """Pong with 2 collection workers (2 envs, 20-step rollouts) on a local Ray instance
    (RAY_ADDRESS empty): 4 updates, 2 progress rows, a snapshot."""
    pytest.importorskip("ray")
    args = ["--n_steps", "320", "--batch_T", "20", "--envs_per_worker", "2", "--seed", "1"]
    args += ["--log_interval_steps", "160", "--log_dir", "logs"]
    proc = run_example("example_scheme_ray.py", *args, cwd=tmp_path, env={"RAY_ADDRESS": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "logs" / "run_0"
    rows = progress_rows(run_dir)
    assert [int(r["CumSteps"]) for r in rows] == [160, 320]
    assert [int(r["CumUpdates"]) for r in rows] == [2, 4]
    assert all(r["PolicyLagMax"] == "0" for r in rows)  # sync links, one gradient per batch
    assert (run_dir / "params.pkl").exists()
