"""Epsilon-greedy action selection over Q-values (DQN family).

Not a probability distribution in the usual sense: there are no likelihoods or
entropies, only :meth:`EpsilonGreedy.sample`. With probability ``1 - epsilon``
the action is ``argmax q``, otherwise uniform over all ``dim`` actions (which
may again be the greedy one, so the greedy action's share is
``1 - epsilon + epsilon / dim``).

Randomness: every draw uses the ``torch.Generator`` given with
:meth:`EpsilonGreedy.set_generator` -- the DQN agents own one, seeded from the
run's seed, so serial runs reproduce exactly and snapshots can save its state
(see :class:`~rlpyt.agents.dqn.epsilon_greedy.EpsilonGreedyAgentMixin`). Without
a generator the global torch RNG is used. The generator must live on the device
of the Q-values.
"""

import torch

from rlpyt.distributions.base import Distribution
from rlpyt.distributions.categorical import DiscreteMixin
from rlpyt.utils.validation import require_in_range

__all__ = ["EpsilonGreedy", "CategoricalEpsilonGreedy"]


class EpsilonGreedy(DiscreteMixin, Distribution):
    """Greedy with probability ``1 - epsilon``, else uniform over ``dim`` actions.

    ``epsilon`` is a float (all envs) or a ``[B]`` tensor (one per env, e.g.
    Ape-X's vector of exploration rates), on the device of the Q-values.
    Actions are long indexes (``DiscreteMixin`` gives the one-hot helpers the
    agents use for ``prev_action``).
    """

    def __init__(self, dim: int, epsilon: float = 1.0, generator: torch.Generator | None = None):
        super().__init__(dim=dim)
        self.epsilon = 1.0
        self.generator = generator
        self.set_epsilon(epsilon)

    def set_epsilon(self, epsilon) -> None:
        """A float in [0, 1] for every env, or a ``[B]`` tensor with one value per env."""
        if isinstance(epsilon, torch.Tensor):
            if epsilon.dim() != 1:
                raise ValueError(
                    f"EpsilonGreedy: a tensor epsilon must be [B] (one per env), "
                    f"got shape {tuple(epsilon.shape)}"
                )
            # Checked once here (a per-iteration call), so sampling needs no host sync.
            if epsilon.numel() and not bool(((epsilon >= 0) & (epsilon <= 1)).all()):
                raise ValueError(f"EpsilonGreedy: every epsilon must be in [0, 1], got {epsilon}")
            self.epsilon = epsilon
        else:
            require_in_range("epsilon", epsilon, 0.0, 1.0)
            self.epsilon = float(epsilon)

    def set_generator(self, generator: torch.Generator | None) -> None:
        """The generator of all further draws (``None``: the global torch RNG)."""
        self.generator = generator

    def sample(self, q: torch.Tensor) -> torch.Tensor:
        """Actions ``[...]`` (long) for Q-values ``q`` ``[..., dim]``.

        With a ``[B]`` epsilon, ``q`` must be ``[B, dim]`` (or ``[T, B, dim]``).
        Everything stays on ``q``'s device: no host synchronisation.
        """
        lead_shape = q.shape[:-1]
        eps = self.epsilon
        if isinstance(eps, torch.Tensor) and (not lead_shape or lead_shape[-1] != eps.shape[0]):
            raise ValueError(
                f"EpsilonGreedy: epsilon holds {eps.shape[0]} per-env values but the Q-values "
                f"have leading dims {tuple(lead_shape)}: a vector epsilon needs [B] inputs with "
                "B = its length (in a sampler worker, call agent.collector_initialize with the "
                "worker's env_ranks)"
            )
        greedy = q.argmax(dim=-1)
        if not isinstance(eps, torch.Tensor) and eps == 0:
            return greedy
        g = self.generator
        explore = torch.rand(lead_shape, generator=g, device=q.device) < eps
        uniform = torch.randint(self.dim, lead_shape, generator=g, device=q.device)
        return torch.where(explore, uniform, greedy)


class CategoricalEpsilonGreedy(EpsilonGreedy):
    """Epsilon-greedy over distributional Q: ``q = sum_k p[..., k] * z[k]`` (C51).

    Inputs to :meth:`sample` are probabilities ``p`` ``[..., dim, n_atoms]`` over
    the value atoms ``z`` ``[n_atoms]`` (see :meth:`set_z`).
    """

    def __init__(
        self,
        dim: int,
        z: torch.Tensor,
        epsilon: float = 1.0,
        generator: torch.Generator | None = None,
    ):
        super().__init__(dim=dim, epsilon=epsilon, generator=generator)
        self.z = None
        self._z_on = {}  # device -> z there, so sampling on a GPU copies z once
        self.set_z(z)

    def set_z(self, z) -> None:
        """The value atoms ``[n_atoms]`` (e.g. ``torch.linspace(V_min, V_max, n_atoms)``)."""
        z = torch.as_tensor(z, dtype=torch.float32)
        if z.dim() != 1 or z.numel() < 2:
            raise ValueError(f"CategoricalEpsilonGreedy: z must be [n_atoms >= 2], got {z}")
        self.z = z
        self._z_on = {z.device: z}

    @property
    def n_atoms(self) -> int:
        return self.z.numel()

    def expectation(self, p: torch.Tensor) -> torch.Tensor:
        """Q-values ``[..., dim]``: the mean of each action's distribution ``p`` ``[..., dim, n_atoms]``."""
        z = self._z_on.get(p.device)
        if z is None:
            z = self._z_on[p.device] = self.z.to(p.device)
        return torch.tensordot(p, z.to(p.dtype), dims=1)

    def sample(self, p: torch.Tensor) -> torch.Tensor:
        """Actions ``[...]``: epsilon-greedy on the expected values of ``p`` ``[..., dim, n_atoms]``."""
        return super().sample(self.expectation(p))
