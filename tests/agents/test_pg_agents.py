"""Policy-gradient agents: step/__call__/value shapes and dtypes, recurrent state handling."""

import numpy as np
import pytest
import torch

from rlpyt.agents.pg.atari import AtariFfAgent, AtariLstmAgent
from rlpyt.agents.pg.base import AgentInfo, AgentInfoRnn
from rlpyt.agents.pg.mlp import MlpFfAgent, MlpLstmAgent
from rlpyt.agents.pg.mujoco import MujocoFfAgent, MujocoLstmAgent
from rlpyt.distributions.categorical import DistInfo
from rlpyt.distributions.gaussian import DistInfoStd
from rlpyt.envs.base import EnvSpaces
from rlpyt.envs.gym import gym_make
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox

T, B = 4, 3
ATARI_SPACES = EnvSpaces(observation=IntBox(0, 256, (4, 84, 84), "uint8"), action=IntBox(0, 6))
ATARI_KWARGS = dict(fc_sizes=32, lstm_size=16)


@pytest.fixture(scope="module")
def cartpole_spaces():
    env = gym_make("CartPole-v1")
    yield env.spaces
    env.close()


@pytest.fixture(scope="module")
def pendulum_spaces():
    env = gym_make("Pendulum-v1")
    spaces = env.spaces
    env.close()
    assert isinstance(_rlpyt_space(spaces.action), FloatBox)
    return spaces


def _rlpyt_space(space):
    """The rlpyt space inside a GymSpaceWrapper (or the space itself)."""
    return getattr(space, "space", space)


def _inputs(spaces, lead, seed=0):
    """Random (observation, prev_action, prev_reward) with leading dims ``lead``."""
    rng = np.random.default_rng(seed)
    obs_space, act_space = (_rlpyt_space(s) for s in spaces)
    if isinstance(obs_space, IntBox):
        obs = rng.integers(0, 256, lead + obs_space.shape).astype(obs_space.dtype)
    else:
        obs = rng.standard_normal(lead + obs_space.shape).astype(np.float32)
    if isinstance(act_space, IntBox):
        act = rng.integers(0, act_space.n, lead)
    else:
        act = rng.standard_normal(lead + act_space.shape).astype(np.float32)
    rew = rng.standard_normal(lead).astype(np.float32)
    return tuple(torch.from_numpy(np.asarray(x)) for x in (obs, act, rew))


def _make(AgentCls, spaces, **model_kwargs):
    torch.manual_seed(0)
    agent = AgentCls(model_kwargs=model_kwargs or None)
    agent.initialize(spaces)
    agent.sample_mode(0)
    return agent


def _case(name, cartpole_spaces, pendulum_spaces):
    return {
        "mlp_ff": (MlpFfAgent, cartpole_spaces, {}),
        "mlp_lstm": (MlpLstmAgent, cartpole_spaces, {}),
        "atari_ff": (AtariFfAgent, ATARI_SPACES, dict(fc_sizes=32)),
        "atari_lstm": (AtariLstmAgent, ATARI_SPACES, ATARI_KWARGS),
        "mujoco_ff": (MujocoFfAgent, pendulum_spaces, {}),
        "mujoco_lstm": (MujocoLstmAgent, pendulum_spaces, dict(hidden_sizes=[16], lstm_size=8)),
    }[name]


ALL = ["mlp_ff", "mlp_lstm", "atari_ff", "atari_lstm", "mujoco_ff", "mujoco_lstm"]
RECURRENT = ["mlp_lstm", "atari_lstm", "mujoco_lstm"]


