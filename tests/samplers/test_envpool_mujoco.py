"""The envpool env backend for gymnasium MuJoCo ids (rlpyt.envs.envpool_mujoco).

EnvPool's reset noise comes from its own generator, so its runs are not the python backend's;
what is compared: the dynamics from the same state (gymnasium's env set to the batch's
state), the flags (terminations, time-limit cuts and their final observations), the
env_info schema, and the samplers' use of the batch. Skipped where the ``envpool`` extra is
absent (CI installs it: tests/test_ci_extras.py).
"""

import pickle

import gymnasium
import numpy as np
import pytest
import torch

pytest.importorskip("envpool", reason="the 'envpool' extra is not installed")

from rlpyt.agents.qpg.sac_agent import SacAgent  # noqa: E402
from rlpyt.cli.build import make_env_factory  # noqa: E402
from rlpyt.envs.envpool_mujoco import EnvPoolMujocoBatch, EnvPoolMujocoEnvs  # noqa: E402
from rlpyt.envs.gym import GymEnvWrapper  # noqa: E402
from rlpyt.samplers.env_batch import GuardedEnvBatch  # noqa: E402
from rlpyt.samplers.serial.sampler import SerialSampler  # noqa: E402


def test_dynamics_and_rewards_are_gymnasiums_from_the_same_state():
    """HalfCheetah's observation leaves out x, and its dynamics do not depend on x: set a
    gymnasium env to the batch's state (x = 0) and step both with the same actions."""
    batch = EnvPoolMujocoBatch("HalfCheetah-v5", [5])
    obs = batch.reset([0])[0].astype(np.float64)
    env = gymnasium.make("HalfCheetah-v5").unwrapped
    env.reset(seed=0)
    # From the float32 observation (EnvPool's state is float64): equal to float32 rounding.
    env.set_state(np.concatenate([[0.0], obs[:8]]), obs[8:])
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(-1, 1, size=6)
        step = batch.step(action[None])
        expected, reward, terminated, truncated, info = env.step(action)
        np.testing.assert_allclose(step.observation[0], expected, rtol=1e-5, atol=1e-5)
        assert step.reward[0] == pytest.approx(reward, rel=1e-5, abs=1e-6)
        assert step.env_info.reward_forward[0] == pytest.approx(info["reward_forward"], abs=1e-5)
    batch.close()


def test_terminations_time_limits_and_env_info_schema():
    per_env = GymEnvWrapper(gymnasium.make("Hopper-v5", max_episode_steps=30))
    batch = EnvPoolMujocoBatch("Hopper-v5", [1, 2, 3], max_episode_steps=30)
    assert batch.horizon == 30 and batch.spaces.observation.shape == (11,)
    assert batch._env_info._fields == type(per_env.env_info_zero)._fields
    batch.reset([0, 1, 2])
    # A full push falls over before the time limit; a null action stands until it.
    action = np.stack([np.ones(3), np.ones(3), np.zeros(3)]).astype(np.float32)
    ended = {}
    for t in range(30):
        active = np.array([b not in ended for b in range(3)])
        step = batch.step(action, active=active)
        assert np.isfinite(step.observation[active]).all()
        for b in np.flatnonzero(step.done & active):
            ended[b] = (t + 1, bool(step.env_info.timeout[b]))
    assert ended[2] == (30, True)  # the time limit: done and timeout
    assert ended[0][0] < 30 and not ended[0][1]  # a termination: done, not a timeout
    assert step.env_info.reward_survive.tolist() == [0, 0, 0]  # not reported by EnvPool
    with pytest.raises(RuntimeError, match=r"env 0 stepped after its trajectory ended"):
        batch.step(action)
    assert batch.reset([0]).shape == (1, 11)
    with pytest.raises(TypeError, match=r"EnvPool\(Hopper-v5\): EnvPool's envs cannot be pickled"):
        pickle.dumps(batch)
    batch.close()


def test_serial_sampler_steps_the_batch_with_bootstrapping_flags():
    torch.manual_seed(0)
    sampler = SerialSampler(
        EnvCls=EnvPoolMujocoEnvs("Hopper-v5"),
        env_kwargs=dict(max_episode_steps=12),
        batch_T=16,
        batch_B=2,
        max_decorrelation_steps=0,
    )
    sampler.initialize(SacAgent(), seed=3, bootstrap_value=False, final_observation=True)
    assert isinstance(sampler.collector.envs, GuardedEnvBatch)
    samples, completed = sampler.obtain_samples(0)
    env = samples.env
    timeouts = env.env_info.timeout
    assert timeouts[11].all() and int(timeouts.sum()) == 2  # both cut at step 12
    assert env.done[11].all()
    # The final observation of a cut is kept (for bootstrapping); the next step starts anew.
    assert not torch.equal(env.final_observation[11], env.observation[12])
    assert torch.count_nonzero(env.final_observation[11]) > 0
    assert [t.Length for t in completed] == [12, 12]
    with pytest.warns(UserWarning, match="cannot be pickled"):
        sampler.state_dict()
    sampler.shutdown()


def test_cli_backend_and_refusals():
    EnvCls, kwargs, _ = make_env_factory({"id": "Hopper-v5", "backend": "envpool"})
    assert isinstance(EnvCls, EnvPoolMujocoEnvs) and kwargs == {}
    assert isinstance(EnvCls(), GymEnvWrapper)  # one env (the example env): gymnasium's
    assert pickle.loads(pickle.dumps(EnvCls)).env_id == "Hopper-v5"  # spawned workers get it
    refusals = [
        ({"id": "CartPole-v1"}, r"supports Atari games \(AtariEnv\) and gymnasium's MuJoCo ids"),
        ({"id": "Hopper-v5", "kwargs": {"bogus_weight": 1.0}}, r"cannot pass \['bogus_weight'\]"),
    ]
    for config, message in refusals:
        with pytest.raises(ValueError, match=message):
            make_env_factory(dict(config, backend="envpool"))
