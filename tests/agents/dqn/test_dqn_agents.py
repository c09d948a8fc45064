"""DqnAgent / CatDqnAgent: step on real env spaces, target network updates, state dicts."""

import pytest
import torch

from rlpyt.agents.dqn.atari.atari_catdqn_agent import AtariCatDqnAgent
from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
from rlpyt.agents.dqn.base import AgentInfo
from rlpyt.agents.dqn.catdqn_agent import CatDqnAgent
from rlpyt.agents.dqn.dqn_agent import DqnAgent
from rlpyt.agents.dqn.mlp import CatDqnMlpAgent, DqnMlpAgent
from rlpyt.envs.atari.atari_env import AtariEnv
from rlpyt.envs.gym import gym_make
from rlpyt.models.dqn.mlp import DqnMlpModel
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec

torch.set_num_threads(1)

MLP = dict(hidden_sizes=(16,))
ATARI = dict(fc_sizes=16)


@pytest.fixture(scope="module")
def cartpole():
    env = gym_make("CartPole-v1")
    yield env
    env.close()


@pytest.fixture(scope="module")
def pong():
    env = AtariEnv(game="pong")
    yield env
    env.close()


def _agent(AgentCls, spaces, seed=0, **kwargs):
    torch.manual_seed(seed)
    agent = AgentCls(**kwargs)
    agent.initialize(spaces, global_B=2, env_ranks=[0, 1])
    return agent


def _env_inputs(env, B=2):
    """``[B]`` agent inputs from real env observations."""
    obs = torch.stack([torch.as_tensor(env.reset()) for _ in range(B)])
    return obs, torch.tensor([1, 0]), torch.tensor([0.5, -1.0])


@pytest.mark.parametrize("AgentCls", [DqnMlpAgent, CatDqnMlpAgent])
def test_step_on_cartpole_spaces(cartpole, AgentCls):
    kwargs = dict(model_kwargs=MLP)
    if AgentCls is CatDqnMlpAgent:
        kwargs["n_atoms"] = 7
    agent = _agent(AgentCls, cartpole.spaces, **kwargs)
    # The sampler's example step (no leading dims) and buffer allocation work.
    samples, _, examples = build_samples_buffer(agent, cartpole, BatchSpec(4, 2))
    q_shape = (2, 7) if AgentCls is CatDqnMlpAgent else (2,)
    assert tuple(samples.agent.agent_info.q.shape) == (4, 2) + q_shape
    agent.sample_mode(0)
    step = agent.step(*_env_inputs(cartpole))
    assert isinstance(step.agent_info, AgentInfo)
    assert step.action.shape == (2,) and step.action.dtype == torch.long
    assert bool(((step.action >= 0) & (step.action < 2)).all())
    assert step.agent_info.q.shape == (2,) + q_shape
    assert step.action.device.type == "cpu" and step.agent_info.q.device.type == "cpu"


@pytest.mark.parametrize("AgentCls", [AtariDqnAgent, AtariCatDqnAgent])
def test_step_on_atari_spaces(pong, AgentCls):
    kwargs = dict(model_kwargs=ATARI)
    if AgentCls is AtariCatDqnAgent:
        kwargs["n_atoms"] = 5
    agent = _agent(AgentCls, pong.spaces, eps_eval=0.0, **kwargs)
    assert agent.model.conv.conv[0].in_channels == 4  # image_shape from the spaces
    inputs = _env_inputs(pong)
    agent.eval_mode(0)  # eps 0: the greedy action
    step = agent.step(*inputs)
    out = agent(*inputs)
    n_actions = pong.spaces.action.n
    if AgentCls is AtariCatDqnAgent:
        assert out.shape == (2, n_actions, 5)
        q = agent.distribution.expectation(out)
    else:
        assert out.shape == (2, n_actions)
        q = out
    assert torch.equal(step.action, q.argmax(-1))
    # Equal up to float rounding: with gradients on, the CPU convolutions run in the
    # channels-last layout (faster backward; Conv2dModel.forward), which takes other kernels.
    torch.testing.assert_close(step.agent_info.q, out.detach(), rtol=1e-5, atol=1e-6)


