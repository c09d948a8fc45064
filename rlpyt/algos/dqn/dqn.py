"""DQN with its common variants: double, n-step, prioritized replay, dueling (in the model).

Each iteration the sampler's ``[T, B]`` batch goes into the replay buffer, then
(after ``min_steps_learn``) the agent takes gradient steps on replay batches so
that data consumed / data generated stays at ``replay_ratio``. Targets come from
the replay buffer's n-step fields::

    y = return_ + bootstrap_discount * Q_target(target_inputs)[a*]

``bootstrap_discount`` is ``discount**m`` for a window of ``m`` steps and 0 when
the window ends in a termination: a time-limit cut bootstraps from the cut
episode's final observation (the original rlpyt treated it as terminal).
"""

from collections import namedtuple
from typing import Unpack

import torch
import torch.nn.functional as F

from rlpyt.algos.optim import build_optimizer
from rlpyt.algos.replay import ReplayAlgorithm, ReplayOptions
from rlpyt.replays.non_sequence.frame import PrioritizedReplayFrameBuffer
from rlpyt.replays.non_sequence.prioritized import PrioritizedReplayBuffer
from rlpyt.utils.buffer import buffer_to
from rlpyt.utils.schedules import linear
from rlpyt.utils.tensor import select_at_indexes
from rlpyt.utils.validation import (
    require_in_range,
    require_int_at_least,
    require_non_negative,
    require_positive,
)

__all__ = ["DQN", "OptInfo"]

# One entry per gradient step in each list (tdAbsErr: one per sample); skipped: 1.0
# for a step skipped as non-finite, else 0.0.
OptInfo = namedtuple("OptInfo", ["loss", "gradNorm", "tdAbsErr", "skipped"])


