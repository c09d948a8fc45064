"""Per-trajectory diagnostics collected by the samplers."""

from rlpyt.utils.collections import AttrDict


class TrajInfo(AttrDict):
    """Running statistics of one trajectory, logged when it ends.

    Fields whose names start with ``_`` are bookkeeping and are not logged.
    Subclasses add fields in ``__init__`` and update them in ``step``.
    """

    _discount = 1.0  # class attribute: set by the algorithm's discount when known

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.Length = 0
        self.Return = 0.0
        self.NonzeroRewards = 0
        self.DiscountedReturn = 0.0
        self._cur_discount = 1.0

    def step(self, observation, action, reward, done, agent_info, env_info) -> None:
        reward = float(reward)
        self.Length += 1
        self.Return += reward
        self.NonzeroRewards += reward != 0
        self.DiscountedReturn += self._cur_discount * reward
        self._cur_discount *= self._discount

    def terminate(self, observation) -> "TrajInfo":
        """Called when the trajectory ends; returns the finished record."""
        return self
