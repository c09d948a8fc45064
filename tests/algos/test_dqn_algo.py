"""DQN end to end on probe envs: truncation bootstrapping and wait-reset collectors."""

import numpy as np
import pytest
import torch
from probe_envs import ConstantRewardEnv, CountingEnv

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.parallel.cpu.collectors import CpuWaitResetCollector
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

pytestmark = pytest.mark.timeout(120)


def test_time_limit_cut_bootstraps_q_to_r_over_one_minus_gamma(tmp_path):
    """Reward 1 each step, episodes only ever cut by a time limit: Q -> 1 / (1 - gamma).

    Treating the cut as terminal would instead teach Q(s_t) = sum of the rewards left
    before the limit, (1 - gamma^(20 - t)) / (1 - gamma) <= 8.8 here, and Q(s_19) = 1.
    """
    torch.set_num_threads(1)
    gamma = 0.9
    sampler = SerialSampler(
        EnvCls=ConstantRewardEnv,
        env_kwargs=dict(horizon=20),
        batch_T=16,
        batch_B=4,
        max_decorrelation_steps=0,
    )
    algo = DQN(
        discount=gamma,
        batch_size=64,
        min_steps_learn=256,
        replay_size=4096,
        replay_ratio=8,
        target_update_interval=20,
        learning_rate=3e-3,
        eps_steps=64,
        n_step_return=3,
    )
    agent = DqnMlpAgent(model_kwargs=dict(hidden_sizes=[32]))
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=12_800,
        seed=3,
        log_interval_steps=6400,
        progress_bar=False,
    )
    with logger_context(tmp_path, 0, "timeout_probe"):
        runner.train()
    # Observations along an episode: the reset one, then (sin t, cos t) for t = 1..19.
    t = np.arange(1, 20)
    obs = np.concatenate([np.zeros((1, 2)), np.stack([np.sin(t), np.cos(t)], 1)])
    with torch.no_grad():
        q = agent(
            torch.as_tensor(obs, dtype=torch.float32), torch.zeros(20).long(), torch.zeros(20)
        )
    expected = 1 / (1 - gamma)
    assert q.min().item() > 0.85 * expected, q
    assert q.max().item() < 1.15 * expected, q
    # The step right before the cut is where treating it as terminal would give 1.
    assert q[-1].min().item() > 0.85 * expected


def test_wait_reset_padding_is_stored_but_never_trained_on():
    """With a wait-reset collector an env idles after its done; those steps are padding."""
    torch.set_num_threads(1)
    sampler = SerialSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3, 5)),
        batch_T=8,
        batch_B=2,
        max_decorrelation_steps=0,
        CollectorCls=CpuWaitResetCollector,
    )
    agent = DqnMlpAgent(model_kwargs=dict(hidden_sizes=[8]))
    examples = sampler.initialize(agent, seed=0, final_observation=True)
    algo = DQN(batch_size=16, min_steps_learn=0, replay_size=256, replay_ratio=1)
    algo.initialize(agent, n_itr=10, batch_spec=sampler.batch_spec, mid_batch_reset=False,
                    examples=examples)  # fmt: skip
    assert not sampler.mid_batch_reset
    try:
        for itr in range(6):
            samples, _ = sampler.obtain_samples(itr)
            algo.append_samples(samples)
    finally:
        sampler.shutdown()
    # Padding rows hold the zeroed observation and reward 0; real CountingEnv steps have
    # reward action + 1 >= 1. Every sampled transition must be a real step.
    for _ in range(50):
        batch = algo.replay_buffer.sample_batch(16)
        assert (batch.return_ >= 1).all()


def test_r2d1_trains_on_atari_frames_from_a_sequence_frame_replay(tmp_path):
    """R2D1 on Pong frames: the sequence replay stores each frame once (with traj_done)."""
    from rlpyt.agents.dqn.atari.atari_r2d1_agent import AtariR2d1Agent
    from rlpyt.algos.dqn.r2d1 import R2D1
    from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
    from rlpyt.replays.collections import SamplesToBufferRnnFrame

    torch.set_num_threads(1)
    sampler = SerialSampler(
        EnvCls=AtariEnv,
        env_kwargs=dict(game="pong", frame_shape=(42, 42), horizon=40),
        TrajInfoCls=AtariTrajInfo,
        batch_T=8,
        batch_B=2,
        max_decorrelation_steps=0,
    )
    algo = R2D1(
        batch_T=4,
        batch_B=2,
        warmup_T=2,
        store_rnn_state_interval=4,
        min_steps_learn=64,
        replay_size=400,
        replay_ratio=4,
        n_step_return=2,
        target_update_interval=4,
        eps_steps=64,
    )
    agent = AtariR2d1Agent(model_kwargs=dict(fc_size=32, lstm_size=16, head_size=16))
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=128,
        seed=1,
        log_interval_steps=128,
        progress_bar=False,
    )
    with logger_context(tmp_path, 0, "r2d1_frames"):
        runner.train()
    assert isinstance(algo.replay_buffer.example, SamplesToBufferRnnFrame)
    assert algo.update_counter > 0
