"""TD3 (Fujimoto et al. 2018): DDPG with twin critics, target smoothing, delayed policy updates.

The critic target takes the smaller of the two target critics at a smoothed
target action ``mu'(s') + clip(noise)`` (the agent adds the noise, see
``Td3Agent.target_q_at_mu``); the policy and the target networks update every
``policy_update_interval`` critic steps.
"""

import torch

from rlpyt.algos.qpg.base import min_q
from rlpyt.algos.qpg.ddpg import DDPG
from rlpyt.utils.validation import require_positive

__all__ = ["TD3"]


class TD3(DDPG):
    """Twin delayed DDPG (names and defaults of the original rlpyt).

    Args:
        mu_learning_rate: the policy's learning rate (used: the original ignored it).
        q_learning_rate: the critics'.
        (the others: see :class:`DDPG`)
    """

    def __init__(
        self,
        *,
        batch_size: int = 100,
        replay_ratio: float = 100,
        target_update_tau: float = 0.005,
        target_update_interval: int = 2,
        policy_update_interval: int = 2,
        mu_learning_rate: float = 1e-3,
        q_learning_rate: float = 1e-3,
        **kwargs,
    ):
        require_positive("mu_learning_rate", mu_learning_rate)
        kwargs.setdefault("learning_rate", mu_learning_rate)
        super().__init__(
            batch_size=batch_size,
            replay_ratio=replay_ratio,
            target_update_tau=target_update_tau,
            target_update_interval=target_update_interval,
            policy_update_interval=policy_update_interval,
            q_learning_rate=q_learning_rate,
            **kwargs,
        )
        self._mu_learning_rate = mu_learning_rate

    @property
    def mu_learning_rate(self) -> float:
        return self._mu_learning_rate

    def target_value(self, batch) -> torch.Tensor:
        target_q1, target_q2 = self.agent.target_q_at_mu(*batch.target_inputs)
        return min_q(target_q1, target_q2)
