"""Planning runs from the command line: ``train --algo mcts ...``, resume, refusals, a grid."""

import csv
import inspect
import json
import textwrap

import pytest

from rlpyt.algos.planning import NoTraining, SupervisedFromSearch
from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.cli.main import main
from rlpyt.cli.planning import _TRAINING, PLANNERS
from rlpyt.runners.episodes import EpisodeRunner
from tests.cli.test_cli import run_cli

# MCTS on Hanoi with 2 disks: 2 envs, 5 passes a step, a few updates an epoch.
TINY_MCTS = [
    "train",
    "--algo",
    "mcts",
    "--env",
    "rlpyt/Hanoi-v0",
    "--seed",
    "3",
    "--set",
    "env.kwargs.n_disks=2",
    "sampler.n_envs=2",
    "sampler.episode_time_limit=20",
    "agent.kwargs.n_passes=5",
    "algo.n_updates_per_epoch=5",
    "algo.batch_size=8",
    "runner.n_epochs=2",
]


def progress(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_planner_has_a_default_config_that_builds():
    for algo in PLANNERS:
        config = default_config(algo, "rlpyt/Hanoi-v0")
        assert config["runner"]["kind"] == "episodes"
        runner = build_experiment(config)
        assert isinstance(runner, EpisodeRunner)
        trains = config["agent"]["network"]
        assert isinstance(runner.algo, SupervisedFromSearch if trains else NoTraining)
        assert (runner.agent.ModelCls is not None) == trains


def test_the_training_section_lists_every_setting_of_supervised_from_search():
    params = inspect.signature(SupervisedFromSearch).parameters
    # The targets follow the network's heads; optimizer objects are not config values.
    not_listed = {
        "value_target",
        "policy_target",
        "q_target",
        "OptimCls",
        "optim_kwargs",
        "initial_optim_state_dict",
    }
    assert set(_TRAINING) == set(params) - not_listed
    for key, value in _TRAINING.items():
        default = params[key].default
        assert value == (list(default) if isinstance(default, tuple) else default), key


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "100"], "give their number with --set runner.n_epochs=N"),
        (["--runner", "minibatch"], "runner.kind='episodes'"),
        (["--sampler", "gpu"], "one of serial, cpu, ray"),
        (["--set", "agent.network=False"], "algo.train=True trains the planner's network"),
        (["--set", "sampler.n_envs=0"], "sampler.n_envs"),
        (["--set", "runner.n_epochs=0"], "runner.n_epochs"),
        (["--set", "algo.value_target=solvd"], "value_target"),
        (["--set", "algo.batchsize=3"], "did you mean 'algo.batch_size'"),
    ],
)
def test_bad_planning_settings_are_refused_before_anything_starts(tmp_path, capsys, argv, message):
    args = ["train", "--algo", "mcts", "--env", "rlpyt/Hanoi-v0", "--log-dir", str(tmp_path)]
    assert main(args + argv) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no run directory


def test_model_free_algorithms_refuse_the_episode_runner(capsys):
    assert main(["train", "--algo", "ppo", "--env", "CartPole-v1", "--runner", "episodes"]) == 2
    assert "runner.kind='episodes' is the planners' runner" in capsys.readouterr().err


@pytest.mark.timeout(300)
def test_train_then_resume_a_planning_run(tmp_path):
    log_dir = tmp_path / "mcts"
    proc = run_cli(*TINY_MCTS, "--log-dir", str(log_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = log_dir / "run_0"
    rows = progress(run_dir)
    assert [int(r["Iteration"]) for r in rows] == [0, 1]
    for column in ("episode/solved_rate", "episode/return_mean", "agent/tree_size", "valueLoss"):
        assert column in rows[0]
    assert all(int(r["episode/count"]) == 2 for r in rows)
    assert [int(r["CumUpdates"]) for r in rows] == [5, 10]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algo_name"] == "mcts" and config["env"]["kwargs"] == {"n_disks": 2}
    assert (run_dir / "curves.png").exists()

    proc = run_cli("train", "--resume", str(run_dir), "--set", "runner.n_epochs=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = progress(run_dir)
    assert [int(r["Iteration"]) for r in rows] == [0, 1, 2]
    assert [int(r["CumUpdates"]) for r in rows] == [5, 10, 15]


GRID = """
title: shooting_grid
runs_per_setting: 1
affinity: {n_cpu_core: 2, cpu_per_run: 1, n_gpu: 0}
allow_oversubscribe: true
base:
  algo_name: shooting
  env: {id: CartPole-v1}
  sampler: {n_envs: 2, episode_time_limit: 10}
  runner: {n_epochs: 1, seed: 1}
grid:
  - {key: agent.kwargs.n_rollouts, values: [1, 4]}
  - {key: agent.kwargs.rollout_time_limit, values: [5, 20]}
"""


def test_a_grid_of_planner_settings_goes_through_the_launcher(tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(textwrap.dedent(GRID))
    assert main(["launch", str(grid), "--root", str(tmp_path / "out"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "4 settings x 1 runs" in out
    assert out.count(": run (new)") == 4


def test_planner_keywords_reach_the_agent():
    config = apply_overrides(
        default_config("mcts", "rlpyt/Hanoi-v0"),
        ["agent.kwargs.n_passes=7", "agent.model_kwargs.hidden_sizes=[8]", "sampler.n_envs=3"],
    )
    runner = build_experiment(config)
    assert runner.agent.n_passes == 7
    assert runner.agent.model_kwargs["hidden_sizes"] == [8]
    assert runner.sampler.n_envs == 3


@pytest.mark.parametrize("name", ["bfs_bitflipper", "bfs_hanoi", "bfs_toy_mr"])
def test_the_shipped_bfs_configs_build_a_trained_best_first_search(name):
    from rlpyt.agents.planning import BestFirstSearchAgent
    from rlpyt.cli.config_files import config_from_file

    config = config_from_file(f"examples/planning/{name}.yaml")
    runner = build_experiment(config)
    assert isinstance(runner.agent, BestFirstSearchAgent)
    assert isinstance(runner.algo, SupervisedFromSearch)
    assert runner.agent.n_expansions == 10


@pytest.mark.parametrize(
    "name, agent, algo",
    [
        ("mcts_hanoi", "DeterministicMctsAgent", SupervisedFromSearch),
        ("mcts_sokoban", "DeterministicMctsAgent", SupervisedFromSearch),
        ("shooting_cartpole", "ShootingAgent", NoTraining),
        ("stochastic_mcts_frozenlake", "StochasticMctsAgent", NoTraining),
    ],
)
def test_the_other_shipped_planning_configs_build(name, agent, algo):
    from rlpyt.cli.build import check_env
    from rlpyt.cli.config_files import config_from_file

    config = config_from_file(f"examples/planning/{name}.yaml")
    runner = build_experiment(config)
    assert type(runner.agent).__name__ == agent
    assert isinstance(runner.algo, algo)
    check_env(config["env"])  # the env and its kwargs exist
