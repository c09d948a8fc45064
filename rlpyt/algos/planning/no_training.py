"""The algorithm of planning runs with nothing to train: the search is the whole agent."""

from collections import namedtuple

from rlpyt.algos.base import RlAlgorithm

__all__ = ["NoTraining"]

OptInfo = namedtuple("OptInfo", [])


class NoTraining(RlAlgorithm):
    """Plans with the agent as it is: no network updates, no replay (Alpacka's DummyTrainer).

    For planners without a network (random, shooting with random rollouts, MCTS with rollout
    leaves) and for evaluating a fixed network. The episode runner still logs, snapshots and
    resumes as in a training run.

    Args:
        discount: gamma of the logged discounted returns (``DiscountedReturn``).
    """

    def __init__(self, discount=1.0):
        super().__init__()
        self.discount = float(discount)

    def initialize(
        self, agent, n_itr, batch_spec, mid_batch_reset=False, examples=None, world_size=1, rank=0
    ):
        self.agent = agent
        self.n_itr = n_itr
        self.batch_spec = batch_spec

    def optimize_agent(self, itr, samples):
        """Nothing to learn from the epoch's episodes; an empty ``OptInfo``."""
        return OptInfo()

    def optim_state_dict(self) -> dict:
        return {}

    def load_optim_state_dict(self, state_dict: dict):
        if state_dict:
            raise ValueError("NoTraining has no optimizer, but the snapshot holds one's state")
