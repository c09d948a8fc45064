"""The original rlpyt 0.1.2's own test suite (three tests), as a user porting it would run it.

Each test below makes exactly the calls of one of the original's tests (same classes,
keywords and values, e.g. ``DQN(min_steps_learn=1e3, replay_size=1e3)``,
``SacAgent(pretrain_std=0.0)``), with ``gym`` replaced by ``gymnasium`` and nothing else;
the assertions are the original's. Written for this project, not copied.
"""

import gymnasium as gym
import numpy as np

from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.envs.gym import make as gym_make
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.spaces.gym_wrapper import GymSpaceWrapper
from rlpyt.utils.logging.context import logger_context
from rlpyt.utils.seed import set_seed


def test_gym_space_wrapper_seed():
    # tests/test_gym_wrapper.py: seeding the wrapped space repeats its samples.
    space = GymSpaceWrapper(gym.spaces.Box(low=np.zeros(1), high=np.ones(1)))
    space.seed(0)
    first = space.sample()
    space.seed(0)
    again = space.sample()
    assert first == again
    assert space.sample() != first


def test_serial_sampler_seed_with_deterministic_sac_agent():
    # tests/test_serial_sampler.py: same seed, same samples; SacAgent(pretrain_std=0.0).
    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs={"id": "MountainCarContinuous-v0"},
        batch_T=1,
        batch_B=1,
    )
    agent = SacAgent(pretrain_std=0.0)
    agent.give_min_itr_learn(10000)

    set_seed(0)
    sampler.initialize(agent, seed=0)
    samples_1 = sampler.obtain_samples(0)

    set_seed(0)
    sampler.initialize(agent, seed=0)
    samples_2 = sampler.obtain_samples(0)
    assert str(samples_1) == str(samples_2)

    samples_3 = sampler.obtain_samples(0)
    assert samples_1 != samples_3


def test_rlpyt_simple(tmp_path, monkeypatch):
    # tests/test_rlpyt.py: example 1's shape, one step, counts written as floats.
    monkeypatch.chdir(tmp_path)  # the original logs into a relative directory
    game = "pong"
    sampler = SerialSampler(
        EnvCls=AtariEnv,
        TrajInfoCls=AtariTrajInfo,
        env_kwargs=dict(game=game),
        eval_env_kwargs=dict(game=game),
        batch_T=4,
        batch_B=1,
        max_decorrelation_steps=0,
        eval_n_envs=10,
        eval_max_steps=int(10e3),
        eval_max_trajectories=5,
    )
    algo = DQN(min_steps_learn=1e3, replay_size=1e3)
    agent = AtariDqnAgent()
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=1,
        log_interval_steps=1e3,
        affinity=dict(cuda_idx=None),
    )
    with logger_context("test_example_1", 0, "dqn_" + game, dict(game=game), snapshot_mode="last"):
        runner.train()
    assert (tmp_path / "test_example_1" / "run_0" / "progress.csv").exists()
