"""Distributional (C51) Q-network for Atari: a probability over value atoms per action."""

import torch
import torch.nn.functional as F

from rlpyt.models.dqn.atari_dqn_model import nature_conv
from rlpyt.models.dqn.dueling import DistributionalDuelingHeadModel
from rlpyt.models.mlp import MlpModel
from rlpyt.models.utils import scale_image
from rlpyt.utils.tensor import infer_leading_dims, restore_leading_dims
from rlpyt.utils.validation import require_int_at_least

__all__ = ["AtariCatDqnModel"]


class AtariCatDqnModel(torch.nn.Module):
    """Nature DQN conv features, then a head to ``output_size x n_atoms`` logits, softmax over atoms.

    ``forward(observation, prev_action, prev_reward)``: ``observation`` uint8
    ``[..., C, H, W]`` with leading dims ``[]``, ``[B]`` or ``[T, B]``
    (prev_action/prev_reward ignored). Returns probabilities
    ``p`` ``[..., output_size, n_atoms]`` (each ``p[..., a, :]`` sums to 1) over
    the value atoms the agent holds (Bellemare et al., 2017).

    Args as :class:`~rlpyt.models.dqn.atari_dqn_model.AtariDqnModel`, plus
    ``n_atoms`` (51 in C51); ``dueling`` uses a
    :class:`~rlpyt.models.dqn.dueling.DistributionalDuelingHeadModel`.
    """

    def __init__(
        self,
        image_shape,
        output_size: int,
        n_atoms: int = 51,
        fc_sizes=512,
        dueling: bool = False,
        use_maxpool: bool = False,
        channels=None,
        kernel_sizes=None,
        strides=None,
        paddings=None,
    ):
        super().__init__()
        n_atoms = require_int_at_least("n_atoms", n_atoms, 2)
        self.conv, conv_out_size = nature_conv(
            image_shape, channels, kernel_sizes, strides, paddings, use_maxpool
        )
        if dueling:
            self.head = DistributionalDuelingHeadModel(
                conv_out_size, fc_sizes, output_size, n_atoms
            )
        else:
            self.head = MlpModel(conv_out_size, fc_sizes, output_size=output_size * n_atoms)
        self.output_size = output_size
        self.n_atoms = n_atoms
        self.dueling = dueling

    def forward(self, observation, prev_action=None, prev_reward=None):
        img = scale_image(observation)
        lead_dim, T, B, img_shape = infer_leading_dims(img, 3)
        features = self.conv(img.view(T * B, *img_shape)).view(T * B, -1)
        logits = self.head(features).view(T * B, self.output_size, self.n_atoms)
        p = F.softmax(logits, dim=-1)
        return restore_leading_dims(p, lead_dim, T, B)
