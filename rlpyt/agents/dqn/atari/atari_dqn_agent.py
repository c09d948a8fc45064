"""DQN agent for Atari frame stacks."""

from rlpyt.agents.dqn.atari.mixin import AtariMixin
from rlpyt.agents.dqn.dqn_agent import DqnAgent
from rlpyt.models.dqn.atari_dqn_model import AtariDqnModel

__all__ = ["AtariDqnAgent"]


class AtariDqnAgent(AtariMixin, DqnAgent):
    """:class:`DqnAgent` with :class:`AtariDqnModel` by default; other args as ``DqnAgent``."""

    def __init__(self, *, ModelCls=AtariDqnModel, **kwargs):
        super().__init__(ModelCls=ModelCls, **kwargs)
