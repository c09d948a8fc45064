"""Softmax and epsilon-greedy agents over a Q or value network: the model-free baselines.

Both rate the actions of the current state with the network, one request per real
step (batched across envs by the base), and differ only in the distribution they
act from:

* ``head="q"``: the ratings are the Q head's outputs for the observation; no model
  of the env is used (such an agent runs on envs that cannot be cloned);
* ``head="value"``: one-step lookahead with the model, ``r + discount * V(s')`` for
  each action (``r`` alone where ``s'`` is terminal; a time-limit cut in the model
  is not terminal and bootstraps). The ``A`` next states go to the network in one
  request.

The distribution is the policy target (``action_probs``), the ratings are the
``qualities``, and ``value`` is the expected rating under the distribution (the value
of the policy followed).
"""

import numpy as np

from rlpyt.agents.planning.base import PlanningAgent, SearchResult
from rlpyt.agents.planning.choice import sample_categorical, softmax
from rlpyt.utils.validation import require_in_range, require_positive

__all__ = ["ValueNetworkAgent", "SoftmaxAgent", "EpsilonGreedyAgent"]

HEADS = ("q", "value")


class ValueNetworkAgent(PlanningAgent):
    """The common part: rate the actions (see the module docstring); subclasses set
    :meth:`action_distribution`.

    Args:
        ModelCls, model_kwargs, initial_model_state_dict: the network (required), with a
            ``"q"`` or ``"value"`` head as ``head`` says.
        head: ``"q"`` or ``"value"``.
        discount: of the one-step lookahead (``head="value"``).

    Metrics per real step: ``model_steps`` (``A`` with ``head="value"``, else 0),
    ``root_value``.
    """

    def __init__(
        self,
        *,
        ModelCls,
        model_kwargs=None,
        initial_model_state_dict=None,
        head: str = "q",
        discount: float = 0.99,
    ):
        name = type(self).__name__
        if ModelCls is None:
            raise ValueError(f"{name} needs a network: pass ModelCls (e.g. PlanningMlpModel)")
        if head not in HEADS:
            raise ValueError(f"{name}: head must be one of {HEADS}, got {head!r}")
        require_in_range("discount", discount, 0.0, 1.0)
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs=model_kwargs,
            initial_model_state_dict=initial_model_state_dict,
        )
        self.head = head
        self.discount = float(discount)

    @property
    def uses_env_model(self) -> bool:
        return self.head == "value"

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        self.require_heads((self.head,), f"head={self.head!r}")

    def search(self, env_id: int, observation):
        if self.head == "q":
            qualities = (yield np.asarray(observation)[None])["q"][0].astype(np.float64)
            model_steps = 0
        else:
            qualities = yield from self._lookahead(env_id)
            model_steps = self.n_actions
        probs = self.action_distribution(qualities)
        action = int(sample_categorical(probs[None], self.rng)[0])
        value = float(np.dot(probs, qualities))
        return SearchResult(
            action=action,
            value=value,
            action_probs=probs.astype(np.float32),
            qualities=qualities.astype(np.float32),
            metrics={"model_steps": float(model_steps), "root_value": value},
        )

    def _lookahead(self, env_id: int):
        """``r + discount * V(s')`` per action (a generator returning ``[A]``)."""
        model = self.model_of(env_id)
        root = model.clone_state()
        rewards = np.zeros(self.n_actions)
        open_, next_observations = [], []
        for a in range(self.n_actions):
            model.restore_state(root)
            step = model.step(a)
            rewards[a] = float(step.reward)
            if not step.done or bool(getattr(step.env_info, "timeout", False)):
                open_.append(a)
                next_observations.append(step.observation)
        qualities = rewards
        if open_:
            values = (yield np.stack(next_observations))["value"]
            qualities[open_] += self.discount * values.astype(np.float64)
        return qualities

    def action_distribution(self, qualities: np.ndarray) -> np.ndarray:
        """The distribution ``[A]`` to act from, given the actions' ratings."""
        raise NotImplementedError


class SoftmaxAgent(ValueNetworkAgent):
    """Acts from ``softmax(qualities / temperature)``.

    Args:
        temperature: > 0; small is greedy, large is uniform.
        head, discount, ModelCls, model_kwargs, initial_model_state_dict: see
            :class:`ValueNetworkAgent`.
    """

    def __init__(self, *, temperature: float = 1.0, **kwargs):
        require_positive("temperature", temperature)
        super().__init__(**kwargs)
        self.temperature = float(temperature)

    def action_distribution(self, qualities):
        return softmax(qualities, self.temperature)


class EpsilonGreedyAgent(ValueNetworkAgent):
    """Acts greedily with probability ``1 - epsilon``, uniformly at random otherwise.

    The distribution gives ``epsilon / A`` to each action plus ``1 - epsilon`` split
    evenly among the actions of the highest rating (ties share it).

    Args:
        epsilon: in [0, 1].
        head, discount, ModelCls, model_kwargs, initial_model_state_dict: see
            :class:`ValueNetworkAgent`.
    """

    def __init__(self, *, epsilon: float = 0.05, **kwargs):
        require_in_range("epsilon", epsilon, 0.0, 1.0)
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def action_distribution(self, qualities):
        n = len(qualities)
        best = qualities == qualities.max()
        return self.epsilon / n + (1.0 - self.epsilon) * best / best.sum()
