"""QPG models: exact outputs with hand-set weights, and every leading-dims layout."""

import pytest
import torch

from rlpyt.models.qpg.mlp import MuMlpModel, PiMlpModel, QofMuMlpModel

torch.set_num_threads(1)

OBS = (2, 2)  # a 2-D observation is flattened to 4 features
A = 2


def _set_linear(linear, weight, bias):
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        linear.bias.copy_(torch.tensor(bias, dtype=torch.float32))


def _inputs(lead, seed=0):
    g = torch.Generator().manual_seed(seed)
    observation = torch.randn(tuple(lead) + OBS, generator=g)
    return observation, torch.zeros(tuple(lead) + (A,)), torch.zeros(tuple(lead))


def test_mu_is_a_bounded_tanh_of_the_mlp():
    model = MuMlpModel(OBS, hidden_sizes=[], action_size=A, output_max=2.0)
    _set_linear(model.mlp.model[0], [[1, 0, 0, 0], [0, 1, -1, 0]], [0.5, 0.0])
    observation = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[100.0, 0.0], [0.0, 0.0]]])
    mu = model(observation, None, None)
    expected = 2.0 * torch.tanh(torch.tensor([[1.5, -1.0], [100.5, 0.0]]))
    assert torch.equal(mu, expected)
    assert mu[1, 0] == 2.0  # saturates at output_max


def test_pi_splits_mean_and_log_std():
    model = PiMlpModel(OBS, hidden_sizes=[], action_size=A)
    weight = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    _set_linear(model.mlp.model[0], weight, [0.0, 0.0, -1.0, 1.0])
    observation = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # no leading dims
    mean, log_std = model(observation, torch.zeros(A), torch.zeros(()))
    assert torch.equal(mean, torch.tensor([1.0, 2.0]))
    assert torch.equal(log_std, torch.tensor([2.0, 5.0]))  # unclamped: the agent clamps


def test_q_is_linear_in_observation_and_action():
    model = QofMuMlpModel(OBS, hidden_sizes=[], action_size=A)
    _set_linear(model.mlp.model[0], [[1, 1, 0, 0, 10, -10]], [0.25])
    observation = torch.tensor([[[1.0, 2.0], [7.0, 7.0]]])
    action = torch.tensor([[0.5, 0.25]])
    q = model(observation, None, None, action)
    assert q.shape == (1,) and q.item() == 3.0 + 2.5 + 0.25
    with pytest.raises(ValueError, match="action shape"):
        model(observation, None, None, torch.zeros(1, A + 1))


@pytest.mark.parametrize("lead", [(), (5,), (3, 4)])
def test_leading_dims_of_every_model(lead):
    torch.manual_seed(0)
    mu_model = MuMlpModel(OBS, hidden_sizes=[8, 8], action_size=A)
    pi_model = PiMlpModel(OBS, hidden_sizes=[8], action_size=A)
    q_model = QofMuMlpModel(OBS, hidden_sizes=[8], action_size=A)
    observation, prev_action, prev_reward = _inputs(lead)
    action = torch.rand(tuple(lead) + (A,)) * 2 - 1
    mu = mu_model(observation, prev_action, prev_reward)
    mean, log_std = pi_model(observation, prev_action, prev_reward)
    q = q_model(observation, prev_action, prev_reward, action)
    assert mu.shape == mean.shape == log_std.shape == tuple(lead) + (A,)
    assert q.shape == tuple(lead)
    # Each leading index gives what that observation alone gives.
    flat_obs = observation.reshape(-1, *OBS)
    flat_action = action.reshape(-1, A)
    for i in range(flat_obs.shape[0]):
        one = (flat_obs[i], torch.zeros(A), torch.zeros(()))
        torch.testing.assert_close(mu.reshape(-1, A)[i], mu_model(*one))
        torch.testing.assert_close(mean.reshape(-1, A)[i], pi_model(*one)[0])
        torch.testing.assert_close(log_std.reshape(-1, A)[i], pi_model(*one)[1])
        torch.testing.assert_close(q.reshape(-1)[i], q_model(*one, flat_action[i]))


def test_float64_and_integer_observations_are_cast():
    model = MuMlpModel(OBS, hidden_sizes=[4], action_size=A)
    observation = torch.arange(8, dtype=torch.int64).reshape(2, *OBS)
    mu = model(observation, None, None)
    assert mu.dtype == torch.float32
    torch.testing.assert_close(mu, model(observation.double(), None, None))


def test_argument_checks():
    with pytest.raises(ValueError, match="action_size"):
        MuMlpModel(OBS, hidden_sizes=[4], action_size=0)
    with pytest.raises(ValueError, match="output_max"):
        MuMlpModel(OBS, hidden_sizes=[4], action_size=1, output_max=0)
    with pytest.raises(ValueError, match="action_size"):
        QofMuMlpModel(OBS, hidden_sizes=[4], action_size=-1)