def test_call_has_gradients_target_has_none(cartpole):
    agent = _agent(DqnMlpAgent, cartpole.spaces, model_kwargs=MLP)
    inputs = _env_inputs(cartpole)
    assert agent(*inputs).requires_grad
    target_q = agent.target(*inputs)
    assert not target_q.requires_grad
    assert torch.equal(target_q, agent(*inputs).detach())  # target starts as a copy
    assert not any(p.requires_grad for p in agent.target_model.parameters())
    assert list(agent.parameters()) == list(agent.model.parameters())


def _shift_model(agent, amount=1.0):
    with torch.no_grad():
        for p in agent.model.parameters():
            p.add_(amount)


def test_update_target_hard_copy(cartpole):
    agent = _agent(DqnMlpAgent, cartpole.spaces, model_kwargs=MLP)
    _shift_model(agent)
    inputs = _env_inputs(cartpole)
    assert not torch.equal(agent.target(*inputs), agent(*inputs).detach())
    agent.update_target()
    for k, v in agent.model.state_dict().items():
        assert torch.equal(agent.target_model.state_dict()[k], v)


def test_update_target_polyak_moves_by_tau(cartpole):
    agent = _agent(DqnMlpAgent, cartpole.spaces, model_kwargs=MLP)
    old = {k: v.clone() for k, v in agent.target_model.state_dict().items()}
    _shift_model(agent, 0.5)
    new = agent.model.state_dict()
    agent.update_target(tau=0.1)
    for k, target in agent.target_model.state_dict().items():
        assert torch.equal(target, torch.lerp(old[k], new[k], 0.1))  # old + 0.1 * (new - old)
        assert torch.allclose(target - old[k], 0.1 * (new[k] - old[k]), atol=1e-6)
        assert torch.allclose(target - old[k], torch.full_like(target, 0.05), atol=1e-6)
    with pytest.raises(ValueError, match="tau"):
        agent.update_target(tau=0.0)


def test_state_dict_round_trip(cartpole):
    src = _agent(DqnMlpAgent, cartpole.spaces, seed=1, model_kwargs=MLP)
    _shift_model(src)  # model != target
    state = src.state_dict()
    assert set(state) == {"model", "target"}
    dst = _agent(DqnMlpAgent, cartpole.spaces, seed=2, model_kwargs=MLP)
    dst.load_state_dict(state)
    inputs = _env_inputs(cartpole)
    assert torch.equal(dst(*inputs), src(*inputs))
    assert torch.equal(dst.target(*inputs), src.target(*inputs))
    # An agent's state_dict as initial_model_state_dict restores both networks.
    init = _agent(
        DqnMlpAgent, cartpole.spaces, seed=3, model_kwargs=MLP, initial_model_state_dict=state
    )
    assert torch.equal(init(*inputs), src(*inputs))
    assert torch.equal(init.target(*inputs), src.target(*inputs))
    with pytest.raises(KeyError, match="model=..., target=..."):
        dst.load_state_dict(state["model"])


def test_shared_memory_model_gets_loaded_weights(cartpole):
    torch.manual_seed(0)
    agent = DqnMlpAgent(model_kwargs=MLP)
    agent.initialize(cartpole.spaces, share_memory=True)
    assert agent.shared_model is agent.model
    assert all(p.is_shared() for p in agent.model.parameters())
    assert not any(p.is_shared() for p in agent.target_model.parameters())
    agent.to_device(None)  # CPU: stays put
    assert agent.device.type == "cpu" and agent.exploration_generator.device.type == "cpu"


def test_catdqn_atoms_and_v_min_max(cartpole):
    agent = _agent(CatDqnMlpAgent, cartpole.spaces, n_atoms=5, model_kwargs=MLP)
    assert torch.equal(agent.distribution.z, torch.linspace(-10, 10, 5))
    agent.give_V_min_max(-2, 2)
    assert torch.equal(agent.distribution.z, torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="V_min must be < V_max"):
        agent.give_V_min_max(1, 1)
    with pytest.raises(ValueError, match="n_atoms=5 but model_kwargs has n_atoms=7"):
        CatDqnAgent(ModelCls=DqnMlpModel, n_atoms=5, model_kwargs=dict(n_atoms=7))


def test_missing_model_class_is_named(cartpole):
    with pytest.raises(ValueError, match="DqnAgent needs ModelCls"):
        DqnAgent().initialize(cartpole.spaces)
