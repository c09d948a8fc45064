"""``python -m rlpyt train --config FILE``: YAML and JSON config files, precedence, errors, rerun.

The config checks run ``main`` in-process with ``--print-config`` (nothing is trained, no env
is built); the rerun test trains twice through a subprocess, as tests/cli/test_cli.py does.
"""

import json
import os
import subprocess
import sys

import pytest

import rlpyt.envs.gym
from rlpyt.cli.config_files import config_from_file, read_config_file
from rlpyt.cli.configs import default_config
from rlpyt.cli.main import main

PPO_YAML = """\
# PPO on CartPole, a few settings changed
algo_name: ppo
env:
  id: CartPole-v1
algo:
  learning_rate: 3e-4   # YAML 1.1 would read this as a string
  epochs: 2
sampler: {batch_T: 16, batch_B: 4}
runner:
  n_steps: 512
  log_interval_steps: 256
  seed: 3
"""


@pytest.fixture
def no_env_built(monkeypatch):
    """Fails the test if an env is constructed."""

    def refuse(*args, **kwargs):
        raise AssertionError("an env was built")

    monkeypatch.setattr(rlpyt.envs.gym, "gym_make", refuse)


def write(path, text):
    path.write_text(text)
    return str(path)


def printed_config(capsys, *args):
    code = main(["train", *args, "--print-config"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def usage_error(capsys, *args):
    """The one-line message of a refused ``train`` command (exit status 2)."""
    code = main(["train", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1
    return err[len("error: ") : -1]


# -- files applied ----------------------------------------------------------------------------


def test_yaml_file_applied_over_the_defaults(tmp_path, capsys, no_env_built):
    path = write(tmp_path / "ppo.yaml", PPO_YAML)
    config = printed_config(capsys, "--config", path)
    expected = default_config("ppo", "CartPole-v1")
    expected["algo"].update(learning_rate=3e-4, epochs=2)
    expected["sampler"].update(batch_T=16, batch_B=4)
    expected["runner"].update(n_steps=512, log_interval_steps=256, seed=3)
    expected["logging"]["log_dir"] = os.path.join("data", "local", "ppo_CartPole-v1")
    assert config == expected
    assert isinstance(config["algo"]["learning_rate"], float)


def test_json_file_with_pass_through_keys_and_log_dir(tmp_path, capsys, no_env_built):
    settings = {
        "algo_name": "a2c",
        "env": {"id": "CartPole-v1", "kwargs": {"max_episode_steps": 200}},
        "agent": {"model_kwargs": {"hidden_sizes": [32, 32]}},
        "algo": {"optim_kwargs": {"eps": 1e-5}},
        "logging": {"log_dir": "runs/a2c", "run_ID": 4},
    }
    path = write(tmp_path / "a2c.json", json.dumps(settings))
    config = printed_config(capsys, "--config", path)
    assert config["algo_name"] == "a2c" and config["algo"]["learning_rate"] == 5e-3
    assert config["env"] == {
        "id": "CartPole-v1",
        "kwargs": {"max_episode_steps": 200},
        "backend": "gym_vector",  # the default, shown
    }
    assert config["agent"] == {
        "name": "mlp_ff",
        "model_kwargs": {"hidden_sizes": [32, 32]},
        "compile": False,
    }
    assert config["algo"]["optim_kwargs"] == {"eps": 1e-5}
    assert config["logging"]["log_dir"] == "runs/a2c" and config["logging"]["run_ID"] == 4
    assert isinstance(config["runner"]["seed"], int)  # none in the file: a fresh one, saved


def test_precedence_file_then_flags_then_set(tmp_path, capsys, no_env_built):
    path = write(tmp_path / "ppo.yml", PPO_YAML + "logging: {log_dir: from_file}\n")
    config = printed_config(
        capsys,
        "--config", path,
        "--steps", "1024", "--seed", "4", "--log-dir", "from_flag", "--sampler", "cpu",
        "--set", "runner.seed=5", "algo.epochs=7",
    )  # fmt: skip
    assert config["runner"]["n_steps"] == 1024  # flag over file
    assert config["runner"]["seed"] == 5  # --set over flag over file
    assert config["algo"]["epochs"] == 7  # --set over file
    assert config["algo"]["learning_rate"] == 3e-4  # file over default
    assert config["sampler"]["batch_B"] == 4 and config["sampler"]["kind"] == "cpu"
    assert config["logging"]["log_dir"] == "from_flag"
    assert config["runner"]["log_interval_steps"] == 256


def test_algo_and_env_flags_override_the_file(tmp_path, capsys, no_env_built):
    path = write(tmp_path / "ppo.yaml", "algo_name: ppo\nenv: {id: CartPole-v1}\n")
    config = printed_config(capsys, "--config", path, "--algo", "a2c", "--env", "Acrobot-v1")
    assert config["algo_name"] == "a2c" and config["env"]["id"] == "Acrobot-v1"
    assert config["algo"] == default_config("a2c", "Acrobot-v1")["algo"]
    assert config["logging"]["log_dir"] == os.path.join("data", "local", "a2c_Acrobot-v1")
    # A file without names takes them from the flags.
    path = write(tmp_path / "steps.yaml", "runner: {n_steps: 64}\n")
    config = printed_config(capsys, "--config", path, "--algo", "ppo", "--env", "CartPole-v1")
    assert config["runner"]["n_steps"] == 64 and config["algo_name"] == "ppo"


# -- errors -----------------------------------------------------------------------------------


def test_unknown_key_in_file_refused_with_hint(tmp_path, capsys, no_env_built):
    path = write(tmp_path / "typo.yaml", PPO_YAML.replace("epochs", "epoch"))
    assert usage_error(capsys, "--config", path, "--log-dir", str(tmp_path)) == (
        f"config file {path}: unknown config key 'algo.epoch'; did you mean 'algo.epochs'?"
    )
    path = write(tmp_path / "section.json", '{"algo_name": "ppo", "runer": {"seed": 1}}')
    assert usage_error(capsys, "--config", path, "--env", "CartPole-v1") == (
        f"config file {path}: unknown config key 'runer'; did you mean 'runner'?"
    )
    assert sorted(os.listdir(tmp_path)) == ["section.json", "typo.yaml"]  # no run directory


def test_set_typos_get_the_same_hint(capsys, no_env_built):
    args = ["--algo", "ppo", "--env", "CartPole-v1", "--set"]
    assert usage_error(capsys, *args, "sampler.learning_rate=1") == (
        "unknown config key 'sampler.learning_rate'; did you mean 'algo.learning_rate'? "
        "(valid keys: see --print-config)"
    )
    assert usage_error(capsys, *args, "agent.kwarg.x=1") == (
        "unknown config key 'agent.kwarg'; did you mean 'agent.kwargs'? "
        "(valid keys: see --print-config)"
    )
    assert usage_error(capsys, *args, "sampler=4") == (
        "--set sampler=4: config key 'sampler' is a section (a dict) and cannot be set to 4: "
        "set the values inside it instead"
    )


@pytest.mark.parametrize(
    "name, text, message",
    [
        (
            "bad.yaml",
            "algo_name: ppo\nalgo:\n  epochs: [2\n",
            "invalid YAML at line 4, column 1: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "bad.json",
            '{"algo_name": "ppo",\n "algo": {"epochs": 2,}}',
            "invalid JSON at line 2, column 23: Expecting property name enclosed in double quotes",
        ),
        (
            "list.yaml",
            "- algo_name: ppo\n",
            "the top level must be a mapping of config sections (algo_name, env, sampler, "
            "agent, algo, runner, logging); got a list",
        ),
        (
            "empty.yaml",
            "# nothing yet\n",
            "the top level must be a mapping of config sections (algo_name, env, sampler, "
            "agent, algo, runner, logging); got nothing (an empty file)",
        ),
        (
            "algo.yaml",
            "algo: ppo\nenv: {id: CartPole-v1}\n",
            "'algo' is the section of the algorithm's settings (a mapping); name the algorithm "
            "with algo_name: ppo",
        ),
        (
            "env.yaml",
            "algo_name: ppo\nenv: CartPole-v1\n",
            "'env' must be a mapping such as {id: CartPole-v1, kwargs: {}}; got 'CartPole-v1'",
        ),
        (
            "name.yaml",
            "algo_name: ppoo\nenv: {id: CartPole-v1}\n",
            "unknown algo_name 'ppoo'; did you mean 'ppo' or 'appo'?",
        ),
        (
            "shape.yaml",
            "algo_name: ppo\nenv: {id: CartPole-v1}\nalgo: {epochs: {n: 2}}\n",
            "config key 'algo.epochs' holds 20, not a section: cannot merge the dict "
            "{'n': 2} into it",
        ),
    ],
)
def test_malformed_file_refused(name, text, message, tmp_path, capsys, no_env_built):
    path = write(tmp_path / name, text)
    assert usage_error(capsys, "--config", path) == f"config file {path}: {message}"


def test_missing_unsupported_and_nameless_files(tmp_path, capsys, no_env_built):
    missing = str(tmp_path / "nope.yaml")
    assert usage_error(capsys, "--config", missing) == f"config file {missing} does not exist"
    toml = write(tmp_path / "ppo.toml", "algo_name = 'ppo'\n")
    assert usage_error(capsys, "--config", toml) == (
        f"config file {toml}: unsupported suffix '.toml'; use .yaml, .yml, .json"
    )
    nameless = write(tmp_path / "steps.yaml", "runner: {n_steps: 64}\n")
    assert usage_error(capsys, "--config", nameless, "--algo", "ppo") == (
        f"config file {nameless} does not name an env (env: {{id: CartPole-v1}}, or --env): "
        "add it to the file or give it on the command line"
    )
    assert usage_error(capsys, "--config", nameless) == (
        f"config file {nameless} does not name an algorithm (algo_name: ppo, or --algo) or "
        "an env (env: {id: CartPole-v1}, or --env): add it to the file or give it on the "
        "command line"
    )
    assert usage_error(capsys, "--config", str(tmp_path)) == (
        f"config file {tmp_path}: unsupported suffix '(none)'; use .yaml, .yml, .json"
    )


def test_config_with_resume_refused(tmp_path, capsys, no_env_built):
    path = write(tmp_path / "ppo.yaml", PPO_YAML)
    run_dir = tmp_path / "run_0"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(config_from_file(path)))
    assert usage_error(capsys, "--resume", str(run_dir), "--config", path) == (
        "--resume continues the saved run with its own settings: drop --config"
    )


def test_read_config_file_returns_the_mapping(tmp_path):
    path = write(tmp_path / "x.yml", "runner: {n_steps: 1e5, seed: null}\nalgo: {lr: .5e-3}\n")
    assert read_config_file(path) == {
        "runner": {"n_steps": 1e5, "seed": None},
        "algo": {"lr": 5e-4},
    }


# -- the saved config reruns the run ----------------------------------------------------------

TIMING_COLUMNS = {"CumTime (s)", "StepsPerSecond", "CumTrainTime", "UpdatesPerSecond"}


def train(*args, cwd):
    proc = subprocess.run(
        [sys.executable, "-m", "rlpyt", "train", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def read_progress(run_dir):
    with open(run_dir / "progress.csv") as f:
        lines = [line.rstrip("\n").split(",") for line in f if line.strip()]
    header = lines[0]
    return header, [
        {k: v for k, v in zip(header, row) if k not in TIMING_COLUMNS} for row in lines[1:]
    ]


@pytest.mark.timeout(300)
def test_rerun_from_saved_config_reproduces_the_run(tmp_path):
    path = write(tmp_path / "ppo.yaml", PPO_YAML)
    train("--config", path, "--log-dir", "first", cwd=tmp_path)
    first = tmp_path / "first" / "run_0"
    saved = json.loads((first / "config.json").read_text())
    assert saved["algo"]["learning_rate"] == 3e-4 and saved["runner"]["seed"] == 3
    # The saved config alone (another directory given, as this one holds a run) repeats it.
    train("--config", str(first / "config.json"), "--log-dir", "second", cwd=tmp_path)
    second = tmp_path / "second" / "run_0"
    rerun = json.loads((second / "config.json").read_text())
    assert rerun == dict(saved, logging=dict(saved["logging"], log_dir="second"))
    header, rows = read_progress(first)
    assert read_progress(second) == (header, rows)
    assert [int(r["CumSteps"]) for r in rows] == [256, 512]
    for column in ("ReturnAverage", "ReturnMax", "loss", "entropy"):
        assert column in header and all(r[column] not in ("", "nan") for r in rows)
