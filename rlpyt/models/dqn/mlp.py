"""Q-networks for vector observations (CartPole-like envs): DQN, C51 and R2D1 variants.

Every model flattens the observation ``[..., *observation_shape]`` (leading dims
``[]``, ``[B]`` or ``[T, B]``) into a float vector. With ``dueling`` the last
hidden layer splits into the value and advantage streams of a dueling head, so
a dueling model has as many layers as a plain one.
"""

import math

import torch
import torch.nn.functional as F

from rlpyt.models.dqn.dueling import DistributionalDuelingHeadModel, DuelingHeadModel
from rlpyt.models.mlp import MlpModel
from rlpyt.models.utils import RnnState, run_lstm
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims
from rlpyt.utils.validation import require_int_at_least

__all__ = ["DqnMlpModel", "CatDqnMlpModel", "R2d1MlpModel", "RnnState"]


def _sizes(hidden_sizes) -> list[int]:
    if hidden_sizes is None:
        return []
    return [hidden_sizes] if isinstance(hidden_sizes, int) else list(hidden_sizes)


def _q_layers(input_size, hidden_sizes, output_size, dueling, n_atoms=None):
    """``(body, head)``: shared hidden layers, then the (dueling) output layers.

    Outputs ``[N, output_size]``, or ``[N, output_size * n_atoms]`` logits
    (``[N, output_size, n_atoms]`` when dueling) with ``n_atoms``.
    """
    sizes = _sizes(hidden_sizes)
    if not dueling:
        out = output_size if n_atoms is None else output_size * n_atoms
        return torch.nn.Identity(), MlpModel(input_size, sizes, output_size=out)
    body = MlpModel(input_size, sizes[:-1])  # no layers when sizes has one entry
    if n_atoms is None:
        return body, DuelingHeadModel(body.output_size, sizes[-1:], output_size)
    return body, DistributionalDuelingHeadModel(body.output_size, sizes[-1:], output_size, n_atoms)


def _flat_observation(observation, obs_ndim):
    lead_dim, T, B, _ = infer_leading_dims(observation, obs_ndim)
    return observation.reshape(T * B, -1).to(torch.float32), lead_dim, T, B


class DqnMlpModel(torch.nn.Module):
    """MLP from the observation to one Q-value per action.

    ``forward(observation, prev_action, prev_reward)`` (prev_* ignored) returns
    ``q`` ``[..., action_size]``.
    """

    def __init__(
        self, observation_shape, action_size: int, hidden_sizes=(256, 256), dueling: bool = False
    ):
        super().__init__()
        action_size = require_int_at_least("action_size", action_size, 1)
        self._obs_ndim = len(observation_shape)
        input_size = math.prod(observation_shape)
        self.body, self.head = _q_layers(input_size, hidden_sizes, action_size, dueling)
        self.dueling = dueling

    def forward(self, observation, prev_action=None, prev_reward=None):
        obs, lead_dim, T, B = _flat_observation(observation, self._obs_ndim)
        q = self.head(self.body(obs))
        return restore_leading_dims(q, lead_dim, T, B)


class CatDqnMlpModel(torch.nn.Module):
    """MLP from the observation to a distribution over ``n_atoms`` value atoms per action (C51).

    ``forward(observation, prev_action, prev_reward)`` (prev_* ignored) returns
    probabilities ``p`` ``[..., action_size, n_atoms]`` (softmax over atoms).
    """

    def __init__(
        self,
        observation_shape,
        action_size: int,
        hidden_sizes=(256, 256),
        n_atoms: int = 51,
        dueling: bool = False,
    ):
        super().__init__()
        action_size = require_int_at_least("action_size", action_size, 1)
        n_atoms = require_int_at_least("n_atoms", n_atoms, 2)
        self._obs_ndim = len(observation_shape)
        input_size = math.prod(observation_shape)
        self.body, self.head = _q_layers(input_size, hidden_sizes, action_size, dueling, n_atoms)
        self.action_size = action_size
        self.n_atoms = n_atoms
        self.dueling = dueling

    def forward(self, observation, prev_action=None, prev_reward=None):
        obs, lead_dim, T, B = _flat_observation(observation, self._obs_ndim)
        logits = self.head(self.body(obs)).view(T * B, self.action_size, self.n_atoms)
        return restore_leading_dims(F.softmax(logits, dim=-1), lead_dim, T, B)


class R2d1MlpModel(torch.nn.Module):
    """MLP features, an LSTM fed ``[features, one-hot prev_action, prev_reward]``, then a Q head.

    ``forward(observation, prev_action, prev_reward, init_rnn_state)``:
    observation ``[..., *observation_shape]``, prev_action one-hot
    ``[..., action_size]``, prev_reward ``[...]`` (leading dims ``[]``, ``[B]`` or
    ``[T, B]``); ``init_rnn_state`` an :data:`RnnState` of ``[B, N, H]`` tensors
    or ``None`` (zeros). Returns ``(q [..., action_size], next_rnn_state [B, N, H])``.
    """

    def __init__(
        self,
        observation_shape,
        action_size: int,
        hidden_sizes=(64,),
        lstm_size: int = 64,
        head_sizes=(64,),
        dueling: bool = False,
    ):
        super().__init__()
        action_size = require_int_at_least("action_size", action_size, 1)
        lstm_size = require_int_at_least("lstm_size", lstm_size, 1)
        self._obs_ndim = len(observation_shape)
        self.mlp = MlpModel(math.prod(observation_shape), _sizes(hidden_sizes))
        self.lstm = torch.nn.LSTM(self.mlp.output_size + action_size + 1, lstm_size)
        if dueling:
            self.head = DuelingHeadModel(lstm_size, _sizes(head_sizes), action_size)
        else:
            self.head = MlpModel(lstm_size, _sizes(head_sizes), output_size=action_size)
        self.dueling = dueling

    def forward(self, observation, prev_action, prev_reward, init_rnn_state=None):
        obs, lead_dim, T, B = _flat_observation(observation, self._obs_ndim)
        features = self.mlp(obs)
        lstm_input = torch.cat(
            [
                features.view(T, B, -1),
                prev_action.reshape(T, B, -1).to(features.dtype),
                prev_reward.reshape(T, B, 1).to(features.dtype),
            ],
            dim=2,
        )
        lstm_out, next_rnn_state = run_lstm(self.lstm, lstm_input, init_rnn_state)
        q = self.head(lstm_out.reshape(T * B, -1))
        return restore_leading_dims(q, lead_dim, T, B), next_rnn_state
