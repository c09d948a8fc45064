"""Distributional DQN agent (C51, Bellemare et al. 2017): Q as a distribution over value atoms."""

import torch

from rlpyt.agents.dqn.dqn_agent import DqnAgent
from rlpyt.distributions.epsilon_greedy import CategoricalEpsilonGreedy
from rlpyt.utils.validation import require_int_at_least

__all__ = ["CatDqnAgent"]

# Atoms z = linspace(V_min, V_max, n_atoms) until the algorithm calls give_V_min_max
# (C51's Atari support). Greedy actions do not depend on them: for evenly spaced
# atoms E[z] is an increasing affine function of the mean atom index, so the
# argmax is the same for any V_min < V_max.
DEFAULT_V_MIN, DEFAULT_V_MAX = -10.0, 10.0


class CatDqnAgent(DqnAgent):
    """The model returns probabilities ``p`` ``[..., A, n_atoms]``; actions are
    epsilon-greedy on the expected values ``sum_k p[..., k] z[k]``.

    ``__call__`` and ``target`` return ``p`` on the model's device; ``step``
    (inherited: the distribution takes the expectation) records
    ``AgentInfo(q=p)`` with ``p`` ``[B, A, n_atoms]``, as the original rlpyt.

    Args:
        n_atoms: number of value atoms (passed to the model as ``n_atoms``).
        **kwargs: as :class:`~rlpyt.agents.dqn.dqn_agent.DqnAgent`.
    """

    def __init__(self, *, n_atoms: int = 51, **kwargs):
        super().__init__(**kwargs)
        n_atoms = require_int_at_least("n_atoms", n_atoms, 2)
        if self.model_kwargs.get("n_atoms", n_atoms) != n_atoms:
            raise ValueError(
                f"n_atoms={n_atoms} but model_kwargs has n_atoms="
                f"{self.model_kwargs['n_atoms']}: give it once, as the agent's n_atoms"
            )
        self.n_atoms = n_atoms
        self.model_kwargs["n_atoms"] = n_atoms
        self.V_min = DEFAULT_V_MIN
        self.V_max = DEFAULT_V_MAX

    def make_distribution(self, env_spaces) -> CategoricalEpsilonGreedy:
        return CategoricalEpsilonGreedy(dim=env_spaces.action.n, z=self.atoms())

    def atoms(self) -> torch.Tensor:
        """The value atoms ``z`` ``[n_atoms]``: ``linspace(V_min, V_max, n_atoms)``."""
        return torch.linspace(self.V_min, self.V_max, self.n_atoms)

    def give_V_min_max(self, V_min: float, V_max: float) -> None:
        """The support of the value distribution (the algorithm's ``V_min``, ``V_max``)."""
        if not float(V_min) < float(V_max):
            raise ValueError(f"V_min must be < V_max, got V_min={V_min}, V_max={V_max}")
        self.V_min = float(V_min)
        self.V_max = float(V_max)
        if self.distribution is not None:
            self.distribution.set_z(self.atoms())