class DQN(ReplayAlgorithm):
    """Deep Q-learning (Mnih et al. 2015) with double, n-step and prioritized options.

    Names and defaults are the original rlpyt's.

    Args:
        discount: gamma.
        batch_size: transitions per gradient step.
        min_steps_learn: env steps collected before the first gradient step.
        delta_clip: Huber loss threshold (None: squared error).
        replay_size: transitions the replay holds (rounded to a multiple of B).
        replay_ratio: transitions consumed by gradient steps per transition collected
            (kept exactly in the long run: fractional updates carry over).
        target_update_tau: 1 copies the weights every ``target_update_interval``
            gradient steps; < 1 moves the target by tau (Polyak) at that interval.
        target_update_interval: gradient steps between target updates.
        n_step_return: n of the n-step return.
        learning_rate: the optimizer's learning rate.
        clip_grad_norm: gradient-norm clip.
        eps_steps: env steps over which the agent's epsilon anneals (after min_steps_learn).
        double_dqn: pick the bootstrap action with the online network (van Hasselt 2016).
        prioritized_replay: sample transitions by priority (Schaul 2016).
        pri_alpha: the priority exponent.
        pri_beta_init: the importance-sampling exponent beta at the start; it anneals
            linearly to ``pri_beta_final`` over ``pri_beta_steps`` env steps (a pure
            function of the iteration).
        pri_beta_final: beta at the end of the anneal.
        pri_beta_steps: env steps of the anneal.
        default_priority: the priority of new transitions before any update.
        options: :class:`~rlpyt.algos.replay.ReplayOptions` (``OptimCls``, ``optim_kwargs``,
            ``initial_optim_state_dict``, ``ReplayBufferCls``, ``replay_kwargs``,
            ``updates_per_sync``, ``snapshot_replay``), as for
            :class:`~rlpyt.algos.replay.ReplayAlgorithm`. The default replay is a
            frame-deduplicating buffer for uint8 frame-stack observations
            (``[n_frames, H, W]``), else a plain one; uniform or prioritized as asked.
            Without the replay in snapshots a resumed run refills it for
            ``min_steps_learn`` steps before learning again.
    """

    opt_info_fields = tuple(OptInfo._fields)
    final_observation = True  # the sampler stores final observations of time-limit cuts

    def __init__(
        self,
        *,
        discount: float = 0.99,
        batch_size: int = 32,
        min_steps_learn: int = int(5e4),
        delta_clip: float | None = 1.0,
        replay_size: int = int(1e6),
        replay_ratio: float = 8,
        target_update_tau: float = 1.0,
        target_update_interval: int = 312,
        n_step_return: int = 1,
        learning_rate: float = 2.5e-4,
        clip_grad_norm: float = 10.0,
        eps_steps: int = int(1e6),
        double_dqn: bool = False,
        prioritized_replay: bool = False,
        pri_alpha: float = 0.6,
        pri_beta_init: float = 0.4,
        pri_beta_final: float = 1.0,
        pri_beta_steps: int = int(50e6),
        default_priority: float | None = None,
        **options: Unpack[ReplayOptions],
    ):
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
        if delta_clip is not None:
            require_positive("delta_clip", delta_clip)
        require_positive("learning_rate", learning_rate)
        eps_steps = require_int_at_least("eps_steps", eps_steps, 1)
        require_non_negative("pri_alpha", pri_alpha)
        require_in_range("pri_beta_init", pri_beta_init, 0.0, 1.0)
        require_in_range("pri_beta_final", pri_beta_final, 0.0, 1.0)
        pri_beta_steps = require_int_at_least("pri_beta_steps", pri_beta_steps, 1)
        self.delta_clip = delta_clip
        self.learning_rate = learning_rate
        self.eps_steps = int(eps_steps)
        self.double_dqn = double_dqn
        self.prioritized_replay = prioritized_replay
        self.pri_alpha = pri_alpha
        self.pri_beta_init = pri_beta_init
        self.pri_beta_final = pri_beta_final
        self.pri_beta_steps = int(pri_beta_steps)
        self.default_priority = default_priority

    # -- set-up -------------------------------------------------------------------

    def initialize_optimization(self):
        """The optimizer, and the agent's epsilon schedule (annealed after ``min_itr_learn``)."""
        eps_itr_max = max(1, self.eps_steps // self.sampler_bs)
        self.agent.set_epsilon_itr_min_max(self.min_itr_learn, self.min_itr_learn + eps_itr_max)
        self._opt = build_optimizer(
            self.OptimCls, self.agent.parameters(), self.learning_rate, self.optim_kwargs
        )
        self.optimizer = self._opt.optimizer

    def default_replay_class(self, example) -> type:
        if not self.prioritized_replay:
            return super().default_replay_class(example)
        if self._frame_replay(example.observation):
            return PrioritizedReplayFrameBuffer
        return PrioritizedReplayBuffer

    def replay_buffer_kwargs(self, example, batch_spec) -> dict:
        if not self.prioritized_replay:
            return {}
        kwargs = dict(alpha=self.pri_alpha, beta=self.pri_beta_init)
        if self.default_priority is not None:
            kwargs["default_priority"] = self.default_priority
        return kwargs

    # -- one iteration --------------------------------------------------------------

    def optimize_agent(self, itr: int, samples=None, sampler_itr=None):
        """Append ``samples`` (if given) to the replay, then train on replay batches."""
        if samples is not None:
            self.append_samples(samples)
        opt_info = OptInfo(*([] for _ in OptInfo._fields))
        if not self.ready_to_learn(itr):
            return opt_info
        if self.prioritized_replay:
            self.replay_buffer.set_beta(self.beta_at(itr))
        to_device = self.agent.device.type != "cpu"  # replay batches are CPU tensors
        losses, grad_norms, td_abs_errors = [], [], []
        for _ in range(self.n_updates()):
            batch = self.replay_buffer.sample_batch(self.batch_size)
            if to_device:
                batch = buffer_to(batch, device=self.agent.device)
            loss, td_abs = self.loss(batch)
            grad_norm, applied = self._optimizer_step(itr, loss, td_abs)
            grad_norms.append(grad_norm)
            losses.append(loss.detach())
            td_abs_errors.append(td_abs)
            opt_info.skipped.append(0.0 if applied else 1.0)
        if losses:  # diagnostics to floats once per iteration, not a host sync per step
            opt_info.loss.extend(torch.stack(losses).tolist())
            opt_info.gradNorm.extend(torch.stack(grad_norms).tolist())
            opt_info.tdAbsErr.extend(torch.cat(td_abs_errors).tolist())
        return opt_info

    def beta_at(self, itr: int) -> float:
        """Prioritized replay's importance-sampling exponent at iteration ``itr``."""
        steps = max(itr - self.min_itr_learn, 0) * self.sampler_bs
        return linear(self.pri_beta_init, self.pri_beta_final, steps / self.pri_beta_steps)

    # -- the loss -----------------------------------------------------------------------

    def target_values(self, samples) -> torch.Tensor:
        """``max_a Q_target(s', a)`` (or the double-DQN choice) at the bootstrap inputs ``[N]``."""
        with torch.no_grad():
            target_q = self.agent.target(*samples.target_inputs)
            if self.double_dqn:
                next_action = torch.argmax(self.agent(*samples.target_inputs), dim=-1)
                return select_at_indexes(next_action, target_q)
            return target_q.max(dim=-1).values

    def loss(self, samples):
        """Huber (or squared) TD loss of a replay batch; returns ``(loss, |TD error| [N])``.

        ``samples`` is a ``SamplesFromReplay`` (``SamplesFromReplayPri`` weights each
        error by ``is_weights``), on the agent's device.
        """
        q_all = self.agent(*samples.agent_inputs)
        q = q_all.gather(-1, samples.action.long().unsqueeze(-1)).squeeze(-1)
        y = samples.return_ + samples.bootstrap_discount * self.target_values(samples)
        td_abs_errors = (y - q.detach()).abs()  # no graph: priorities and diagnostics
        if self.delta_clip is None:
            losses = 0.5 * (y - q) ** 2
        else:  # Huber: 0.5 delta^2 within delta_clip, linear beyond (one op, same values)
            losses = F.huber_loss(q, y, reduction="none", delta=self.delta_clip)
            td_abs_errors = td_abs_errors.clamp_(max=self.delta_clip)
        if self.prioritized_replay:
            losses = losses * samples.is_weights
        return losses.mean(), td_abs_errors

    # -- the gradient step ----------------------------------------------------------------

    def _gradient_step(self, itr, loss, td_abs_errors, opt_info):
        """:meth:`_optimizer_step`, its diagnostics appended to ``opt_info``'s lists as floats."""
        grad_norm, applied = self._optimizer_step(itr, loss, td_abs_errors)
        opt_info.loss.append(loss.item())
        opt_info.gradNorm.append(float(grad_norm))
        opt_info.tdAbsErr.extend(td_abs_errors.tolist())
        opt_info.skipped.append(0.0 if applied else 1.0)

    def _optimizer_step(self, itr, loss, td_abs_errors) -> tuple[torch.Tensor, bool]:
        """The guarded step (:class:`~rlpyt.algos.optim.GuardedStep`), then priorities and
        the target update when it was applied; returns ``(gradient norm, applied)``.

        One host sync per step: the loss and the norm are checked together after the
        backward pass; a skipped step updates no priorities and no target network.
        """
        (grad_norm,), applied = self.guard.step(itr, [(self._opt, loss)], self.clip_grad_norm)
        if not applied:
            return grad_norm, False
        if self.prioritized_replay:
            self.replay_buffer.update_batch_priorities(td_abs_errors)
        self.update_counter += 1
        if self.update_counter % self.target_update_interval == 0:
            self.agent.update_target(tau=self.target_update_tau)
        return grad_norm, True
