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

import rlpyt.cli.build
import rlpyt.envs.gym
from rlpyt.cli import main as cli_main
from rlpyt.cli.build import build_experiment, usable_cpus
from rlpyt.cli.configs import apply_overrides, default_config
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


# -- samplers: --sampler / --workers -------------------------------------------------------


def alternating_available():
    try:
        import rlpyt.samplers.parallel.gpu.alternating_sampler  # noqa: F401
    except ImportError:
        return False
    return True


SAMPLER_KINDS = ["cpu", "gpu"] + (["alternating"] if alternating_available() else [])


def cartpole_config(*overrides):
    return apply_overrides(default_config("ppo", "CartPole-v1"), overrides)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", SAMPLER_KINDS)
def test_train_with_parallel_sampler(kind, tmp_path):
    if kind == "alternating" and len(usable_cpus()) < 2:
        pytest.skip("the alternating sampler needs two CPU cores for its two workers")
    proc = run_cli(
        *train_args(tmp_path, "--steps", "1024", "--sampler", kind, "--workers", "2"), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "run_0"
    _, rows = read_csv(run_dir / "progress.csv")
    assert [int(r["CumSteps"]) for r in rows] == [512, 1024]
    assert all(r["ReturnAverage"] and r["loss"] for r in rows)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["sampler"]["kind"] == kind and config["sampler"]["workers"] == 2
    assert (run_dir / "params.pkl").stat().st_size > 0


@pytest.mark.parametrize(
    "kind, collector, sampler_name, collector_name",
    [
        ("serial", "reset", "SerialSampler", "CpuResetCollector"),
        ("cpu", "reset", "CpuSampler", "CpuResetCollector"),
        ("cpu", "wait_reset", "CpuSampler", "CpuWaitResetCollector"),
        ("gpu", "reset", "GpuSampler", "GpuResetCollector"),
        ("gpu", "wait_reset", "GpuSampler", "GpuWaitResetCollector"),
        ("alternating", "reset", "AlternatingSampler", "GpuResetCollector"),
        ("alternating", "wait_reset", "AlternatingSampler", "GpuWaitResetCollector"),
    ],
)
def test_sampler_kind_and_collector(
    kind, collector, sampler_name, collector_name, monkeypatch, no_env_built
):
    if kind == "alternating" and not alternating_available():
        pytest.skip("AlternatingSampler not available")
    if len(usable_cpus()) < 2:  # (alternating needs two workers)
        monkeypatch.setattr("rlpyt.cli.build.usable_cpus", lambda: [0, 1])
    config = cartpole_config(f"sampler.kind={kind}", f"sampler.collector={collector}")
    runner = build_experiment(config)
    assert type(runner.sampler).__name__ == sampler_name
    assert runner.sampler.CollectorCls.__name__ == collector_name
    if kind == "serial":
        assert "workers_cpus" not in runner.affinity
    else:  # default: one worker per usable core (at most one per env), pinned to it
        cores = rlpyt.cli.build.usable_cpus()
        n = min(len(cores), config["sampler"]["batch_B"])
        assert runner.affinity["workers_cpus"] == cores[:n]
    assert not no_env_built


def test_workers_clamped_to_usable_cores_with_warning(no_env_built):
    cores = usable_cpus()
    config = cartpole_config(
        "sampler.kind=cpu", f"sampler.workers={len(cores) + 3}", "sampler.batch_B=64"
    )
    with pytest.warns(UserWarning, match=rf"more than the {len(cores)} usable CPU cores"):
        runner = build_experiment(config)
    assert runner.affinity["workers_cpus"] == cores
    config = cartpole_config("sampler.kind=cpu", "sampler.workers=1")
    assert build_experiment(config).affinity["workers_cpus"] == cores[:1]
    assert not no_env_built


def test_workers_clamp_names_the_cores(monkeypatch, no_env_built):
    monkeypatch.setattr("rlpyt.cli.build.usable_cpus", lambda: [0, 1])
    config = cartpole_config("sampler.kind=gpu", "sampler.workers=5")
    with pytest.warns(UserWarning, match=r"sampler.workers=5 is more than the 2 usable CPU"):
        runner = build_experiment(config)
    assert runner.affinity["workers_cpus"] == [0, 1]
    assert not no_env_built


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", SAMPLER_KINDS)
def test_offline_evaluation_with_parallel_sampler(kind, tmp_path):
    if kind == "alternating" and len(usable_cpus()) < 2:
        pytest.skip("the alternating sampler needs two CPU cores for its two workers")
    proc = run_cli(
        *train_args(tmp_path, "--steps", "512", "--sampler", kind, "--workers", "2"),
        "--set", "runner.eval=True", "sampler.eval_n_envs=2", "sampler.eval_max_steps=400",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, rows = read_csv(tmp_path / "run_0" / "progress.csv")
    # An evaluation before training (Iteration -1), then one at the log interval.
    assert [int(r["Iteration"]) for r in rows] == [-1, 7]
    assert all(0 < int(r["StepsInEval"]) <= 400 for r in rows)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--sampler", "cpu", "--workers", "0"], ["sampler.workers", ">= 1", "0"]),
        (["--set", "sampler.kind=threads"], ["sampler.kind", "'cpu'", "threads"]),
        (["--set", "sampler.workers=two"], ["sampler.workers", "integer"]),
        (
            ["--sampler", "alternating", "--set", "agent.name=mlp_lstm"],
            ["alternating", "recurrent", "mlp_lstm"],
        ),
        (["--sampler", "alternating", "--workers", "1"], ["alternating", "at least 2 workers"]),
    ],
)
def test_bad_sampler_settings_refused(args, expected, tmp_path, capsys, no_env_built):
    code = main(
        ["train", "--algo", "ppo", "--env", "CartPole-v1", "--log-dir", str(tmp_path)] + args
    )
    assert code == 2
    err = capsys.readouterr().err
    for fragment in expected:
        assert fragment in err
    assert not no_env_built
    assert not os.listdir(tmp_path)