@pytest.mark.parametrize("name", ALL)
def test_step_call_value_shapes(name, cartpole_spaces, pendulum_spaces):
    AgentCls, spaces, kwargs = _case(name, cartpole_spaces, pendulum_spaces)
    agent = _make(AgentCls, spaces, **kwargs)
    discrete = isinstance(_rlpyt_space(spaces.action), IntBox)
    act_shape = () if discrete else spaces.action.shape
    step = agent.step(*_inputs(spaces, (B,)))
    info = step.agent_info
    assert isinstance(info, AgentInfoRnn if agent.recurrent else AgentInfo)
    assert step.action.shape == (B, *act_shape) and step.action.device.type == "cpu"
    assert step.action.dtype == (torch.long if discrete else torch.float32)
    assert info.value.shape == (B,) and info.value.dtype == torch.float32
    if discrete:
        assert isinstance(info.dist_info, DistInfo)
        assert info.dist_info.prob.shape == (B, spaces.action.n)
        assert ((step.action >= 0) & (step.action < spaces.action.n)).all()
    else:
        assert isinstance(info.dist_info, DistInfoStd)
        assert info.dist_info.mean.shape == info.dist_info.log_std.shape == (B, *act_shape)
    if agent.recurrent:
        h = info.prev_rnn_state.h
        assert h.shape == (B, 1, agent.model.lstm.hidden_size)
        assert torch.equal(h, torch.zeros_like(h))  # first step after reset
    # Training call on [T, B] inputs keeps gradients.
    agent.train_mode(1)
    inputs = _inputs(spaces, (T, B), seed=1)
    if agent.recurrent:
        dist_info, value, _ = agent(*inputs, None)
    else:
        dist_info, value = agent(*inputs)
    assert value.shape == (T, B) and value.requires_grad
    assert dist_info.get(0).shape[:2] == (T, B)  # get: plain field access
    assert agent.value(*_inputs(spaces, (B,))).shape == (B,)


@pytest.mark.parametrize("name", ["mlp_ff", "mlp_lstm", "mujoco_ff", "mujoco_lstm"])
def test_samples_buffer_from_agent_examples(name, cartpole_spaces, pendulum_spaces):
    """The sampler's example step calls the agent on one unbatched env step."""
    AgentCls, spaces, kwargs = _case(name, cartpole_spaces, pendulum_spaces)
    env = gym_make("CartPole-v1" if spaces is cartpole_spaces else "Pendulum-v1")
    agent = _make(AgentCls, spaces, **kwargs)
    samples, _, _ = build_samples_buffer(
        agent, env, BatchSpec(T, B), bootstrap_value=True, agent_shared=False, env_shared=False
    )
    env.close()
    assert samples.agent.agent_info.value.shape == (T, B)
    if agent.recurrent:
        H = agent.model.lstm.hidden_size
        assert samples.agent.agent_info.prev_rnn_state.h.shape == (T, B, 1, H)
    if agent.recurrent:
        assert agent.prev_rnn_state is None  # the example step leaves no state behind


@pytest.mark.parametrize("name", RECURRENT)
def test_recurrent_steps_equal_sequence_call(name, cartpole_spaces, pendulum_spaces):
    AgentCls, spaces, kwargs = _case(name, cartpole_spaces, pendulum_spaces)
    agent = _make(AgentCls, spaces, **kwargs)
    obs, prev_action, prev_reward = _inputs(spaces, (T, B), seed=3)
    steps = [agent.step(obs[t], prev_action[t], prev_reward[t]) for t in range(T)]
    final_state = agent.prev_rnn_state
    # value() uses the current state and does not advance it.
    agent.value(obs[0], prev_action[0], prev_reward[0])
    assert agent.prev_rnn_state is final_state

    agent.train_mode(0)
    init = steps[0].agent_info.prev_rnn_state
    dist_info, value, next_state = agent(obs, prev_action, prev_reward, init)
    step_dist = [
        torch.stack([s.agent_info.dist_info.get(k) for s in steps]) for k in range(len(dist_info))
    ]
    for got, want in zip(dist_info, step_dist):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        value, torch.stack([s.agent_info.value for s in steps]), atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(next_state.h, final_state.h, atol=1e-5, rtol=1e-5)
    # Restarting from a stored prev_rnn_state reproduces the rest of the sequence.
    mid = steps[2].agent_info.prev_rnn_state
    _, value_mid, _ = agent(obs[2:], prev_action[2:], prev_reward[2:], mid)
    torch.testing.assert_close(value_mid, value[2:], atol=1e-5, rtol=1e-5)


