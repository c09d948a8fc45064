"""Feed-forward Gaussian policy and value model for vector observations (MuJoCo)."""

import numpy as np
import torch

from rlpyt.models.mlp import MlpModel
from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims

__all__ = ["MujocoFfModel"]


class MujocoFfModel(torch.nn.Module):
    """Separate MLPs for the action mean and the value; a state-independent learned log-std.

    ``forward(observation, prev_action, prev_reward)`` with observation
    ``[..., *observation_shape]`` (leading dims ``[]``, ``[B]`` or ``[T, B]``;
    prev_action and prev_reward are ignored) returns
    ``(mu [..., A], log_std [..., A], value [...])``.

    With ``normalize_observation`` observations pass through a
    :class:`RunningMeanStdModel` (clamped to ``norm_obs_clip``, variance floored
    at ``norm_obs_var_clip``). Its statistics change only through
    :meth:`update_obs_rms`, which the algorithm calls (via the agent) on each
    training batch; they are saved in the ``state_dict``.
    """

    def __init__(
        self,
        observation_shape,
        action_size: int,
        hidden_sizes=None,
        hidden_nonlinearity=torch.nn.Tanh,
        mu_nonlinearity=torch.nn.Tanh,
        init_log_std: float = 0.0,
        normalize_observation: bool = False,
        norm_obs_clip: float = 10,
        norm_obs_var_clip: float = 1e-6,
    ):
        super().__init__()
        self._obs_ndim = len(observation_shape)
        input_size = int(np.prod(observation_shape))
        hidden_sizes = hidden_sizes or [64, 64]
        mu_mlp = MlpModel(
            input_size, hidden_sizes, output_size=action_size, nonlinearity=hidden_nonlinearity
        )
        self.mu = (
            mu_mlp if mu_nonlinearity is None else torch.nn.Sequential(mu_mlp, mu_nonlinearity())
        )
        self.v = MlpModel(input_size, hidden_sizes, output_size=1, nonlinearity=hidden_nonlinearity)
        self.log_std = torch.nn.Parameter(init_log_std * torch.ones(action_size))
        self.normalize_observation = normalize_observation
        self.obs_rms = (
            RunningMeanStdModel(observation_shape, clip=norm_obs_clip, min_var=norm_obs_var_clip)
            if normalize_observation
            else None
        )

    def forward(self, observation, prev_action=None, prev_reward=None):
        lead_dim, T, B, _ = infer_leading_dims(observation, self._obs_ndim)
        observation = observation.to(torch.float32)
        if self.obs_rms is not None:
            observation = self.obs_rms(observation)
        obs_flat = observation.reshape(T * B, -1)
        mu = self.mu(obs_flat)
        v = self.v(obs_flat).squeeze(-1)
        log_std = self.log_std.expand(T * B, -1)
        mu, log_std, v = restore_leading_dims((mu, log_std, v), lead_dim, T, B)
        return mu, log_std, v

    def update_obs_rms(self, observation):
        """Fold a batch of observations into the normalisation statistics (no-op without)."""
        if self.obs_rms is not None:
            self.obs_rms.update(observation)
