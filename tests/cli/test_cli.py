"""``python -m rlpyt``: a tiny training run, resume, plot, and the errors for bad input.

Training runs go through a subprocess (the real entry point, and no global state such as
torch's thread count leaks into the test process); the error cases call ``main`` in-process,
where they also check that no env was built and no run directory was created.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import rlpyt.envs.gym
from rlpyt.cli import main as cli_main
from rlpyt.cli.main import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# 16 x 4 = 64 env steps per iteration, a log row every 8 iterations (512 steps).
TINY = ["--set", "sampler.batch_T=16", "sampler.batch_B=4", "runner.log_interval_steps=512"]


def run_cli(*args, cwd=None, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "rlpyt", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def read_csv(path):
    with open(path) as f:
        lines = [line.rstrip("\n").split(",") for line in f if line.strip()]
    header, rows = lines[0], lines[1:]
    return header, [dict(zip(header, row)) for row in rows]


def train_args(log_dir, *extra):
    return [
        "train",
        "--algo",
        "ppo",
        "--env",
        "CartPole-v1",
        "--seed",
        "1",
        "--log-dir",
        str(log_dir),
        "--run-id",
        "0",
        *TINY,
        *extra,
    ]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A finished 2048-step run: ``(run_dir, completed process)``."""
    log_dir = tmp_path_factory.mktemp("cli") / "ppo_cartpole"
    proc = run_cli(*train_args(log_dir, "--steps", "2048"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return log_dir / "run_0", proc


@pytest.fixture
def no_env_built(monkeypatch):
    """Fails the test if an env is constructed; returns the list of attempted builds."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError("an env was built")

    monkeypatch.setattr(rlpyt.envs.gym, "gym_make", refuse)
    return calls


@pytest.mark.timeout(300)
def test_train_writes_logs_snapshot_and_plot(trained_run):
    run_dir, proc = trained_run
    header, rows = read_csv(run_dir / "progress.csv")
    for column in ("Iteration", "CumSteps", "ReturnAverage", "StepsPerSecond", "loss", "entropy"):
        assert column in header
    assert [int(r["Iteration"]) for r in rows] == [7, 15, 23, 31]
    assert [int(r["CumSteps"]) for r in rows] == [512, 1024, 1536, 2048]
    assert all(float(r["loss"]) == float(r["loss"]) for r in rows)  # not NaN
    params = json.loads((run_dir / "params.json").read_text())
    assert params["name"] == "ppo_CartPole-v1" and params["run_ID"] == 0
    assert params["algo"]["learning_rate"] == 1e-3
    config = json.loads((run_dir / "config.json").read_text())
    assert config["sampler"]["batch_T"] == 16 and config["sampler"]["batch_B"] == 4
    assert config["runner"]["seed"] == 1 and config["runner"]["n_steps"] == 2048
    assert (run_dir / "params.pkl").stat().st_size > 0
    assert (run_dir / "debug.log").exists()
    assert (run_dir / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert f"Learning curve: {run_dir / 'curves.png'}" in proc.stdout
    assert "ReturnAverage" in proc.stdout  # the log table on the console


@pytest.mark.timeout(300)
def test_resume_appends_rows(trained_run, tmp_path):
    run_dir = tmp_path / "run_0"
    shutil.copytree(trained_run[0], run_dir)
    proc = run_cli("train", "--resume", str(run_dir), "--steps", "4096")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(run_dir / "progress.csv") as f:
        assert sum(line.startswith("Iteration,") for line in f) == 1  # one header
    _, rows = read_csv(run_dir / "progress.csv")
    assert [int(r["Iteration"]) for r in rows] == [7, 15, 23, 31, 39, 47, 55, 63]
    assert [int(r["CumSteps"]) for r in rows] == [512 * k for k in range(1, 9)]
    # The longer budget is saved, so a later --resume continues from it.
    assert json.loads((run_dir / "config.json").read_text())["runner"]["n_steps"] == 4096


@pytest.mark.timeout(300)
def test_plot_writes_png(trained_run, tmp_path):
    out = tmp_path / "out.png"
    proc = run_cli("plot", str(trained_run[0]), "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert str(out) in proc.stdout


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["algo.learnig_rate=1"], ["unknown config key", "did you mean 'algo.learning_rate'"]),
        (["algo.learning_rate=-0.001"], ["learning_rate", "> 0", "-0.001"]),
        (["sampler.batch_T=0"], ["batch_T", ">= 1"]),
        (["sampler.batch_T=ten"], ["batch_T", "integer"]),
        (
            ["algo.minibatches=3", "sampler.batch_T=16", "sampler.batch_B=4"],
            ["minibatches=3", "16 * 4 = 64"],
        ),
        (["runner.n_steps=0"], ["n_steps", ">= 1"]),
        (["agent.name=cnn"], ["agent.name", "mlp_ff"]),
        (["algo.learning_rate"], ["key=value"]),
    ],
)
def test_bad_setting_refused_before_any_env(overrides, expected, tmp_path, capsys, no_env_built):
    start = time.monotonic()
    code = main(
        ["train", "--algo", "ppo", "--env", "CartPole-v1", "--log-dir", str(tmp_path)]
        + ["--set", *overrides]
    )
    assert code == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    for fragment in expected:
        assert fragment in err
    assert not no_env_built
    assert not os.listdir(tmp_path)  # no run directory


def test_existing_run_refused(trained_run, capsys, no_env_built):
    run_dir = trained_run[0]
    before = (run_dir / "progress.csv").read_bytes()
    code = main(train_args(run_dir.parent, "--steps", "2048"))
    assert code == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and f"--resume {run_dir}" in err
    assert not no_env_built
    assert (run_dir / "progress.csv").read_bytes() == before


def test_run_location_reuses_only_a_run_that_logged_nothing(tmp_path):
    config = {"logging": {"log_dir": str(tmp_path), "run_ID": 3}}
    run_dir = tmp_path / "run_3"
    assert cli_main._run_location(config, None) == (str(tmp_path), 3, False)
    run_dir.mkdir()
    (run_dir / "progress.csv").write_text("")  # a start that failed before the first row
    assert cli_main._run_location(config, None) == (str(tmp_path), 3, True)
    (run_dir / "progress.csv").write_text("Iteration,CumSteps\n7,512\n")
    with pytest.raises(FileExistsError, match="already holds a run"):
        cli_main._run_location(config, None)


def test_bad_env_kwarg_refused_before_the_run_starts(tmp_path, capsys):
    code = main(
        ["train", "--algo", "a2c", "--env", "CartPole-v1", "--log-dir", str(tmp_path)]
        + ["--set", "env.kwargs.not_an_arg=1"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "CartPole-v1" in err and "not_an_arg" in err and "env.kwargs" in err
    assert not os.listdir(tmp_path)


def test_resume_refuses_settings_of_a_new_run(trained_run, capsys, no_env_built):
    code = main(["train", "--resume", str(trained_run[0]), "--seed", "2", "--env", "pong"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--env" in err and "--seed" in err
    code = main(["train", "--resume", str(trained_run[0].parent / "run_9")])
    assert code == 2
    assert "no config.json" in capsys.readouterr().err


def test_print_config_prints_json(capsys, no_env_built):
    code = main(
        ["train", "--algo", "ppo", "--env", "CartPole-v1", "--seed", "5", "--print-config"]
        + ["--set", "algo.epochs=5", "agent.model_kwargs.hidden_sizes=[32, 32]"]
    )
    assert code == 0
    config = json.loads(capsys.readouterr().out)
    assert config["algo_name"] == "ppo" and config["env"]["id"] == "CartPole-v1"
    assert config["algo"]["epochs"] == 5 and config["algo"]["learning_rate"] == 1e-3
    assert config["agent"]["model_kwargs"]["hidden_sizes"] == [32, 32]
    assert config["runner"]["seed"] == 5
    assert config["logging"]["log_dir"] == os.path.join("data", "local", "ppo_CartPole-v1")
    assert not no_env_built


@pytest.mark.timeout(60)
def test_entry_point_exit_status_and_message(tmp_path):
    start = time.monotonic()
    proc = run_cli(
        "train", "--algo", "ppo", "--env", "CartPole-v1", "--log-dir", str(tmp_path),
        "--set", "algo.learnig_rate=1",
        cwd=tmp_path,
    )  # fmt: skip
    assert time.monotonic() - start < 10
    assert proc.returncode == 2
    assert "did you mean 'algo.learning_rate'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not os.listdir(tmp_path)


@pytest.mark.timeout(120)
def test_incompatible_resume_refused_and_config_kept(trained_run, tmp_path):
    run_dir = tmp_path / "run_0"
    shutil.copytree(trained_run[0], run_dir)
    config_before = (run_dir / "config.json").read_text()
    progress_before = (run_dir / "progress.csv").read_text()
    proc = run_cli("train", "--resume", str(run_dir), "--set", "sampler.batch_T=8")
    assert proc.returncode == 2
    assert "cannot resume" in proc.stderr and "batch_spec" in proc.stderr
    assert (run_dir / "config.json").read_text() == config_before
    assert (run_dir / "progress.csv").read_text() == progress_before
