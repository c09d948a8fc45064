"""Every example runs, as a script, at a tiny budget, and writes its logs (tier 4 of STYLE.md)."""

import csv
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_example(name, *args, cwd):
    return subprocess.run(
        [sys.executable, os.path.abspath(os.path.join(EXAMPLES, name)), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=240,
    )


def progress_rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.timeout(300)
def test_example_ppo_cartpole(tmp_path):
    # No --log_dir: the default is data/local/example_ppo_cartpole under the working directory.
    proc = run_example("example_ppo_cartpole.py", "--n_steps", "1024", "--seed", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "data" / "local" / "example_ppo_cartpole" / "run_0"
    rows = progress_rows(run_dir)
    # 256 env steps per iteration, a row at each of the 4 iterations.
    assert [int(r["CumSteps"]) for r in rows] == [256, 512, 768, 1024]
    assert all(r["ReturnAverage"] and r["loss"] for r in rows)
    assert (run_dir / "params.pkl").stat().st_size > 0  # snapshot_mode="last"
    assert (run_dir / "params.json").exists()
    assert (run_dir / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert f"Learning curve: {run_dir / 'curves.png'}" in proc.stdout


@pytest.mark.timeout(300)
def test_example_1_dqn_atari_serial_with_evaluation(tmp_path):
    proc = run_example(
        "example_1.py", "--n_steps", "160", "--eval_max_steps", "200", "--log_dir", "ex1",
        "--min_steps_learn", "80", "--replay_size", "1000",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "ex1" / "run_0"
    rows = progress_rows(run_dir)
    # An evaluation before training (Iteration -1), then one per log interval: 40 x 4 steps.
    assert [int(r["Iteration"]) for r in rows] == [-1, 39]
    assert [int(r["CumSteps"]) for r in rows] == [0, 160]
    # Steps of the eval episodes completed within the 200-step budget (Pong's take longer).
    assert all(0 <= int(r["StepsInEval"]) <= 200 for r in rows)
    assert "GameScoreAverage" in rows[0]
    # Learning started after 80 steps: one gradient step per 4-step iteration since then.
    assert float(rows[1]["loss"]) > 0
    assert (run_dir / "params.pkl").stat().st_size > 0  # snapshot_mode="last"


@pytest.mark.timeout(300)
def test_example_5_dqn_gpu_sampler(tmp_path):
    proc = run_example(
        "example_5.py", "--n_steps", "96", "--log_dir", "ex5", "--n_workers", "2",
        "--min_steps_learn", "64", "--replay_size", "1000",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = progress_rows(tmp_path / "ex5" / "run_0")
    assert [int(r["CumSteps"]) for r in rows] == [96]
    assert float(rows[0]["loss"]) > 0


def alternating_available():
    try:
        import rlpyt.samplers.parallel.gpu.alternating_sampler  # noqa: F401
    except ImportError:
        return False
    return True


SAMPLE_MODE_MESSAGES = {
    "serial": "Using serial sampler, CPU for sampling and optimizing.",
    "cpu": "Using CPU parallel sampler (agent in workers), CPU for optimizing.",
    "gpu": "Using GPU parallel sampler (agent in master), CPU for sampling and optimizing.",
    "alternating": "Using Alternating GPU parallel sampler, CPU for sampling and optimizing.",
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sample_mode", list(SAMPLE_MODE_MESSAGES))
def test_example_3_sample_modes(sample_mode, tmp_path):
    if sample_mode == "alternating" and not alternating_available():
        pytest.skip("AlternatingSampler not available")
    proc = run_example(
        "example_3.py", "--sample_mode", sample_mode, "--n_parallel", "2", "--n_steps", "160",
        "--log_dir", "ex3",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert SAMPLE_MODE_MESSAGES[sample_mode] in proc.stdout
    assert "Traceback" not in proc.stderr
    run_dir = tmp_path / "ex3" / "run_0"
    rows = progress_rows(run_dir)
    assert [int(r["CumSteps"]) for r in rows] == [160]  # 2 iterations of 5 x 16 steps
    assert rows[0]["loss"] and "GameScoreAverage" in rows[0]
    assert not (run_dir / "params.pkl").exists()  # the original's default: no snapshots


@pytest.mark.timeout(60)
def test_example_3_unknown_sample_mode(tmp_path):
    proc = run_example("example_3.py", "--sample_mode", "async", cwd=tmp_path)
    assert proc.returncode == 2
    assert "invalid choice: 'async'" in proc.stderr


@pytest.mark.timeout(300)
@pytest.mark.parametrize("collector", ["wait_reset", "reset"])
def test_example_4_recurrent_gpu_sampler(collector, tmp_path):
    proc = run_example(
        "example_4.py", "--collector", collector, "--n_parallel", "2", "--n_steps", "160",
        "--log_dir", "ex4",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "ex4" / "run_0"
    rows = progress_rows(run_dir)
    assert [int(r["CumSteps"]) for r in rows] == [160]
    assert rows[0]["loss"] and float(rows[0]["loss"]) == float(rows[0]["loss"])  # not NaN
    params = (run_dir / "params.json").read_text()
    assert f'"collector": "{collector}"' in params


@pytest.mark.timeout(300)
def test_example_2_sac_mujoco_with_evaluation(tmp_path):
    pytest.importorskip("mujoco", reason="MuJoCo smoke run needs the mujoco extra")
    proc = run_example(
        "example_2.py", "--env", "HalfCheetah-v5", "--n_steps", "400", "--min_steps_learn",
        "300", "--eval_max_steps", "200", "--log_dir", "ex2",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = progress_rows(tmp_path / "ex2" / "run_0")
    assert [int(r["Iteration"]) for r in rows] == [-1, 399]
    # One gradient step per env step once 300 steps are in the replay.
    assert float(rows[1]["qLoss"]) > 0 and int(rows[1]["CumUpdates"]) == 100
    assert (tmp_path / "ex2" / "run_0" / "params.pkl").stat().st_size > 0


def test_example_2_falls_back_to_pendulum_without_mujoco(monkeypatch, capsys):
    import importlib.util

    sys.path.insert(0, os.path.abspath(EXAMPLES))
    try:
        import example_2
    finally:
        sys.path.pop(0)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "mujoco" else real_find_spec(name, *a),
    )
    assert example_2.choose_env("HalfCheetah-v5") == "Pendulum-v1"
    assert "MuJoCo is not installed" in capsys.readouterr().err
    assert example_2.choose_env("Pendulum-v1") == "Pendulum-v1"


@pytest.mark.timeout(300)
def test_example_planning_mcts_hanoi_then_resume(tmp_path):
    args = ["--n_disks", "3", "--n_envs", "2", "--n_passes", "5", "--log_dir", "exp"]
    proc = run_example("example_planning.py", *args, "--n_epochs", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "exp" / "run_0"
    rows = progress_rows(run_dir)
    assert [int(r["Iteration"]) for r in rows] == [0, 1]
    assert all(int(r["episode/count"]) == 2 for r in rows)
    assert int(rows[0]["CumUpdates"]) == 0 and int(rows[1]["CumUpdates"]) == 100  # precollect
    proc = run_example("example_planning.py", *args, "--n_epochs", "3", "--resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [int(r["Iteration"]) for r in progress_rows(run_dir)] == [0, 1, 2]
