"""Feed-forward policy/value model for Atari frames."""

import torch
import torch.nn.functional as F

from rlpyt.models.conv2d import Conv2dHeadModel
from rlpyt.models.utils import scale_image
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims

__all__ = ["AtariFfModel"]


class AtariFfModel(torch.nn.Module):
    """Conv stack + fully connected layer, then a softmax policy head and a value head.

    Inputs: ``image`` uint8 ``[..., C, H, W]`` (scaled to [0, 1] here, so the
    sampler stores and ships bytes); ``prev_action``/``prev_reward`` are ignored
    (the agent interface passes them to every model). Leading dims ``[]``,
    ``[B]`` or ``[T, B]``. Returns ``(pi [..., A], value [...])``.

    Defaults: the 2-layer conv net of Mnih et al. (2016) (A3C) with padding.
    """

    def __init__(
        self,
        image_shape,
        output_size: int,
        fc_sizes=512,
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
            hidden_sizes=fc_sizes,  # ends with the nonlinearity: features for the heads
        )
        self.pi = torch.nn.Linear(self.conv.output_size, output_size)
        self.value = torch.nn.Linear(self.conv.output_size, 1)

    def forward(self, image, prev_action=None, prev_reward=None):
        img = scale_image(image)
        lead_dim, T, B, img_shape = infer_leading_dims(img, 3)
        fc_out = self.conv(img.reshape(T * B, *img_shape))
        pi = F.softmax(self.pi(fc_out), dim=-1)
        v = self.value(fc_out).squeeze(-1)
        pi, v = restore_leading_dims((pi, v), lead_dim, T, B)
        return pi, v
