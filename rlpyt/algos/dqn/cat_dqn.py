"""Categorical DQN (C51, Bellemare et al. 2017).

The agent's model outputs, per action, probabilities over ``n_atoms`` returns
evenly spaced on ``[V_min, V_max]``. The target distribution is the next state's
(target network) distribution shifted by the n-step return and scaled by the
bootstrap discount, projected back onto the atoms. With ``n_step_return > 1``,
``double_dqn``, a dueling model and ``prioritized_replay`` this is Rainbow minus
noisy nets.
"""

import torch

from rlpyt.algos.dqn.dqn import DQN
from rlpyt.utils.tensor import select_at_indexes

__all__ = ["CategoricalDQN", "project_onto_support"]

# Floor inside the log of the cross-entropy: a zero predicted probability
# where the target has mass would otherwise give an infinite loss.
_EPS = 1e-6


def project_onto_support(
    p_next: torch.Tensor, return_: torch.Tensor, discount: torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """Project the distribution of ``return_ + discount * Z`` onto the atoms ``z``.

    Args:
        p_next: ``[N, n_atoms]`` probabilities of the bootstrap distribution on ``z``.
        return_: ``[N]`` n-step returns.
        discount: ``[N]`` bootstrap discounts (0: the return alone, a terminal target).
        z: ``[n_atoms]`` evenly spaced atoms from V_min to V_max.

    Returns:
        ``[N, n_atoms]`` probabilities: each shifted atom ``Tz_j`` (clipped to
        [V_min, V_max]) splits its mass between its two neighbouring atoms in
        proportion to closeness, i.e. atom i gets ``p_j * max(0, 1 - |Tz_j - z_i| / dz)``
        (the l/u split of the paper's Algorithm 1, also right when Tz_j lands on an atom).
    """
    v_min, v_max = z[0], z[-1]
    delta_z = (v_max - v_min) / (z.numel() - 1)
    tz = (return_.unsqueeze(-1) + discount.unsqueeze(-1) * z).clamp(v_min, v_max)  # [N, J]
    weight = (1 - (tz.unsqueeze(-2) - z.view(-1, 1)).abs() / delta_z).clamp(min=0)  # [N, I, J]
    return torch.bmm(weight, p_next.unsqueeze(-1)).squeeze(-1)


class CategoricalDQN(DQN):
    """C51 on top of :class:`DQN` (same replay, schedules, target updates).

    Takes all :class:`DQN` arguments; ``delta_clip`` is unused: the loss is a
    cross-entropy, and priorities are the KL divergences, as in Rainbow.

    Args:
        V_min, V_max: the support's range (given to the agent's ``give_V_min_max``).
    """

    def __init__(self, *, V_min: float = -10.0, V_max: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        if not V_min < V_max:
            raise ValueError(f"V_min must be < V_max, got V_min={V_min}, V_max={V_max}")
        self.V_min = V_min
        self.V_max = V_max

    def initialize(self, agent, *args, **kwargs):
        super().initialize(agent, *args, **kwargs)
        agent.give_V_min_max(self.V_min, self.V_max)
        n_atoms = agent.n_atoms
        self.z = torch.linspace(self.V_min, self.V_max, n_atoms, device=agent.device)

    def target_distribution(self, samples) -> torch.Tensor:
        """Projected target probabilities ``[N, n_atoms]`` (no gradient)."""
        with torch.no_grad():
            target_p = self.agent.target(*samples.target_inputs)  # [N, A, atoms]
            chooser = self.agent(*samples.target_inputs) if self.double_dqn else target_p
            next_action = torch.argmax((chooser * self.z).sum(-1), dim=-1)
            p_next = select_at_indexes(next_action, target_p)
            return project_onto_support(
                p_next, samples.return_, samples.bootstrap_discount.to(p_next.dtype), self.z
            )

    def loss(self, samples):
        """Cross-entropy to the projected target; returns ``(loss, KL [N])`` (KL: priorities)."""
        p = select_at_indexes(samples.action, self.agent(*samples.agent_inputs))  # [N, atoms]
        target_p = self.target_distribution(samples)
        log_p = torch.log(p.clamp(min=_EPS))
        losses = -(target_p * log_p).sum(-1)
        with torch.no_grad():
            log_target = torch.log(target_p.clamp(min=_EPS))
            kl = (target_p * (log_target - log_p)).sum(-1).clamp(min=0)
        if self.prioritized_replay:
            losses = losses * samples.is_weights
        return losses.mean(), kl
