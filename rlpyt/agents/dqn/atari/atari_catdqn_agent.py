"""Distributional (C51) DQN agent for Atari frame stacks."""

from rlpyt.agents.dqn.atari.mixin import AtariMixin
from rlpyt.agents.dqn.catdqn_agent import CatDqnAgent
from rlpyt.models.dqn.atari_catdqn_model import AtariCatDqnModel

__all__ = ["AtariCatDqnAgent"]


class AtariCatDqnAgent(AtariMixin, CatDqnAgent):
    """:class:`CatDqnAgent` with :class:`AtariCatDqnModel` by default; other args as ``CatDqnAgent``."""

    def __init__(self, *, ModelCls=AtariCatDqnModel, **kwargs):
        super().__init__(ModelCls=ModelCls, **kwargs)
