"""Resume: 2N iterations straight == N, kill, resume, N more (serial, same seed)."""

import os

import pytest
import torch
from progress_rows import TIMING, Interrupted, StopAfter, read_rows

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.pg.ppo import PPO
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.checkpoint import CheckpointError
from rlpyt.utils.logging.context import logger_context

T, B, N = 16, 4, 3


def make_runner(RunnerCls=MinibatchRl, resume_from=None, max_episode_steps=30, family="pg"):
    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="CartPole-v1", max_episode_steps=max_episode_steps),
        batch_T=T,
        batch_B=B,
        max_decorrelation_steps=10,
    )
    if family == "pg":
        algo = PPO(learning_rate=1e-3, minibatches=2, epochs=2, linear_lr_schedule=True)
        agent = MlpFfAgent()
    else:  # replay, priorities, target net, epsilon generator and update credit all resume
        algo = DQN(
            min_steps_learn=T * B,
            replay_size=2000,
            batch_size=32,
            replay_ratio=0.75,  # fractional updates per iteration: the credit must resume too
            target_update_interval=2,
            n_step_return=2,
            double_dqn=True,
            prioritized_replay=True,
            eps_steps=4 * T * B,
            learning_rate=1e-3,
        )
        agent = DqnMlpAgent(model_kwargs=dict(hidden_sizes=[32]))
    return RunnerCls(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=2 * N * T * B,
        seed=7,
        log_interval_steps=T * B,
        resume_from=resume_from,
        progress_bar=False,
    )


@pytest.mark.parametrize("family", ["pg", "dqn"])
def test_resume_gives_identical_parameters_and_progress(tmp_path, family):
    torch.set_num_threads(1)
    straight = make_runner(family=family)
    with logger_context(tmp_path / "a", 0, "straight", snapshot_mode="last") as lg:
        straight.train()
    rows_a = read_rows(lg.run_dir)

    first = make_runner(StopAfter, family=family)
    first.stop_itr = N - 1
    with pytest.raises(Interrupted):
        with logger_context(tmp_path / "b", 0, "resumed", snapshot_mode="last") as lg_b:
            first.train()
    # A crash after the snapshot but mid-way through the next interval left an extra row:
    with open(os.path.join(lg_b.run_dir, "progress.csv"), "a") as f:
        f.write(",".join(["99"] * len(rows_a[0]) + ["9"] * len(TIMING)) + "\n")
    resumed = make_runner(resume_from=lg_b.run_dir, family=family)
    with logger_context(tmp_path / "b", 0, "resumed", snapshot_mode="last", resume=True):
        resumed.train()
    rows_b = read_rows(lg_b.run_dir)

    assert len(rows_a) == 2 * N
    assert rows_b == rows_a
    for (name, pa), pb in zip(
        straight.agent.model.named_parameters(), resumed.agent.model.parameters()
    ):
        assert torch.equal(pa, pb), name
    if family == "dqn":
        for (name, pa), pb in zip(
            straight.agent.target_model.named_parameters(),
            resumed.agent.target_model.parameters(),
        ):
            assert torch.equal(pa, pb), "target " + name
        assert straight.algo.update_counter == resumed.algo.update_counter > 0
    opt_a = straight.algo.optimizer.state_dict()["state"]
    opt_b = resumed.algo.optimizer.state_dict()["state"]
    for k in opt_a:
        assert torch.equal(opt_a[k]["exp_avg"], opt_b[k]["exp_avg"])


def test_resume_from_incompatible_snapshot_names_file_and_fields(tmp_path):
    runner = make_runner()
    with logger_context(tmp_path, 0, "x", snapshot_mode="last") as lg:
        runner.train()
    other = make_runner(max_episode_steps=30)
    other.sampler.batch_spec = type(other.sampler.batch_spec)(T, B + 1)
    with pytest.raises(
        CheckpointError, match=r"(?s)params\.pkl.*batch_spec: saved \(16, 4\), current \(16, 5\)"
    ):
        with logger_context(tmp_path, 0, "x", snapshot_mode="last", resume=True):
            other.resume_from = lg.run_dir
            other.train()


def test_corrupt_snapshot_is_an_error_naming_the_file(tmp_path):
    run_dir = tmp_path / "run_0"
    run_dir.mkdir()
    (run_dir / "params.pkl").write_bytes(b"\x00garbage")
    runner = make_runner(resume_from=str(run_dir / "params.pkl"))
    with pytest.raises(CheckpointError, match="params.pkl"):
        with logger_context(tmp_path, 0, "x", resume=True):
            runner.train()
