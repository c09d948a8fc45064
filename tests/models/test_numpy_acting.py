"""The CartPole MLP's numpy acting path (``CategoricalPgMlpModel.acting_forward``): the same
values as ``forward``, parameter changes seen at once, and the torch path wherever it does
not apply."""

import copy
import pickle

import gymnasium as gym
import pytest
import torch

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.envs.gym import GymEnvWrapper
from rlpyt.models.pg.categorical_mlp_model import CategoricalPgMlpModel


def _close(model, obs):
    with torch.no_grad():
        pi, value = model.acting_forward(obs)
        pi_t, value_t = model(obs)
    assert pi.shape == pi_t.shape and value.shape == value_t.shape
    assert pi.dtype == torch.float32 and value.dtype == torch.float32
    torch.testing.assert_close(pi, pi_t, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(value, value_t, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("nonlinearity", [torch.nn.Tanh, torch.nn.ReLU])
def test_equals_forward(nonlinearity):
    torch.manual_seed(0)
    model = CategoricalPgMlpModel((4,), 3, hidden_sizes=[32, 16], hidden_nonlinearity=nonlinearity)
    _close(model, torch.randn(8, 4))
    _close(model, torch.randn(1, 4, dtype=torch.float64))  # cast as forward does


def test_parameter_changes_are_seen():
    torch.manual_seed(1)
    model = CategoricalPgMlpModel((4,), 2)
    obs = torch.randn(8, 4)
    _close(model, obs)
    # An optimizer step writes in place: the views see it.
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    pi, value = model(obs)
    (pi[:, 0].sum() + value.sum()).backward()
    opt.step()
    _close(model, obs)
    # load_state_dict copies in place.
    other = CategoricalPgMlpModel((4,), 2)
    model.load_state_dict(other.state_dict())
    _close(model, obs)
    # New storage (shared memory), a replaced tensor, a replaced layer: re-read.
    model.share_memory()
    with torch.no_grad():
        model.pi.model[0].weight.mul_(3.0)
    _close(model, obs)
    model.value.model[2].bias = torch.nn.Parameter(torch.randn(64))
    _close(model, obs)
    model.pi.model[2] = torch.nn.Linear(64, 64)
    _close(model, obs)


def test_copies_take_their_own_views():
    torch.manual_seed(2)
    model = CategoricalPgMlpModel((4,), 2)
    obs = torch.randn(8, 4)
    _close(model, obs)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        with torch.no_grad():
            for p in clone.parameters():
                p.add_(0.5)
        _close(clone, obs)
        _close(model, obs)


def test_torch_path_where_it_does_not_apply():
    torch.manual_seed(3)
    model = CategoricalPgMlpModel((4,), 2)
    obs = torch.randn(8, 4)
    assert model.acting_forward(obs) is None  # gradients on
    with torch.no_grad():
        assert model.acting_forward(torch.randn(3, 8, 4)) is None  # [T, B]
        assert (
            CategoricalPgMlpModel((4,), 2, normalize_observation=True).acting_forward(obs) is None
        )
        calls = []
        handle = model.pi.model[1].register_forward_hook(lambda *a: calls.append(1))
        assert model.acting_forward(obs) is None  # a hook must run: forward
        handle.remove()
        assert model.acting_forward(obs) is not None
        handle = torch.nn.modules.module.register_module_forward_hook(lambda *a: None)
        assert model.acting_forward(obs) is None
        handle.remove()
        model.pi.model[1] = torch.nn.GELU()  # no numpy twin
        assert model.acting_forward(obs) is None


def test_agent_samples_as_with_forward():
    """The agent's sampling step through acting_forward draws the same actions as through
    forward from the same generator state (the probabilities agree to float32 rounding)."""
    env = GymEnvWrapper(gym.make("CartPole-v1"))
    agents = []
    for numpy_path in (True, False):
        torch.manual_seed(4)
        agent = MlpFfAgent()
        agent.initialize(env.spaces)
        agent.sample_mode(0)
        if not numpy_path:
            agent.model.acting_forward = lambda observation: None
        agents.append(agent)
    obs = torch.randn(200, 8, 4)
    prev_action, prev_reward = torch.zeros(8, dtype=torch.long), torch.zeros(8)
    steps = []
    for agent in agents:
        torch.manual_seed(5)
        steps.append([agent.step(o, prev_action, prev_reward) for o in obs])
    for a, b in zip(*steps):
        assert torch.equal(a.action, b.action)
        torch.testing.assert_close(a.agent_info.dist_info.prob, b.agent_info.dist_info.prob)
        torch.testing.assert_close(a.agent_info.value, b.agent_info.value, atol=1e-5, rtol=1e-5)
