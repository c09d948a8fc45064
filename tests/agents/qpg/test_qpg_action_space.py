"""QPG agents' action spaces: model space [-1, 1] <-> env box, bounds, validation."""

import pytest
import torch

from rlpyt.agents.qpg.ddpg_agent import DdpgAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.agents.qpg.td3_agent import Td3Agent
from rlpyt.envs.base import EnvSpaces
from rlpyt.spaces.float_box import FloatBox

AGENTS = [DdpgAgent, Td3Agent, SacAgent]


@pytest.mark.parametrize("AgentCls", AGENTS)
def test_scaling_of_an_asymmetric_box_is_exact(make_agent, asym_spaces, AgentCls):
    agent = make_agent(AgentCls, asym_spaces)
    model = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [0.5, -0.5]])
    # low + (m + 1) / 2 * (high - low), low=[0, -2], high=[1, 3]
    env = torch.tensor([[0.0, -2.0], [1.0, 3.0], [0.5, 0.5], [0.75, -0.75]])
    assert torch.equal(agent.to_env_action(model), env)
    assert torch.equal(agent.to_model_action(env), model)
    # Out-of-box env actions clamp to the model space; leading dims are kept.
    outside = torch.tensor([[[2.0, -5.0]]])
    assert torch.equal(agent.to_model_action(outside), torch.tensor([[[1.0, -1.0]]]))
    # Integer inputs are accepted (as float32).
    assert torch.equal(agent.to_model_action(torch.tensor([1, 3])), torch.tensor([1.0, 1.0]))


@pytest.mark.parametrize("lead", [(), (7,), (3, 4)])
def test_round_trip_for_any_leading_dims(make_agent, asym_spaces, lead):
    agent = make_agent(DdpgAgent, asym_spaces)
    g = torch.Generator().manual_seed(0)
    model = torch.rand(lead + (2,), generator=g) * 2 - 1
    env = agent.to_env_action(model)
    assert env.shape == model.shape
    torch.testing.assert_close(agent.to_model_action(env), model, atol=1e-6, rtol=0)
    low, high = torch.tensor([0.0, -2.0]), torch.tensor([1.0, 3.0])
    env = low + torch.rand(lead + (2,), generator=g) * (high - low)
    torch.testing.assert_close(agent.to_env_action(agent.to_model_action(env)), env)
    # float64 stays float64.
    assert agent.to_env_action(model.double()).dtype == torch.float64


def test_model_space_ends_map_exactly_onto_the_bounds(make_agent):
    """Bounds that float32 rounds: -1 and 1 still give exactly low and high (a
    centre/half-width formula would miss low by an ulp here).
    """
    spaces = EnvSpaces(
        observation=FloatBox(low=-1.0, high=1.0, shape=(2,)),
        action=FloatBox(low=[0.1, -0.7, 1e-3], high=[0.7, 0.3, 0.30000001]),
    )
    agent = make_agent(DdpgAgent, spaces)
    ends = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])
    env = agent.to_env_action(ends)
    assert torch.equal(env[0], agent.action_high) and torch.equal(env[1], agent.action_low)


@pytest.mark.parametrize("AgentCls", AGENTS)
def test_pendulum_box_scales_by_two(make_agent, pendulum_spaces, AgentCls):
    agent = make_agent(AgentCls, pendulum_spaces)
    model = torch.tensor([[-1.0], [-0.25], [0.0], [1.0]])
    assert torch.equal(agent.to_env_action(model), 2 * model)
    assert torch.equal(agent.to_model_action(2 * model), model)


@pytest.mark.parametrize("AgentCls", AGENTS)
def test_every_sampled_action_is_inside_an_asymmetric_box(
    make_agent, agent_inputs, asym_spaces, AgentCls
):
    # Wide noise so that many samples hit the bounds.
    kwargs = dict(pretrain_std=3.0)
    if AgentCls is not SacAgent:
        kwargs["action_std"] = 3.0
    agent = make_agent(AgentCls, asym_spaces, **kwargs)
    agent.give_min_itr_learn(1)
    low, high = torch.tensor([0.0, -2.0]), torch.tensor([1.0, 3.0])
    inputs = agent_inputs(asym_spaces, B=2000)
    for itr, mode in [(0, "sample"), (1, "sample"), (0, "eval")]:
        getattr(agent, f"{mode}_mode")(itr)
        action = agent.step(*inputs).action
        assert action.shape == (2000, 2) and action.dtype == torch.float32
        assert bool(((action >= low) & (action <= high)).all())
    agent.sample_mode(0)
    action = agent.step(*inputs).action
    if AgentCls is not SacAgent:  # clipped Gaussian noise reaches the bounds exactly
        assert bool((action == low).any()) and bool((action == high).any())
    # The spread covers most of the box in every dimension.
    assert bool(((action.max(0).values - action.min(0).values) > 0.9 * (high - low)).all())


@pytest.mark.parametrize("AgentCls", AGENTS)
def test_action_space_validation(AgentCls):
    obs = FloatBox(low=-1.0, high=1.0, shape=(3,))
    bad = {
        "bounded": FloatBox(low=[-float("inf"), 0.0], high=[1.0, 1.0]),
        "high > low": FloatBox(low=[0.0, 1.0], high=[1.0, 1.0]),
        "1-D": FloatBox(low=-1.0, high=1.0, shape=(2, 2)),
    }
    for message, action in bad.items():
        agent = AgentCls(model_kwargs=dict(hidden_sizes=[4]), q_model_kwargs=dict(hidden_sizes=[4]))
        with pytest.raises(ValueError, match=message):
            agent.initialize(EnvSpaces(observation=obs, action=action))
