"""The random agent: the baseline every planner is compared with."""

import numpy as np

from rlpyt.agents.planning.base import PlanningAgent, SearchResult

__all__ = ["RandomAgent"]


class RandomAgent(PlanningAgent):
    """Acts uniformly at random, with the agent's generator (seeded by ``bind_envs``).

    It uses neither a network nor a model of the env, so it also runs on envs that
    cannot be cloned. Its ``action_probs`` are uniform (the policy it follows) and its
    ``value`` and ``qualities`` NaN (it estimates nothing).
    """

    def __init__(self):
        super().__init__(ModelCls=None)

    @property
    def uses_env_model(self) -> bool:
        return False

    def search(self, env_id: int, observation):
        n = self.n_actions
        return SearchResult(
            action=int(self.rng.integers(n)),
            action_probs=np.full(n, 1.0 / n, dtype=np.float32),
            metrics={"model_steps": 0.0},
        )
        yield  # pragma: no cover - a search is a generator; this one never needs the network
