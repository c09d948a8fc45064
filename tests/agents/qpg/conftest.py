"""Env spaces for the QPG agent tests: Pendulum's symmetric box and an asymmetric one."""

import pytest
import torch

from rlpyt.envs.base import EnvSpaces
from rlpyt.envs.gym import gym_make
from rlpyt.spaces.float_box import FloatBox

torch.set_num_threads(1)

TINY = dict(hidden_sizes=[8])

# Two action dims with different widths and offsets: [0, 1] and [-2, 3].
ASYM_LOW = [0.0, -2.0]
ASYM_HIGH = [1.0, 3.0]


@pytest.fixture(scope="session")
def pendulum_env():
    env = gym_make("Pendulum-v1")
    yield env
    env.close()


@pytest.fixture(scope="session")
def pendulum_spaces(pendulum_env):
    return pendulum_env.spaces


@pytest.fixture(scope="session")
def asym_spaces():
    return EnvSpaces(
        observation=FloatBox(low=-10.0, high=10.0, shape=(4,)),
        action=FloatBox(low=ASYM_LOW, high=ASYM_HIGH),
    )


def _make_agent(AgentCls, spaces, seed=0, **kwargs):
    """A tiny-network agent, initialized with torch seeded by ``seed``."""
    torch.manual_seed(seed)
    kwargs.setdefault("model_kwargs", TINY)
    kwargs.setdefault("q_model_kwargs", TINY)
    agent = AgentCls(**kwargs)
    agent.initialize(spaces)
    return agent


def _agent_inputs(spaces, B=5, seed=1, lead=None):
    """``(observation, prev_action, prev_reward)`` with leading dims ``lead`` (default ``[B]``)."""
    lead = (B,) if lead is None else tuple(lead)
    g = torch.Generator().manual_seed(seed)
    observation = torch.randn(lead + spaces.observation.shape, generator=g)
    prev_action = torch.zeros(lead + spaces.action.shape)
    prev_reward = torch.zeros(lead)
    return observation, prev_action, prev_reward


@pytest.fixture(scope="session")
def make_agent():
    return _make_agent


@pytest.fixture(scope="session")
def agent_inputs():
    return _agent_inputs
