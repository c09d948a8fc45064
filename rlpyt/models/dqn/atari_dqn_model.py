"""Q-network for Atari frame stacks: the Nature DQN conv net, then an MLP or dueling head."""

import torch

from rlpyt.models.conv2d import Conv2dModel
from rlpyt.models.dqn.dueling import DuelingHeadModel
from rlpyt.models.mlp import MlpModel
from rlpyt.models.utils import scale_image
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims

__all__ = ["AtariDqnModel", "nature_conv"]

# Mnih et al. (2015): 32 8x8 filters stride 4, 64 4x4 stride 2, 64 3x3 stride 1, no padding
# (84x84 frames -> 7x7x64 = 3136 features).
NATURE_CHANNELS = (32, 64, 64)
NATURE_KERNEL_SIZES = (8, 4, 3)
NATURE_STRIDES = (4, 2, 1)


def nature_conv(
    image_shape,
    channels=None,
    kernel_sizes=None,
    strides=None,
    paddings=None,
    use_maxpool: bool = False,
) -> tuple[Conv2dModel, int]:
    """The conv stack (Nature DQN defaults for each ``None``) and its flattened output size."""
    c, h, w = image_shape
    conv = Conv2dModel(
        in_channels=c,
        channels=channels or NATURE_CHANNELS,
        kernel_sizes=kernel_sizes or NATURE_KERNEL_SIZES,
        strides=strides or NATURE_STRIDES,
        paddings=paddings,
        use_maxpool=use_maxpool,
    )
    return conv, conv.conv_out_size(h, w)


class AtariDqnModel(torch.nn.Module):
    """Conv features, then an MLP (or dueling) head to one Q-value per action.

    ``forward(observation, prev_action, prev_reward)``: ``observation`` uint8
    ``[..., C, H, W]`` frames (scaled to [0, 1] here, so replay stores bytes);
    ``prev_action``/``prev_reward`` are ignored (every model takes them).
    Leading dims ``[]``, ``[B]`` or ``[T, B]``. Returns ``q`` ``[..., output_size]``.

    Args:
        image_shape: ``(C, H, W)`` of one frame stack.
        output_size: number of actions.
        fc_sizes: hidden layer size(s) of the head (512 as in Nature DQN).
        dueling: a :class:`DuelingHeadModel` instead of a plain MLP head.
        use_maxpool, channels, kernel_sizes, strides, paddings: the conv stack
            (see :class:`~rlpyt.models.conv2d.Conv2dModel`); ``None`` = Nature DQN.
    """

    def __init__(
        self,
        image_shape,
        output_size: int,
        fc_sizes=512,
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
        if dueling:
            self.head = DuelingHeadModel(conv_out_size, fc_sizes, output_size)
        else:
            self.head = MlpModel(conv_out_size, fc_sizes, output_size=output_size)
        self.dueling = dueling

    def forward(self, observation, prev_action=None, prev_reward=None):
        img = scale_image(observation)
        lead_dim, T, B, img_shape = infer_leading_dims(img, 3)
        features = self.conv(img.view(T * B, *img_shape)).view(T * B, -1)
        q = self.head(features)
        return restore_leading_dims(q, lead_dim, T, B)
