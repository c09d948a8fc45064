"""Recurrent DQN (R2D1) agent for Atari frame stacks."""

from rlpyt.agents.dqn.atari.mixin import AtariMixin
from rlpyt.agents.dqn.r2d1_agent import R2d1Agent
from rlpyt.models.dqn.atari_r2d1_model import AtariR2d1Model

__all__ = ["AtariR2d1Agent"]


class AtariR2d1Agent(AtariMixin, R2d1Agent):
    """:class:`R2d1Agent` with :class:`AtariR2d1Model` by default; other args as ``DqnAgent``."""

    def __init__(self, *, ModelCls=AtariR2d1Model, **kwargs):
        super().__init__(ModelCls=ModelCls, **kwargs)
