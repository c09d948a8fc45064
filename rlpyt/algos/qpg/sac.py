"""SAC: soft actor-critic with twin Q-functions and automatic entropy tuning.

Haarnoja et al. 2018 ("Soft Actor-Critic Algorithms and Applications"): no
separate V network; twin critics with target networks moved by Polyak
averaging; the entropy temperature alpha is learned to keep the policy's
entropy near ``target_entropy`` (``"auto"``: minus the action dimension), or
fixed with ``fixed_alpha``. Per gradient step::

    y      = reward_scale * return_ + bootstrap_discount * (min_i Q'_i(s', a') - alpha log pi(a'|s'))
    L_Q    = 1/2 E[(Q_1(s, a) - y)^2] + 1/2 E[(Q_2(s, a) - y)^2]
    L_pi   = E[alpha log pi(a~|s) - min_i Q_i(s, a~)]          (a~ reparameterised)
    L_alpha = -E[log alpha * (log pi(a~|s) + target_entropy)]
"""

from collections import namedtuple
from typing import Unpack

import torch

from rlpyt.algos.qpg.base import QpgAlgorithm, check_bootstrap_timelimit, min_q
from rlpyt.algos.replay import ReplayOptions
from rlpyt.utils.validation import require_positive

__all__ = ["SAC", "OptInfo"]

# skipped: 1.0 for an update with a step skipped as non-finite, else 0.0.
OptInfo = namedtuple(
    "OptInfo", ["qLoss", "piLoss", "alphaLoss", "alpha", "qGradNorm", "piGradNorm", "skipped"]
)


