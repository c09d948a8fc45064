"""R2d1Agent: recurrent state bookkeeping while acting, sequence forward passes, snapshots."""

import pytest
import torch

from rlpyt.agents.dqn.atari.atari_r2d1_agent import AtariR2d1Agent
from rlpyt.agents.dqn.base import AgentInfoRnn
from rlpyt.agents.dqn.mlp import R2d1MlpAgent
from rlpyt.envs.atari.atari_env import AtariEnv
from rlpyt.envs.gym import gym_make
from rlpyt.models.utils import RnnState
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec

torch.set_num_threads(1)

H = 8
MLP = dict(hidden_sizes=(16,), lstm_size=H, head_sizes=(16,))
T, B = 4, 2


@pytest.fixture(scope="module")
def cartpole():
    env = gym_make("CartPole-v1")
    yield env
    env.close()


def _agent(spaces, seed=0, AgentCls=R2d1MlpAgent, model_kwargs=MLP, **kwargs):
    torch.manual_seed(seed)
    agent = AgentCls(model_kwargs=model_kwargs, **kwargs)
    agent.initialize(spaces, global_B=B, env_ranks=list(range(B)))
    return agent


def _sequence(seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(T, B, 4, generator=g)
    prev_action = torch.randint(0, 2, (T, B), generator=g)
    prev_reward = torch.randn(T, B, generator=g)
    return obs, prev_action, prev_reward


def test_example_step_and_samples_buffer(cartpole):
    agent = _agent(cartpole.spaces)
    samples, _, _ = build_samples_buffer(agent, cartpole, BatchSpec(T, B))
    info = samples.agent.agent_info
    assert tuple(info.q.shape) == (T, B, 2)
    assert tuple(info.prev_rnn_state.h.shape) == (T, B, 1, H)  # [T, B, N, H]
    assert agent.prev_rnn_state is None  # the example step leaves no state behind


def test_step_records_the_state_it_started_from(cartpole):
    agent = _agent(cartpole.spaces)
    agent.sample_mode(0)
    obs, pa, pr = _sequence()
    s0 = agent.step(obs[0], pa[0], pr[0])
    assert isinstance(s0.agent_info, AgentInfoRnn)
    assert s0.action.shape == (B,) and s0.agent_info.q.shape == (B, 2)
    assert s0.agent_info.prev_rnn_state.h.shape == (B, 1, H)
    assert torch.equal(s0.agent_info.prev_rnn_state.h, torch.zeros(B, 1, H))  # after reset
    state_after_0 = agent.prev_rnn_state
    s1 = agent.step(obs[1], pa[1], pr[1])
    assert torch.equal(s1.agent_info.prev_rnn_state.h, state_after_0.h)
    assert torch.equal(s1.agent_info.prev_rnn_state.c, state_after_0.c)
    agent.reset_one(1)
    assert torch.equal(agent.prev_rnn_state.h[1], torch.zeros(1, H))
    assert not torch.equal(agent.prev_rnn_state.h[0], torch.zeros(1, H))


def test_call_over_a_sequence_matches_stepping(cartpole):
    agent = _agent(cartpole.spaces, eps_eval=0.0)
    obs, pa, pr = _sequence(1)
    init = RnnState(h=torch.randn(B, 1, H), c=torch.randn(B, 1, H))
    q_seq, state_seq = agent(obs, pa, pr, init)
    assert q_seq.shape == (T, B, 2) and q_seq.requires_grad
    agent.eval_mode(0)
    agent.advance_rnn_state(init)
    for t in range(T):
        step = agent.step(obs[t], pa[t], pr[t])
        assert torch.allclose(step.agent_info.q, q_seq[t].detach(), atol=1e-6)
        assert torch.equal(step.action, step.agent_info.q.argmax(-1))  # eps_eval = 0
    assert torch.allclose(agent.prev_rnn_state.h, state_seq.h.detach(), atol=1e-6)
    # The target network starts as a copy and carries no gradient.
    q_target, _ = agent.target(obs, pa, pr, init)
    assert not q_target.requires_grad
    with torch.no_grad():  # (torch's LSTM may round differently when it records gradients)
        assert torch.equal(q_target, agent(obs, pa, pr, init)[0])


def test_eval_keeps_the_sampling_state(cartpole):
    agent = _agent(cartpole.spaces)
    agent.sample_mode(0)
    obs, pa, pr = _sequence(2)
    agent.step(obs[0], pa[0], pr[0])
    sampling_state = agent.prev_rnn_state
    agent.eval_mode(0)
    assert agent.prev_rnn_state is None
    agent.step(obs[1], pa[1], pr[1])
    agent.sample_mode(1)
    assert agent.prev_rnn_state is sampling_state


def test_sampling_state_dict_holds_rnn_state_and_exploration_rng(cartpole):
    agent = _agent(cartpole.spaces)
    agent.sample_mode(0)
    obs, pa, pr = _sequence(3)
    agent.step(obs[0], pa[0], pr[0])
    state = agent.sampling_state_dict()
    assert set(state) == {"sample", "exploration_rng", "exploration_rng_device"}
    cont = [agent.step(obs[t], pa[t], pr[t]) for t in (1, 2, 3)]
    agent.load_sampling_state_dict(state)
    again = [agent.step(obs[t], pa[t], pr[t]) for t in (1, 2, 3)]
    for a, b in zip(cont, again):
        assert torch.equal(a.action, b.action)
        assert torch.equal(a.agent_info.q, b.agent_info.q)


def test_state_dict_and_target_update(cartpole):
    agent = _agent(cartpole.spaces)
    with torch.no_grad():
        for p in agent.model.parameters():
            p.mul_(2.0)
    other = _agent(cartpole.spaces, seed=1)
    other.load_state_dict(agent.state_dict())
    obs, pa, pr = _sequence(4)
    assert torch.equal(other(obs, pa, pr, None)[0], agent(obs, pa, pr, None)[0])
    assert torch.equal(other.target(obs, pa, pr, None)[0], agent.target(obs, pa, pr, None)[0])
    agent.update_target()
    with torch.no_grad():  # (torch's LSTM may round differently when it records gradients)
        assert torch.equal(agent.target(obs, pa, pr, None)[0], agent(obs, pa, pr, None)[0])


def test_atari_r2d1_step_on_pong_spaces():
    env = AtariEnv(game="pong")
    try:
        spaces = env.spaces
        obs = torch.stack([torch.as_tensor(env.reset()) for _ in range(B)])
    finally:
        env.close()
    kwargs = dict(fc_size=16, lstm_size=H, head_size=16, dueling=True)
    agent = _agent(spaces, AgentCls=AtariR2d1Agent, model_kwargs=kwargs)
    agent.sample_mode(0)
    step = agent.step(obs, torch.tensor([0, 3]), torch.tensor([0.0, 1.0]))
    assert step.action.shape == (B,)
    assert bool(((step.action >= 0) & (step.action < spaces.action.n)).all())
    assert step.agent_info.q.shape == (B, spaces.action.n)
    assert step.agent_info.prev_rnn_state.h.shape == (B, 1, H)
    q, state = agent(obs.unsqueeze(0), torch.zeros(1, B, dtype=torch.long), torch.zeros(1, B), None)
    assert q.shape == (1, B, spaces.action.n) and state.h.shape == (B, 1, H)