def test_unknown_sampler_kind_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--algo", "ppo", "--env", "CartPole-v1", "--sampler", "threads"])
    assert info.value.code == 2
    assert "invalid choice: 'threads'" in capsys.readouterr().err


def test_print_config_shows_sampler_flags(capsys, no_env_built):
    code = main(["train", "--algo", "ppo", "--env", "CartPole-v1", "--print-config"])
    assert code == 0
    config = json.loads(capsys.readouterr().out)
    assert config["sampler"]["kind"] == "serial" and config["sampler"]["workers"] is None
    code = main(
        ["train", "--algo", "ppo", "--env", "CartPole-v1", "--print-config"]
        + ["--sampler", "gpu", "--workers", "3"]
    )
    assert code == 0
    config = json.loads(capsys.readouterr().out)
    assert config["sampler"]["kind"] == "gpu" and config["sampler"]["workers"] == 3


def test_workers_with_serial_sampler_warns(no_env_built):
    with pytest.warns(UserWarning, match="no effect with sampler.kind='serial'"):
        build_experiment(cartpole_config("sampler.workers=2"))


def test_resume_of_a_run_without_sampler_kind(trained_run, tmp_path, capsys, no_env_built):
    # Run directories written before --sampler existed: their config has no sampler.kind.
    run_dir = tmp_path / "run_0"
    shutil.copytree(trained_run[0], run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    del config["sampler"]["kind"], config["sampler"]["workers"]
    (run_dir / "config.json").write_text(json.dumps(config))
    code = main(["train", "--resume", str(run_dir), "--sampler", "cpu", "--print-config"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["sampler"]["kind"] == "cpu"


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "algo, extra",
    [
        ("dqn", ["--sampler", "cpu", "--workers", "2"]),
        ("cat_dqn", []),
        ("r2d1", ["--sampler", "gpu", "--workers", "2"]),
    ],
)
def test_train_q_learning_family(algo, extra, tmp_path):
    args = ["train", "--algo", algo, "--env", "CartPole-v1", "--seed", "1"]
    args += ["--log-dir", str(tmp_path), "--run-id", "0", "--steps", "2560", *extra]
    args += ["--set", "algo.min_steps_learn=1280", "runner.log_interval_steps=1280"]
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "run_0"
    _, rows = read_csv(run_dir / "progress.csv")
    assert [int(r["CumSteps"]) for r in rows] == [1280, 2560]
    # Learning starts after min_steps_learn: no gradient step in the first interval.
    assert rows[0]["loss"] in ("nan", "") and float(rows[1]["loss"]) > 0
    assert int(rows[1]["CumUpdates"]) > 0
    assert (run_dir / "params.pkl").stat().st_size > 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_train_q_function_policy_gradient(algo, tmp_path):
    args = ["train", "--algo", algo, "--env", "Pendulum-v1", "--seed", "1"]
    args += ["--log-dir", str(tmp_path), "--run-id", "0", "--steps", "400"]
    args += ["--set", "algo.min_steps_learn=200", "runner.log_interval_steps=200"]
    args += ["algo.batch_size=64", "algo.replay_ratio=64", "agent.model_kwargs.hidden_sizes=[32]"]
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, rows = read_csv(tmp_path / "run_0" / "progress.csv")
    assert [int(r["CumSteps"]) for r in rows] == [200, 400]
    # Learning from 200 steps on, one gradient step per env step (replay ratio 64, batch 64).
    assert int(rows[0]["CumUpdates"]) == 0 and int(rows[1]["CumUpdates"]) == 200
    assert float(rows[1]["qLoss"]) > 0


def test_q_learning_on_continuous_actions_refused(capsys, no_env_built):
    code = main(["train", "--algo", "dqn", "--env", "Pendulum-v1", "--print-config"])
    assert code == 2
    assert "needs discrete actions" in capsys.readouterr().err
