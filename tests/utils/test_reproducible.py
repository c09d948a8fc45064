"""``reproducible=True``: the same progress.csv whatever numeric path the machine would take.

A machine's numeric path is emulated from the outside: ``MKL_CBWR=AVX2`` and
``ATEN_CPU_CAPABILITY=avx2`` force the paths this machine takes by itself, while
``ATEN_CPU_CAPABILITY=default`` forces another (the paths of CPUs with other instruction
sets). Runs go through the real entry point in a subprocess: the settings must be in place
before torch loads, so the CLI re-executes itself with them.
"""

import os
import subprocess
import sys

import pytest
from progress_rows import read_rows

from rlpyt.cli.main import main
from rlpyt.utils.reproducible import (
    enter_reproducible_mode,
    missing_settings,
    reproducible_environment,
)

# PPO on CartPole, 8 iterations of 16 x 4 steps, a row every 2 iterations.
TINY = ["--set", "sampler.batch_T=16", "sampler.batch_B=4", "runner.log_interval_steps=128"]
NUMERIC_PATHS = {
    "mkl_avx2": {"MKL_CBWR": "AVX2"},
    "aten_avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "aten_default": {"ATEN_CPU_CAPABILITY": "default"},
}


def clean_environ(**extra):
    env = {k: v for k, v in os.environ.items() if k not in reproducible_environment()}
    return dict(env, **extra)


def train(log_dir, run_id, outer_env, reproducible):
    args = ["train", "--algo", "ppo", "--env", "CartPole-v1", "--seed", "5", "--steps", "512"]
    args += ["--log-dir", str(log_dir), "--run-id", str(run_id), *TINY]
    args += [f"runner.reproducible={reproducible}"]
    done = subprocess.run(
        [sys.executable, "-m", "rlpyt", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=clean_environ(**outer_env),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return read_rows(os.path.join(log_dir, f"run_{run_id}"))


@pytest.mark.timeout(600)
def test_reproducible_runs_agree_across_numeric_paths(tmp_path):
    runs = {
        name: train(tmp_path, i, env, reproducible=True)
        for i, (name, env) in enumerate(NUMERIC_PATHS.items())
    }
    assert len(runs["mkl_avx2"]) == 4
    assert float(runs["mkl_avx2"][-1]["loss"]) != 0.0
    assert runs["mkl_avx2"] == runs["aten_avx2"] == runs["aten_default"]
    # Without the option the numeric path shows in the results: the check above can fail.
    plain = train(tmp_path, 10, NUMERIC_PATHS["aten_avx2"], reproducible=False)
    other = train(tmp_path, 11, NUMERIC_PATHS["aten_default"], reproducible=False)
    assert plain != other
    config = (tmp_path / "run_0" / "config.json").read_text()
    assert '"reproducible": true' in config


def test_runner_refuses_a_process_without_the_environment(monkeypatch):
    monkeypatch.delenv("MKL_CBWR", raising=False)
    with pytest.raises(RuntimeError, match=r"MKL_CBWR=COMPATIBLE.*ensure_reproducible_process"):
        enter_reproducible_mode()


def test_missing_settings_names_each_variable():
    ready = reproducible_environment()
    assert missing_settings(ready) == []
    assert missing_settings(dict(ready, MKL_CBWR="AVX2")) == ["MKL_CBWR=COMPATIBLE"]
    assert "ATEN_CPU_CAPABILITY=default" in missing_settings({})


def test_cli_in_process_refuses_rather_than_reexecuting(tmp_path, monkeypatch, capsys):
    # main(argv) called from Python must not replace the caller's process.
    monkeypatch.delenv("MKL_CBWR", raising=False)
    argv = ["train", "--algo", "ppo", "--env", "CartPole-v1", "--log-dir", str(tmp_path)]
    assert main([*argv, "--set", "runner.reproducible=True"]) == 2
    assert "runner.reproducible=True needs a process started with" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_script_reexecutes_itself_with_the_environment():
    code = (
        "from rlpyt.utils.reproducible import ensure_reproducible_process\n"
        "ensure_reproducible_process()\n"
        "import os, sys, torch\n"
        "print(os.environ['MKL_CBWR'], torch.backends.cpu.get_cpu_capability(), sys.argv[1:])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "an-arg"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environ(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["COMPATIBLE", "DEFAULT", "['an-arg']"]


def test_async_runner_refuses_reproducible():
    from rlpyt.agents.dqn.mlp import DqnMlpAgent
    from rlpyt.algos.dqn.dqn import DQN
    from rlpyt.envs.gym import gym_make
    from rlpyt.runners.async_rl import AsyncRl
    from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler

    sampler = AsyncSerialSampler(
        EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=4, batch_B=2
    )
    with pytest.raises(ValueError, match="cannot be reproducible"):
        AsyncRl(
            algo=DQN(),
            agent=DqnMlpAgent(),
            sampler=sampler,
            n_steps=100,
            reproducible=True,
        )
