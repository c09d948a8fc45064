"""A tiny planner for the tests of the training side of planning (algorithm, runner).

:class:`LookaheadAgent` searches one step: from the real state it tries every action on
its model, asks the network (one batched request) for the value of each next observation,
and acts epsilon-greedily on ``reward + discount * V(next)`` (``V = 0`` after a terminal
step). It reports those action values as ``qualities`` and a one-hot ``action_probs``, so
it exercises every target of :class:`~rlpyt.algos.planning.SupervisedFromSearch`.
"""

import numpy as np

from rlpyt.agents.planning.base import PlanningAgent, SearchResult
from rlpyt.models.planning import PlanningMlpModel


class LookaheadAgent(PlanningAgent):
    def __init__(self, epsilon=0.2, discount=0.99, hidden_sizes=(16,), heads=("value",)):
        super().__init__(
            ModelCls=PlanningMlpModel, model_kwargs=dict(hidden_sizes=hidden_sizes, heads=heads)
        )
        self.epsilon = epsilon
        self.discount = discount

    def search(self, env_id, observation):
        model = self.model_of(env_id)
        root = model.clone_state()
        steps = []
        for action in range(self.n_actions):
            model.restore_state(root)
            steps.append(model.step(action))
        outputs = yield np.stack([step.observation for step in steps])
        terminal = np.array([s.done and not s.env_info.timeout for s in steps])
        rewards = np.array([s.reward for s in steps], dtype=np.float32)
        qualities = rewards + self.discount * np.where(terminal, 0.0, outputs["value"])
        if self.rng.random() < self.epsilon:
            action = int(self.rng.integers(self.n_actions))
        else:
            action = int(np.argmax(qualities))
        return SearchResult(
            action=action,
            value=float(qualities.max()),
            qualities=qualities.astype(np.float32),
            metrics={"expanded": float(self.n_actions)},
        )
