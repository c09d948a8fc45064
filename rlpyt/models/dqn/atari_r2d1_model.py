"""Recurrent Q-network for Atari (R2D1, Kapturowski et al., 2019): conv -> fc -> LSTM -> head."""

import torch

from rlpyt.models.dqn.atari_dqn_model import nature_conv
from rlpyt.models.dqn.dueling import DuelingHeadModel
from rlpyt.models.mlp import MlpModel
from rlpyt.models.utils import RnnState, run_lstm, scale_image
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims

__all__ = ["AtariR2d1Model", "RnnState"]


class AtariR2d1Model(torch.nn.Module):
    """Nature DQN conv stack, a ReLU fc layer, an LSTM, then an MLP (or dueling) Q head.

    The LSTM input is ``[fc features, one-hot prev_action, prev_reward]`` (as in
    R2D2, which feeds the previous action and reward to the recurrent core).

    ``forward(observation, prev_action, prev_reward, init_rnn_state)``:

    * ``observation`` uint8 ``[..., C, H, W]``, ``prev_action`` one-hot
      ``[..., A]``, ``prev_reward`` ``[...]``, leading dims ``[]``, ``[B]`` or ``[T, B]``;
    * ``init_rnn_state``: :data:`RnnState` of ``[B, N, H]`` tensors (batch first),
      or ``None`` for zeros;

    returns ``(q [..., A], next_rnn_state)`` with the state ``[B, N, H]`` (B = 1
    for unbatched input: the state keeps its batch dim).
    """

    def __init__(
        self,
        image_shape,
        output_size: int,
        fc_size: int = 512,
        lstm_size: int = 512,
        head_size: int = 512,
        dueling: bool = False,
        use_maxpool: bool = False,
        channels=None,
        kernel_sizes=None,
        strides=None,
        paddings=None,
    ):
        super().__init__()
        self.conv, conv_out_size = nature_conv(
            image_shape, channels, kernel_sizes, strides, paddings, use_maxpool
        )
        self.fc = MlpModel(conv_out_size, fc_size)  # ends with its ReLU
        self.lstm = torch.nn.LSTM(self.fc.output_size + output_size + 1, lstm_size)
        if dueling:
            self.head = DuelingHeadModel(lstm_size, head_size, output_size)
        else:
            self.head = MlpModel(lstm_size, head_size, output_size=output_size)
        self.dueling = dueling

    def forward(self, observation, prev_action, prev_reward, init_rnn_state=None):
        img = scale_image(observation)
        lead_dim, T, B, img_shape = infer_leading_dims(img, 3)
        features = self.fc(self.conv(img.view(T * B, *img_shape)).view(T * B, -1))
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
