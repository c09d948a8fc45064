"""Recurrent (LSTM) policy/value model for Atari frames."""

import torch
import torch.nn.functional as F

from rlpyt.models.conv2d import Conv2dHeadModel
from rlpyt.models.utils import RnnState, run_lstm, scale_image
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims

__all__ = ["AtariLstmModel", "RnnState"]


class AtariLstmModel(torch.nn.Module):
    """Conv stack + fully connected layer + LSTM, then softmax policy and value heads.

    The LSTM input is ``[conv features, one-hot prev_action, prev_reward]``.

    ``forward(image, prev_action, prev_reward, init_rnn_state)``:

    * ``image`` uint8 ``[..., C, H, W]``, ``prev_action`` one-hot ``[..., A]``,
      ``prev_reward`` ``[...]``, with leading dims ``[]``, ``[B]`` or ``[T, B]``;
    * ``init_rnn_state``: :data:`RnnState` of ``[B, N, H]`` tensors, or ``None`` (zeros);

    returns ``(pi [..., A], value [...], next_rnn_state)``, the state ``[B, N, H]``
    (B = 1 for unbatched input: the state always keeps its batch dim).
    """

    def __init__(
        self,
        image_shape,
        output_size: int,
        fc_sizes=512,
        lstm_size: int = 512,
        use_maxpool: bool = False,
        channels=None,
        kernel_sizes=None,
        strides=None,
        paddings=None,
    ):
        super().__init__()
        self.conv = Conv2dHeadModel(
            image_shape=image_shape,
            channels=channels or [16, 32],
            kernel_sizes=kernel_sizes or [8, 4],
            strides=strides or [4, 2],
            paddings=paddings or [0, 1],
            use_maxpool=use_maxpool,
            hidden_sizes=fc_sizes,
        )
        self.lstm = torch.nn.LSTM(self.conv.output_size + output_size + 1, lstm_size)
        self.pi = torch.nn.Linear(lstm_size, output_size)
        self.value = torch.nn.Linear(lstm_size, 1)

    def forward(self, image, prev_action, prev_reward, init_rnn_state=None):
        img = scale_image(image)
        lead_dim, T, B, img_shape = infer_leading_dims(img, 3)
        fc_out = self.conv(img.reshape(T * B, *img_shape))
        lstm_input = torch.cat(
            [
                fc_out.view(T, B, -1),
                prev_action.reshape(T, B, -1).to(fc_out.dtype),
                prev_reward.reshape(T, B, 1).to(fc_out.dtype),
            ],
            dim=2,
        )
        lstm_out, next_rnn_state = run_lstm(self.lstm, lstm_input, init_rnn_state)
        lstm_flat = lstm_out.reshape(T * B, -1)
        pi = F.softmax(self.pi(lstm_flat), dim=-1)
        v = self.value(lstm_flat).squeeze(-1)
        pi, v = restore_leading_dims((pi, v), lead_dim, T, B)
        return pi, v, next_rnn_state
