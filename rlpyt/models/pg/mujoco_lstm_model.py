"""Recurrent (LSTM) Gaussian policy and value model for vector observations (MuJoCo)."""

import numpy as np
import torch

from rlpyt.models.mlp import MlpModel
from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.models.utils import RnnState, run_lstm
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims

__all__ = ["MujocoLstmModel", "RnnState"]


class MujocoLstmModel(torch.nn.Module):
    """MLP features + LSTM, then one linear head for ``(mu, log_std, value)``.

    The LSTM input is ``[MLP features, prev_action, prev_reward]``.

    ``forward(observation, prev_action, prev_reward, init_rnn_state)``:
    observation ``[..., *observation_shape]``, prev_action ``[..., A]``,
    prev_reward ``[...]`` (leading dims ``[]``, ``[B]`` or ``[T, B]``),
    ``init_rnn_state`` an :data:`RnnState` of ``[B, N, H]`` tensors or ``None``;
    returns ``(mu [..., A], log_std [..., A], value [...], next_rnn_state [B, N, H])``.
    Observation normalisation as in :class:`MujocoFfModel`.
    """

    def __init__(
        self,
        observation_shape,
        action_size: int,
        hidden_sizes=None,
        lstm_size: int = 256,
        nonlinearity=torch.nn.ReLU,
        normalize_observation: bool = False,
        norm_obs_clip: float = 10,
        norm_obs_var_clip: float = 1e-6,
    ):
        super().__init__()
        self._obs_ndim = len(observation_shape)
        self._action_size = action_size
        hidden_sizes = hidden_sizes or [256, 256]
        self.mlp = MlpModel(
            int(np.prod(observation_shape)),
            hidden_sizes,
            output_size=None,
            nonlinearity=nonlinearity,
        )
        self.lstm = torch.nn.LSTM(self.mlp.output_size + action_size + 1, lstm_size)
        self.head = torch.nn.Linear(lstm_size, action_size * 2 + 1)
        self.normalize_observation = normalize_observation
        self.obs_rms = (
            RunningMeanStdModel(observation_shape, clip=norm_obs_clip, min_var=norm_obs_var_clip)
            if normalize_observation
            else None
        )

    def forward(self, observation, prev_action, prev_reward, init_rnn_state=None):
        lead_dim, T, B, _ = infer_leading_dims(observation, self._obs_ndim)
        observation = observation.to(torch.float32)
        if self.obs_rms is not None:
            observation = self.obs_rms(observation)
        mlp_out = self.mlp(observation.reshape(T * B, -1))
        lstm_input = torch.cat(
            [
                mlp_out.view(T, B, -1),
                prev_action.reshape(T, B, -1).to(mlp_out.dtype),
                prev_reward.reshape(T, B, 1).to(mlp_out.dtype),
            ],
            dim=2,
        )
        lstm_out, next_rnn_state = run_lstm(self.lstm, lstm_input, init_rnn_state)
        outputs = self.head(lstm_out.reshape(T * B, -1))
        mu = outputs[:, : self._action_size]
        log_std = outputs[:, self._action_size : -1]
        v = outputs[:, -1]
        mu, log_std, v = restore_leading_dims(
            (mu.contiguous(), log_std.contiguous(), v.contiguous()), lead_dim, T, B
        )
        return mu, log_std, v, next_rnn_state

    def update_obs_rms(self, observation):
        """Fold a batch of observations into the normalisation statistics (no-op without)."""
        if self.obs_rms is not None:
            self.obs_rms.update(observation)