def test_reset_one_zeros_only_that_env(cartpole_spaces):
    agent = _make(MlpLstmAgent, cartpole_spaces)
    obs, pa, pr = _inputs(cartpole_spaces, (B,))
    agent.step(obs, pa, pr)
    before = agent.prev_rnn_state.h.clone()
    agent.reset_one(1)
    after = agent.prev_rnn_state
    assert torch.equal(after.h[1], torch.zeros_like(after.h[1]))
    assert torch.equal(after.c[1], torch.zeros_like(after.c[1]))
    assert torch.equal(after.h[[0, 2]], before[[0, 2]]) and before[1].abs().sum() > 0
    # The next step reports the zeroed state as its prev_rnn_state.
    step = agent.step(obs, pa, pr)
    assert torch.equal(step.agent_info.prev_rnn_state.h[1], torch.zeros_like(before[1]))
    assert torch.equal(step.agent_info.prev_rnn_state.h[0], before[0])
    agent.reset()
    assert agent.prev_rnn_state is None


def test_modes_keep_separate_states(cartpole_spaces):
    agent = _make(MlpLstmAgent, cartpole_spaces)
    obs, pa, pr = _inputs(cartpole_spaces, (B,))
    agent.step(obs, pa, pr)
    sample_state = agent.prev_rnn_state
    agent.train_mode(1)
    assert agent.prev_rnn_state is None
    agent.eval_mode(1)
    assert agent.prev_rnn_state is None  # evaluation starts fresh
    agent.step(obs[:2], pa[:2], pr[:2])  # eval envs (a different B) do not clobber sampling
    agent.reset_one(0)
    agent.sample_mode(2)
    assert agent.prev_rnn_state is sample_state
    assert sample_state.h[0].abs().sum() > 0


def test_update_obs_rms_and_initial_state_dict(pendulum_spaces, cartpole_spaces):
    agent = _make(MujocoFfAgent, pendulum_spaces, normalize_observation=True)
    obs = _inputs(pendulum_spaces, (T, B))[0] * 3
    agent.step(obs[0], *_inputs(pendulum_spaces, (B,))[1:])
    assert agent.model.obs_rms.count.item() == 0  # sampling never updates the statistics
    agent.update_obs_rms(obs)
    assert agent.model.obs_rms.count.item() == T * B
    clone = MujocoFfAgent(
        model_kwargs=dict(normalize_observation=True), initial_model_state_dict=agent.state_dict()
    )
    clone.initialize(pendulum_spaces)
    torch.testing.assert_close(
        clone.value(*_inputs(pendulum_spaces, (B,))), agent.value(*_inputs(pendulum_spaces, (B,)))
    )
    _make(MlpFfAgent, cartpole_spaces).update_obs_rms(obs)  # no normalisation: no-op


def test_categorical_sampling_follows_policy(cartpole_spaces):
    """Actions are drawn from the policy's probabilities (also in eval mode)."""
    agent = _make(MlpFfAgent, cartpole_spaces)
    agent.eval_mode(0)
    obs = torch.zeros(20_000, 4)
    zeros = torch.zeros(20_000, dtype=torch.long)
    torch.manual_seed(1)
    step = agent.step(obs, zeros, zeros.float())
    p1 = step.agent_info.dist_info.prob[0, 1].item()
    assert step.action.float().mean().item() == pytest.approx(p1, abs=0.015)


def test_gaussian_agent_rejects_non_vector_actions():
    spaces = EnvSpaces(observation=FloatBox(-1, 1, (3,)), action=FloatBox(-1, 1, (2, 2)))
    with pytest.raises(ValueError, match="1-D"):
        MujocoFfAgent().initialize(spaces)