class SAC(QpgAlgorithm):
    """Soft actor-critic (names and defaults of the original rlpyt's SAC, twin-Q version).

    ``discount``, ``batch_size``, ``min_steps_learn``, ``replay_size``, ``replay_ratio``,
    ``target_update_tau``, ``target_update_interval``, ``n_step_return``, ``clip_grad_norm``
    and ``options`` (:class:`~rlpyt.algos.replay.ReplayOptions`: ``OptimCls``,
    ``optim_kwargs``, ``initial_optim_state_dict``, ``ReplayBufferCls``, ``replay_kwargs``,
    ``updates_per_sync``, ``snapshot_replay``) are those of
    :class:`~rlpyt.algos.replay.ReplayAlgorithm`; ``replay_ratio=256`` with
    ``batch_size=256`` is one gradient step per env step.

    Args:
        learning_rate: for the policy, the critics and alpha.
        fixed_alpha: a fixed temperature; None learns it towards ``target_entropy``.
        reward_scale: multiplies the (n-step) rewards in the critic target.
        target_entropy: "auto" (= -action dimension) or a number.
        reparameterize, action_prior, bootstrap_timelimit, policy_output_regularization: the
            original SAC's keywords, accepted with the values that describe this SAC
            (``True``, ``"uniform"``, ``True``, ``None`` or 0); other values are refused
            with the reason (see docs/porting.md).
    """

    opt_info_fields = tuple(OptInfo._fields)

    def __init__(
        self,
        *,
        discount: float = 0.99,
        batch_size: int = 256,
        min_steps_learn: int = int(1e4),
        replay_size: int = int(1e6),
        replay_ratio: float = 256,
        target_update_tau: float = 0.005,
        target_update_interval: int = 1,
        learning_rate: float = 3e-4,
        fixed_alpha: float | None = None,
        reward_scale: float = 1.0,
        target_entropy="auto",
        clip_grad_norm: float = 1e9,
        n_step_return: int = 1,
        reparameterize: bool = True,
        action_prior: str = "uniform",
        bootstrap_timelimit: bool = True,
        policy_output_regularization: float | None = None,
        **options: Unpack[ReplayOptions],
    ):
        if policy_output_regularization:
            raise ValueError(
                f"SAC(policy_output_regularization={policy_output_regularization!r}): the "
                "penalty on the policy's mean and log-std belonged to the original's first SAC "
                "version (with a state-value network), which this code base does not keep; "
                "the twin-Q SAC has no such term (0.1.2 had it commented out): drop the keyword"
            )
        if reparameterize is not True:
            # The original raised NotImplementedError in its loss for False, at the first update.
            raise ValueError(
                f"SAC(reparameterize={reparameterize!r}): this SAC's policy loss always uses "
                "reparameterised actions (the original rlpyt's SAC also had no other policy "
                "loss: it failed at the first update with False); drop the keyword or pass True"
            )
        if action_prior != "uniform":
            raise ValueError(
                f"SAC(action_prior={action_prior!r}): only the uniform prior (no prior term in "
                "the policy loss) is implemented; the original's 'gaussian' prior added "
                "log N(a; 0, 1) to it: drop the keyword or pass 'uniform'"
            )
        check_bootstrap_timelimit("SAC", bootstrap_timelimit)
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
        require_positive("learning_rate", learning_rate)
        require_positive("reward_scale", reward_scale)
        if fixed_alpha is not None:
            require_positive("fixed_alpha", fixed_alpha)
        if target_entropy != "auto" and not isinstance(target_entropy, int | float):
            raise ValueError(f"target_entropy must be 'auto' or a number, got {target_entropy!r}")
        self.learning_rate = learning_rate
        self.fixed_alpha = fixed_alpha
        self.reward_scale = reward_scale
        self.target_entropy = target_entropy

    def make_optimizers(self):
        agent = self.agent
        action_dim = agent.env_spaces.action.shape[0]
        if self.target_entropy == "auto":
            self._target_entropy = -float(action_dim)
        else:
            self._target_entropy = float(self.target_entropy)
        initial = 1.0 if self.fixed_alpha is None else self.fixed_alpha
        self.log_alpha = (
            torch.tensor(float(initial), device=agent.device)
            .log()
            .requires_grad_(self.fixed_alpha is None)
        )
        self.optimizers = dict(
            pi=self.build_optimizer(agent.pi_parameters(), self.learning_rate),
            q=self.build_optimizer(agent.q_parameters(), self.learning_rate),
        )
        if self.fixed_alpha is None:
            self.optimizers["alpha"] = self.build_optimizer([self.log_alpha], self.learning_rate)

    def empty_opt_info(self) -> OptInfo:
        return OptInfo(*([] for _ in OptInfo._fields))

    # -- losses (separate, so tests can evaluate them on hand-built batches) --------------

    def q_loss(self, batch, alpha: torch.Tensor) -> torch.Tensor:
        """Twin-critic soft Bellman loss (the first line of the module docstring)."""
        agent = self.agent
        q1, q2 = agent.q(*batch.agent_inputs, batch.action)
        with torch.no_grad():
            next_action, next_log_pi, _ = agent.pi(*batch.target_inputs)
            target_q1, target_q2 = agent.target_q(*batch.target_inputs, next_action)
            target_v = min_q(target_q1, target_q2) - alpha * next_log_pi
            y = self.reward_scale * batch.return_ + batch.bootstrap_discount * target_v
        return 0.5 * ((q1 - y) ** 2).mean() + 0.5 * ((q2 - y) ** 2).mean()

    def pi_loss(self, batch, alpha: torch.Tensor):
        """``(policy loss, log pi of the new actions)`` with reparameterised actions."""
        agent = self.agent
        new_action, log_pi, _ = agent.pi(*batch.agent_inputs)
        q1, q2 = agent.q(*batch.agent_inputs, new_action)
        return (alpha * log_pi - min_q(q1, q2)).mean(), log_pi

    def alpha_loss(self, log_pi: torch.Tensor) -> torch.Tensor:
        """Temperature loss: alpha rises when the entropy (-log pi) is below target."""
        return -(self.log_alpha * (log_pi.detach() + self._target_entropy)).mean()

    # -- one gradient step ---------------------------------------------------------------

    def train_batch(self, itr: int, batch) -> tuple[dict, bool]:
        alpha = self.log_alpha.detach().exp()
        q_loss = self.q_loss(batch, alpha)
        (q_grad_norm,), q_applied = self.step(
            itr, "q", [(self.optimizers["q"], q_loss)], dict(qLoss=q_loss), ["qGradNorm"]
        )
        if not q_applied:
            return dict(qLoss=q_loss, alpha=alpha, qGradNorm=q_grad_norm), False
        pi_loss, log_pi = self.pi_loss(batch, alpha)
        if self.fixed_alpha is None:
            # One backward for both: the temperature loss sees log_pi detached.
            alpha_loss = self.alpha_loss(log_pi)
            (pi_grad_norm, _), _applied = self.step(
                itr,
                "pi",
                [(self.optimizers["pi"], pi_loss), (self.optimizers["alpha"], alpha_loss)],
                dict(piLoss=pi_loss, alphaLoss=alpha_loss),
                ["piGradNorm", "alphaGradNorm"],
            )
        else:
            (pi_grad_norm,), _applied = self.step(
                itr, "pi", [(self.optimizers["pi"], pi_loss)], dict(piLoss=pi_loss), ["piGradNorm"]
            )
            alpha_loss = torch.zeros((), device=q_loss.device)
        values = dict(
            qLoss=q_loss,
            piLoss=pi_loss,
            alphaLoss=alpha_loss,
            alpha=alpha,
            qGradNorm=q_grad_norm,
            piGradNorm=pi_grad_norm,
        )
        return values, True

    # -- saving --------------------------------------------------------------------------

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["log_alpha"] = self.log_alpha.detach().clone()
        return state

    def load_state_dict(self, state_dict: dict):
        super().load_state_dict(state_dict)
        with torch.no_grad():
            self.log_alpha.copy_(state_dict["log_alpha"])
