"""DDPG (Lillicrap et al. 2016): a deterministic policy mu and one critic Q.

Per gradient step::

    y    = return_ + bootstrap_discount * Q'(s', mu'(s'))
    L_Q  = 1/2 E[(Q(s, a) - y)^2]
    L_mu = -E[Q(s, mu(s))]          every ``policy_update_interval`` steps
"""

from collections import namedtuple
from typing import Unpack

import torch

from rlpyt.algos.qpg.base import QpgAlgorithm, check_bootstrap_timelimit
from rlpyt.algos.replay import ReplayOptions
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = ["DDPG", "OptInfo"]

# skipped: 1.0 for an update with a step skipped as non-finite, else 0.0.
OptInfo = namedtuple("OptInfo", ["muLoss", "qLoss", "muGradNorm", "qGradNorm", "skipped"])


class DDPG(QpgAlgorithm):
    """Deep deterministic policy gradient (names and defaults of the original rlpyt).

    The other arguments, and ``options`` (:class:`~rlpyt.algos.replay.ReplayOptions`), are
    those of :class:`~rlpyt.algos.replay.ReplayAlgorithm`.

    Args:
        learning_rate: the policy's (mu) learning rate.
        q_learning_rate: the critic's.
        policy_update_interval: critic steps per policy step.
        q_target_clip: targets are clamped to +- this (guards against blow-ups).
        bootstrap_timelimit: the original's keyword; True (the default) is what happens
            always, False is refused: see :func:`~rlpyt.algos.qpg.base.check_bootstrap_timelimit`.
    """

    opt_info_fields = tuple(OptInfo._fields)

    def __init__(
        self,
        *,
        discount: float = 0.99,
        batch_size: int = 64,
        min_steps_learn: int = int(1e4),
        replay_size: int = int(1e6),
        replay_ratio: float = 64,
        target_update_tau: float = 0.01,
        target_update_interval: int = 1,
        policy_update_interval: int = 1,
        learning_rate: float = 1e-4,
        q_learning_rate: float = 1e-3,
        clip_grad_norm: float = 1e8,
        q_target_clip: float = 1e6,
        n_step_return: int = 1,
        bootstrap_timelimit: bool = True,
        **options: Unpack[ReplayOptions],
    ):
        check_bootstrap_timelimit(type(self).__name__, bootstrap_timelimit)
        super().__init__(
            discount=discount,
            batch_size=batch_size,
            min_steps_learn=min_steps_learn,
            replay_size=replay_size,
            replay_ratio=replay_ratio,
            target_update_tau=target_update_tau,
            target_update_interval=target_update_interval,
            n_step_return=n_step_return,
            clip_grad_norm=clip_grad_norm,
            **options,
        )
        policy_update_interval = require_int_at_least(
            "policy_update_interval", policy_update_interval, 1
        )
        require_positive("learning_rate", learning_rate)
        require_positive("q_learning_rate", q_learning_rate)
        require_positive("q_target_clip", q_target_clip)
        self.policy_update_interval = policy_update_interval
        self.learning_rate = learning_rate
        self.q_learning_rate = q_learning_rate
        self.q_target_clip = q_target_clip

    def make_optimizers(self):
        self.optimizers = dict(
            mu=self.build_optimizer(self.agent.mu_parameters(), self.mu_learning_rate),
            q=self.build_optimizer(self.agent.q_parameters(), self.q_learning_rate),
        )

    @property
    def mu_learning_rate(self) -> float:
        return self.learning_rate

    def empty_opt_info(self) -> OptInfo:
        return OptInfo(*([] for _ in OptInfo._fields))

    def target_value(self, batch) -> torch.Tensor:
        """``Q'(s', mu'(s'))`` at the bootstrap inputs ``[N]``."""
        return self.agent.target_q_at_mu(*batch.target_inputs)

    def q_loss(self, batch) -> torch.Tensor:
        with torch.no_grad():
            y = batch.return_ + batch.bootstrap_discount * self.target_value(batch)
            y = y.clamp(-self.q_target_clip, self.q_target_clip)
        q = self.agent.q(*batch.agent_inputs, batch.action)
        qs = q if isinstance(q, tuple) else (q,)
        return sum(0.5 * ((qi - y) ** 2).mean() for qi in qs)

    def mu_loss(self, batch) -> torch.Tensor:
        return -self.agent.q_at_mu(*batch.agent_inputs).mean()

    def train_batch(self, itr: int, batch) -> tuple[dict, bool]:
        q_loss = self.q_loss(batch)
        (q_grad_norm,), q_applied = self.step(
            itr, "q", [(self.optimizers["q"], q_loss)], dict(qLoss=q_loss), ["qGradNorm"]
        )
        out = dict(qLoss=q_loss, qGradNorm=q_grad_norm)
        # update_counter counts finished steps: this is step update_counter + 1.
        if q_applied and (self.update_counter + 1) % self.policy_update_interval == 0:
            mu_loss = self.mu_loss(batch)
            (mu_grad_norm,), _applied = self.step(
                itr, "mu", [(self.optimizers["mu"], mu_loss)], dict(muLoss=mu_loss), ["muGradNorm"]
            )
            out.update(muLoss=mu_loss, muGradNorm=mu_grad_norm)
        return out, q_applied
