"""MLP policies and Q-functions for vector observations (DDPG, TD3, SAC).

Every model flattens the observation ``[..., *observation_shape]`` (leading dims
``[]``, ``[B]`` or ``[T, B]``) into a float32 vector; ``prev_action`` and
``prev_reward`` are accepted (the agent interface always passes them) and
ignored. Actions in and out are in the *model* action space ``[-1, 1]`` per
dimension: the agents map them to and from the env's box.

Observation normalisation (``normalize_observation=True`` in ``model_kwargs``
and/or ``q_model_kwargs``): the model divides the observation by running
statistics (:class:`~rlpyt.models.running_mean_std.RunningMeanStdModel`,
clamped to ``norm_obs_clip``) before its MLP. The statistics change only in
:meth:`update_obs_rms`, which the algorithm calls through the agent on each
new batch of samples (each transition counted once, as it enters the replay);
replay batches are normalised with the statistics of the moment.
"""

import math

import torch

from rlpyt.models.mlp import MlpModel
from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = ["MuMlpModel", "PiMlpModel", "QofMuMlpModel"]


class _VectorObservationModel(torch.nn.Module):
    """Flattening and optional normalisation of vector observations."""

    def __init__(
        self,
        observation_shape,
        normalize_observation: bool,
        norm_obs_clip: float | None,
        norm_obs_var_clip: float,
    ):
        super().__init__()
        self._obs_ndim = len(observation_shape)
        self._obs_size = math.prod(observation_shape)
        self.normalize_observation = bool(normalize_observation)
        self.obs_rms = (
            RunningMeanStdModel((self._obs_size,), clip=norm_obs_clip, min_var=norm_obs_var_clip)
            if normalize_observation
            else None
        )

    def _features(self, observation):
        """``(observation [T*B, features] float32, lead_dim, T, B)``, normalised if asked."""
        if self._obs_ndim == 1 and observation.dim() == 2 and observation.dtype == torch.float32:
            # A [B, features] float32 batch (the algorithms' 8 network passes per SAC
            # gradient step): the general path below would change nothing.
            obs, lead_dim, T, B = observation, 1, 1, observation.shape[0]
        else:
            lead_dim, T, B, _ = infer_leading_dims(observation, self._obs_ndim)
            obs = observation.reshape(T * B, -1).to(torch.float32)
        if self.obs_rms is not None:
            obs = self.obs_rms(obs)
        return obs, lead_dim, T, B

    @torch.no_grad()
    def update_obs_rms(self, observation) -> None:
        """Fold observations ``[..., *observation_shape]`` into the statistics (no-op without)."""
        if self.obs_rms is not None:
            self.obs_rms.update(observation.reshape(-1, self._obs_size))


class MuMlpModel(_VectorObservationModel):
    """Deterministic policy of DDPG/TD3: ``mu = output_max * tanh(mlp(observation))``.

    ``forward(observation, prev_action, prev_reward)`` returns ``mu``
    ``[..., action_size]`` in ``[-output_max, output_max]``.

    Args:
        observation_shape: shape of one observation.
        hidden_sizes: hidden layer sizes (ReLU), e.g. ``[400, 300]``.
        action_size: number of action dimensions.
        output_max: bound of ``mu``; 1 fills the model action space exactly.
        normalize_observation, norm_obs_clip, norm_obs_var_clip: running
            observation normalisation (module docstring), its clamp and variance floor.
    """

    def __init__(
        self,
        observation_shape,
        hidden_sizes,
        action_size: int,
        output_max: float = 1,
        normalize_observation: bool = False,
        norm_obs_clip: float | None = 10,
        norm_obs_var_clip: float = 1e-6,
    ):
        super().__init__(observation_shape, normalize_observation, norm_obs_clip, norm_obs_var_clip)
        action_size = require_int_at_least("action_size", action_size, 1)
        require_positive("output_max", output_max)
        self._output_max = output_max
        self.mlp = MlpModel(self._obs_size, hidden_sizes, output_size=action_size)

    def forward(self, observation, prev_action=None, prev_reward=None):
        obs, lead_dim, T, B = self._features(observation)
        mu = self._output_max * torch.tanh(self.mlp(obs))
        return restore_leading_dims(mu, lead_dim, T, B)


class PiMlpModel(_VectorObservationModel):
    """Gaussian policy of SAC: one MLP whose output splits into ``(mean, log_std)``.

    ``forward(observation, prev_action, prev_reward)`` returns ``(mean, log_std)``,
    both ``[..., action_size]``, *before* the tanh squash and unclamped: the agent
    clamps ``log_std`` and squashes samples (see
    :class:`~rlpyt.agents.qpg.sac_agent.SacAgent`). Observation normalisation
    arguments as in :class:`MuMlpModel`.
    """

    def __init__(
        self,
        observation_shape,
        hidden_sizes,
        action_size: int,
        normalize_observation: bool = False,
        norm_obs_clip: float | None = 10,
        norm_obs_var_clip: float = 1e-6,
    ):
        super().__init__(observation_shape, normalize_observation, norm_obs_clip, norm_obs_var_clip)
        action_size = require_int_at_least("action_size", action_size, 1)
        self._action_size = action_size
        self.mlp = MlpModel(self._obs_size, hidden_sizes, output_size=2 * action_size)

    def forward(self, observation, prev_action=None, prev_reward=None):
        obs, lead_dim, T, B = self._features(observation)
        mean, log_std = self.mlp(obs).split(self._action_size, dim=-1)
        return restore_leading_dims((mean, log_std), lead_dim, T, B)


class QofMuMlpModel(_VectorObservationModel):
    """Action-value function: ``q = mlp([observation, action])``.

    ``forward(observation, prev_action, prev_reward, action)`` with ``action``
    ``[..., action_size]`` (model space, same leading dims as the observation)
    returns ``q`` ``[...]``. Observation normalisation arguments as in
    :class:`MuMlpModel` (the action is not normalised: it is already in ``[-1, 1]``).
    """

    def __init__(
        self,
        observation_shape,
        hidden_sizes,
        action_size: int,
        normalize_observation: bool = False,
        norm_obs_clip: float | None = 10,
        norm_obs_var_clip: float = 1e-6,
    ):
        super().__init__(observation_shape, normalize_observation, norm_obs_clip, norm_obs_var_clip)
        action_size = require_int_at_least("action_size", action_size, 1)
        self._action_size = action_size
        self.mlp = MlpModel(self._obs_size + action_size, hidden_sizes, output_size=1)

    def forward(self, observation, prev_action, prev_reward, action):
        obs, lead_dim, T, B = self._features(observation)
        if tuple(action.shape) != tuple(observation.shape[:lead_dim]) + (self._action_size,):
            raise ValueError(
                f"QofMuMlpModel: action shape {tuple(action.shape)} does not match the "
                f"observation's leading dims {tuple(observation.shape[:lead_dim])} plus "
                f"action_size {self._action_size}"
            )
        q_input = torch.cat([obs, action.reshape(T * B, -1).to(obs.dtype)], dim=-1)
        q = self.mlp(q_input).squeeze(-1)
        return restore_leading_dims(q, lead_dim, T, B)
