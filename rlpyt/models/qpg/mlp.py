"""MLP policies and Q-functions for vector observations (DDPG, TD3, SAC).

Every model flattens the observation ``[..., *observation_shape]`` (leading dims
``[]``, ``[B]`` or ``[T, B]``) into a float32 vector; ``prev_action`` and
``prev_reward`` are accepted (the agent interface always passes them) and
ignored. Actions in and out are in the *model* action space ``[-1, 1]`` per
dimension: the agents map them to and from the env's box.
"""

import math

import torch

from rlpyt.models.mlp import MlpModel
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = ["MuMlpModel", "PiMlpModel", "QofMuMlpModel"]


def _flat_observation(observation, obs_ndim):
    """``(observation [T*B, features] float32, lead_dim, T, B)``."""
    lead_dim, T, B, _ = infer_leading_dims(observation, obs_ndim)
    return observation.reshape(T * B, -1).to(torch.float32), lead_dim, T, B


def _is_flat_batch(observation, obs_ndim: int) -> bool:
    """A ``[B, features]`` float32 batch: the models' general path would change nothing.

    The algorithms' calls (8 network passes per SAC gradient step) take this
    path, which skips the reshapes, casts and leading-dims bookkeeping.
    """
    return obs_ndim == 1 and observation.dim() == 2 and observation.dtype == torch.float32


class MuMlpModel(torch.nn.Module):
    """Deterministic policy of DDPG/TD3: ``mu = output_max * tanh(mlp(observation))``.

    ``forward(observation, prev_action, prev_reward)`` returns ``mu``
    ``[..., action_size]`` in ``[-output_max, output_max]``.

    Args:
        observation_shape: shape of one observation.
        hidden_sizes: hidden layer sizes (ReLU), e.g. ``[400, 300]``.
        action_size: number of action dimensions.
        output_max: bound of ``mu``; 1 fills the model action space exactly.
    """

    def __init__(self, observation_shape, hidden_sizes, action_size: int, output_max: float = 1):
        super().__init__()
        require_int_at_least("action_size", action_size, 1)
        require_positive("output_max", output_max)
        self._obs_ndim = len(observation_shape)
        self._output_max = output_max
        self.mlp = MlpModel(math.prod(observation_shape), hidden_sizes, output_size=action_size)

    def forward(self, observation, prev_action=None, prev_reward=None):
        if _is_flat_batch(observation, self._obs_ndim):
            return self._output_max * torch.tanh(self.mlp(observation))
        obs, lead_dim, T, B = _flat_observation(observation, self._obs_ndim)
        mu = self._output_max * torch.tanh(self.mlp(obs))
        return restore_leading_dims(mu, lead_dim, T, B)


class PiMlpModel(torch.nn.Module):
    """Gaussian policy of SAC: one MLP whose output splits into ``(mean, log_std)``.

    ``forward(observation, prev_action, prev_reward)`` returns ``(mean, log_std)``,
    both ``[..., action_size]``, *before* the tanh squash and unclamped: the agent
    clamps ``log_std`` and squashes samples (see
    :class:`~rlpyt.agents.qpg.sac_agent.SacAgent`).
    """

    def __init__(self, observation_shape, hidden_sizes, action_size: int):
        super().__init__()
        require_int_at_least("action_size", action_size, 1)
        self._obs_ndim = len(observation_shape)
        self._action_size = action_size
        self.mlp = MlpModel(math.prod(observation_shape), hidden_sizes, output_size=2 * action_size)

    def forward(self, observation, prev_action=None, prev_reward=None):
        if _is_flat_batch(observation, self._obs_ndim):
            return tuple(self.mlp(observation).split(self._action_size, dim=-1))
        obs, lead_dim, T, B = _flat_observation(observation, self._obs_ndim)
        mean, log_std = self.mlp(obs).split(self._action_size, dim=-1)
        return restore_leading_dims((mean, log_std), lead_dim, T, B)


class QofMuMlpModel(torch.nn.Module):
    """Action-value function: ``q = mlp([observation, action])``.

    ``forward(observation, prev_action, prev_reward, action)`` with ``action``
    ``[..., action_size]`` (model space, same leading dims as the observation)
    returns ``q`` ``[...]``.
    """

    def __init__(self, observation_shape, hidden_sizes, action_size: int):
        super().__init__()
        require_int_at_least("action_size", action_size, 1)
        self._obs_ndim = len(observation_shape)
        self._action_size = action_size
        input_size = math.prod(observation_shape) + action_size
        self.mlp = MlpModel(input_size, hidden_sizes, output_size=1)

    def forward(self, observation, prev_action, prev_reward, action):
        if _is_flat_batch(observation, self._obs_ndim) and action.dtype == torch.float32:
            self._check_action(action, observation, 1)
            return self.mlp(torch.cat([observation, action], dim=-1)).squeeze(-1)
        obs, lead_dim, T, B = _flat_observation(observation, self._obs_ndim)
        self._check_action(action, observation, lead_dim)
        q_input = torch.cat([obs, action.reshape(T * B, -1).to(obs.dtype)], dim=-1)
        q = self.mlp(q_input).squeeze(-1)
        return restore_leading_dims(q, lead_dim, T, B)

    def _check_action(self, action, observation, lead_dim: int) -> None:
        if tuple(action.shape) != tuple(observation.shape[:lead_dim]) + (self._action_size,):
            raise ValueError(
                f"QofMuMlpModel: action shape {tuple(action.shape)} does not match the "
                f"observation's leading dims {tuple(observation.shape[:lead_dim])} plus "
                f"action_size {self._action_size}"
            )
