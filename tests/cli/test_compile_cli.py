"""``--compile`` and ``agent.compile``: where they land in the config and the agent, and the
refusals (in-process, nothing built)."""

import json

import pytest

from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.cli.main import main
from rlpyt.cli.runners import fill_missing_keys


@pytest.mark.parametrize("algo, env", [("sac", "Pendulum-v1"), ("dqn", "pong"), ("ppo", "pong")])
def test_compile_flag_sets_agent_compile(capsys, algo, env):
    assert main(["train", "--algo", algo, "--env", env, "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["agent"]["compile"] is False
    assert main(["train", "--algo", algo, "--env", env, "--compile", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["agent"]["compile"] is True


def test_agent_compile_reaches_the_agent_and_a_bad_backend_is_refused():
    config = default_config("sac", "Pendulum-v1")
    runner = build_experiment(apply_overrides(config, ["agent.compile=True"]))
    assert runner.agent.compile_backend == "inductor"
    assert build_experiment(config).agent.compile_backend is None
    with pytest.raises(ValueError, match="'inductr' is not a torch.compile backend rlpyt runs"):
        build_experiment(apply_overrides(config, ["agent.compile=inductr"]))


def test_compile_flag_refused_for_a_planner(capsys):
    code = main(["train", "--algo", "shooting", "--env", "CartPole-v1", "--compile"])
    assert code == 2
    assert "--compile: 'shooting' has no agent.compile setting" in capsys.readouterr().err


def test_configs_saved_before_compile_existed_get_it_off():
    config = default_config("dqn", "CartPole-v1")
    del config["agent"]["compile"]
    fill_missing_keys(config)
    assert config["agent"]["compile"] is False
