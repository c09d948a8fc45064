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

import numpy as np
import torch
import torch.nn.functional as F

from rlpyt.algos.base import RlAlgorithm
from rlpyt.algos.optim import GradientTools, make_optimizer
from rlpyt.algos.utils import valid_from_done
from rlpyt.replays.collections import SamplesToBuffer, SamplesToBufferFrame
from rlpyt.replays.non_sequence.frame import PrioritizedReplayFrameBuffer, UniformReplayFrameBuffer
from rlpyt.replays.non_sequence.prioritized import PrioritizedReplayBuffer
from rlpyt.replays.non_sequence.uniform import UniformReplayBuffer
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

# One entry per gradient step in each list.
OptInfo = namedtuple("OptInfo", ["loss", "gradNorm", "tdAbsErr"])

# Consecutive skipped (non-finite) gradient steps tolerated before training stops.
MAX_NONFINITE_STEPS = 3
# Replays larger than this are left out of snapshots unless asked for (snapshot_replay=True).
AUTO_SNAPSHOT_REPLAY_BYTES = 2 * 2**30


class DQN(RlAlgorithm):
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
        learning_rate, OptimCls, optim_kwargs, initial_optim_state_dict: the optimizer.
        clip_grad_norm: gradient-norm clip.
        eps_steps: env steps over which the agent's epsilon anneals (after min_steps_learn).
        double_dqn: pick the bootstrap action with the online network (van Hasselt 2016).
        prioritized_replay, pri_alpha, pri_beta_init, pri_beta_final, pri_beta_steps,
            default_priority: prioritized replay (Schaul 2016); beta anneals linearly
            over ``pri_beta_steps`` env steps, a pure function of the iteration.
        ReplayBufferCls: replay class; default: a frame-deduplicating buffer for uint8
            frame-stack observations (``[n_frames, H, W]``), else a plain one; uniform
            or prioritized as asked.
        replay_kwargs: extra keyword arguments for the replay class.
        updates_per_sync: kept for compatibility (asynchronous runners).
        snapshot_replay: put the replay buffer in snapshots (True/False), or "auto":
            when it is under 2 GiB. Without it a resumed run refills the replay for
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
        OptimCls: type = torch.optim.Adam,
        optim_kwargs: dict | None = None,
        initial_optim_state_dict: dict | None = None,
        clip_grad_norm: float = 10.0,
        eps_steps: int = int(1e6),
        double_dqn: bool = False,
        prioritized_replay: bool = False,
        pri_alpha: float = 0.6,
        pri_beta_init: float = 0.4,
        pri_beta_final: float = 1.0,
        pri_beta_steps: int = int(50e6),
        default_priority: float | None = None,
        ReplayBufferCls: type | None = None,
        replay_kwargs: dict | None = None,
        updates_per_sync: int = 1,
        snapshot_replay: bool | str = "auto",
    ):
        super().__init__()
        require_in_range("discount", discount, 0.0, 1.0)
        require_int_at_least("batch_size", batch_size, 1)
        require_non_negative("min_steps_learn", min_steps_learn)
        if delta_clip is not None:
            require_positive("delta_clip", delta_clip)
        require_int_at_least("replay_size", replay_size, 1)
        require_positive("replay_ratio", replay_ratio)
        require_in_range("target_update_tau", target_update_tau, 0.0, 1.0)
        if target_update_tau == 0:
            raise ValueError("target_update_tau=0 never updates the target network: use (0, 1]")
        require_int_at_least("target_update_interval", target_update_interval, 1)
        require_int_at_least("n_step_return", n_step_return, 1)
        require_positive("learning_rate", learning_rate)
        require_positive("clip_grad_norm", clip_grad_norm)
        require_int_at_least("eps_steps", eps_steps, 1)
        require_non_negative("pri_alpha", pri_alpha)
        require_in_range("pri_beta_init", pri_beta_init, 0.0, 1.0)
        require_in_range("pri_beta_final", pri_beta_final, 0.0, 1.0)
        require_int_at_least("pri_beta_steps", pri_beta_steps, 1)
        if snapshot_replay not in (True, False, "auto"):
            raise ValueError(
                f"snapshot_replay must be True, False or 'auto', got {snapshot_replay!r}"
            )
        if batch_size > replay_size:
            raise ValueError(
                f"batch_size {batch_size} exceeds replay_size {replay_size}: raise "
                "replay_size or lower batch_size"
            )
        self.discount = discount
        self._batch_size = batch_size  # read through RlAlgorithm.batch_size
        self.min_steps_learn = int(min_steps_learn)
        self.delta_clip = delta_clip
        self.replay_size = int(replay_size)
        self.replay_ratio = replay_ratio
        self.target_update_tau = target_update_tau
        self.target_update_interval = target_update_interval
        self.n_step_return = n_step_return
        self.learning_rate = learning_rate
        self.OptimCls = OptimCls
        self.optim_kwargs = dict(optim_kwargs or {})
        self.initial_optim_state_dict = initial_optim_state_dict
        self.clip_grad_norm = clip_grad_norm
        self.eps_steps = int(eps_steps)
        self.double_dqn = double_dqn
        self.prioritized_replay = prioritized_replay
        self.pri_alpha = pri_alpha
        self.pri_beta_init = pri_beta_init
        self.pri_beta_final = pri_beta_final
        self.pri_beta_steps = int(pri_beta_steps)
        self.default_priority = default_priority
        self.ReplayBufferCls = ReplayBufferCls
        self.replay_kwargs = dict(replay_kwargs or {})
        self.updates_per_sync = updates_per_sync
        self.snapshot_replay = snapshot_replay
        self.replay_buffer = None
        self.skipped_steps = 0
        self._nonfinite_streak = 0
        self._update_credit = 0.0  # fractional gradient steps owed (replay_ratio)
        self._steps_in_replay = 0  # env steps appended since the replay was (re)built

    # -- set-up -------------------------------------------------------------------

    def initialize(
        self,
        agent,
        n_itr: int,
        batch_spec,
        mid_batch_reset: bool = False,
        examples=None,
        world_size: int = 1,
        rank: int = 0,
    ):
        """Bind the agent, build optimizer and replay, and give the agent its epsilon schedule."""
        if examples is None:
            raise ValueError(f"{type(self).__name__}.initialize needs the sampler's examples")
        require_int_at_least("n_itr", n_itr, 1)
        self.agent = agent
        self.n_itr = n_itr
        self.batch_spec = batch_spec
        self.mid_batch_reset = mid_batch_reset
        self.world_size = world_size
        self.rank = rank
        self.sampler_bs = batch_spec.size
        self.updates_per_itr = self.replay_ratio * self.sampler_bs / self.batch_size
        self.min_itr_learn = int(self.min_steps_learn // self.sampler_bs)
        eps_itr_max = max(1, self.eps_steps // self.sampler_bs)
        agent.set_epsilon_itr_min_max(self.min_itr_learn, self.min_itr_learn + eps_itr_max)
        self.optimizer = make_optimizer(
            self.OptimCls, agent.parameters(), self.learning_rate, self.optim_kwargs
        )
        if self.initial_optim_state_dict is not None:
            self.optimizer.load_state_dict(self.initial_optim_state_dict)
        self._grad_tools = GradientTools(self.optimizer)
        self.initialize_replay_buffer(examples, batch_spec)

    def examples_to_buffer(self, examples):
        """One entry of what the replay stores, built from the sampler's examples."""
        observation = np.asarray(examples["observation"])
        fields = dict(
            observation=observation,
            action=examples["action"],
            reward=examples["reward"],
            done=examples["done"],
            timeout=np.asarray(getattr(examples["env_info"], "timeout", False), dtype=bool),
            final_observation=observation,
        )
        if self._frame_replay(observation):
            traj_done = getattr(examples["env_info"], "traj_done", examples["done"])
            return SamplesToBufferFrame(**fields, traj_done=np.asarray(traj_done, dtype=bool))
        return SamplesToBuffer(**fields)

    @staticmethod
    def _frame_replay(observation) -> bool:
        """uint8 stacks of 2-D frames ``[n_frames, H, W]`` go to a frame-deduplicating replay."""
        return observation.dtype == np.uint8 and observation.ndim == 3

    def initialize_replay_buffer(self, examples, batch_spec):
        example = self.examples_to_buffer(examples)
        frames = isinstance(example, SamplesToBufferFrame)
        kwargs = dict(
            example=example,
            size=self.replay_size,
            B=batch_spec.B,
            discount=self.discount,
            n_step_return=self.n_step_return,
            seed=self.replay_seed(),
        )
        if self.prioritized_replay:
            kwargs.update(alpha=self.pri_alpha, beta=self.pri_beta_init)
            if self.default_priority is not None:
                kwargs["default_priority"] = self.default_priority
            default_cls = PrioritizedReplayFrameBuffer if frames else PrioritizedReplayBuffer
        else:
            default_cls = UniformReplayFrameBuffer if frames else UniformReplayBuffer
        ReplayCls = self.ReplayBufferCls or default_cls
        self.replay_buffer = ReplayCls(**kwargs, **self.replay_kwargs)
        self._steps_in_replay = 0

    def replay_seed(self) -> int:
        """The replay's sampling seed, drawn from the run's seeded torch generator."""
        return int(torch.randint(0, 2**31 - 1, ()).item())

    # -- one iteration --------------------------------------------------------------

    def samples_to_buffer(self, samples):
        """The ``[T, B]`` batch as the replay stores it."""
        env = samples.env
        timeout = getattr(env.env_info, "timeout", None)
        if timeout is None:
            timeout = torch.zeros_like(env.done)
        final_observation = getattr(env, "final_observation", None)
        if final_observation is None:
            if bool(timeout.any()):
                raise ValueError(
                    "samples have time-limit cuts but no final_observation: initialize the "
                    "sampler with final_observation=True (the runners do, from "
                    f"{type(self).__name__}.final_observation)"
                )
            final_observation = env.observation  # unused where timeout is false
        fields = dict(
            observation=env.observation,
            action=samples.agent.action,
            reward=env.reward,
            done=env.done,
            timeout=timeout,
            final_observation=final_observation,
        )
        if isinstance(self.replay_buffer.example, SamplesToBufferFrame):
            traj_done = getattr(env.env_info, "traj_done", env.done)
            return SamplesToBufferFrame(**fields, traj_done=traj_done)
        return SamplesToBuffer(**fields)

    def append_samples(self, samples):
        """Store the batch; wait-reset padding (steps after an env's done) is marked invalid."""
        kwargs = {}
        if not self.mid_batch_reset:
            kwargs["valid"] = valid_from_done(samples.env.done).to(torch.bool)
        self.replay_buffer.append_samples(self.samples_to_buffer(samples), **kwargs)
        self._steps_in_replay += self.sampler_bs

    def ready_to_learn(self, itr: int) -> bool:
        """After ``min_steps_learn`` env steps (counted again after a resume without replay)."""
        return itr >= self.min_itr_learn and self._steps_in_replay >= min(
            self.min_steps_learn, self.replay_size
        )

    def n_updates(self) -> int:
        """Gradient steps this iteration: ``replay_ratio`` exactly, fractions carried over."""
        self._update_credit += self.updates_per_itr
        n = int(self._update_credit)
        self._update_credit -= n
        return n

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
            grad_norms.append(self._optimizer_step(itr, loss, td_abs))
            losses.append(loss.detach())
            td_abs_errors.append(td_abs)
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
        grad_norm = self._optimizer_step(itr, loss, td_abs_errors)
        opt_info.loss.append(loss.item())
        opt_info.gradNorm.append(float(grad_norm))
        opt_info.tdAbsErr.extend(td_abs_errors.tolist())

    def _optimizer_step(self, itr, loss, td_abs_errors) -> torch.Tensor:
        """Backward, clip, step (skipping non-finite steps, E1); priorities; target update.

        Returns the gradient norm (NaN when the loss was not finite). One host sync:
        the loss and the norm are checked together after the backward pass (a
        non-finite loss then gets a backward pass too, whose gradients are dropped).
        """
        self._grad_tools.zero_grad()
        loss.backward()
        grad_norm = self._grad_tools.clip_grad_norm(self.clip_grad_norm)
        if not bool(torch.isfinite(loss.detach()) & torch.isfinite(grad_norm)):
            if not bool(torch.isfinite(loss.detach())):
                self._skip_step(itr, "loss")
                return torch.full_like(grad_norm, float("nan"))
            self._skip_step(itr, "gradNorm")
            return grad_norm
        self._nonfinite_streak = 0
        self.optimizer.step()
        if self.prioritized_replay:
            self.replay_buffer.update_batch_priorities(td_abs_errors)
        self.update_counter += 1
        if self.update_counter % self.target_update_interval == 0:
            self.agent.update_target(tau=self.target_update_tau)
        return grad_norm

    def _skip_step(self, itr, what):
        self._grad_tools.zero_grad()
        self.skipped_steps += 1
        self._nonfinite_streak += 1
        if self._nonfinite_streak >= MAX_NONFINITE_STEPS:
            raise FloatingPointError(
                f"{type(self).__name__}: {what} is not finite at itr {itr}, the "
                f"{self._nonfinite_streak}th non-finite gradient step in a row (each was "
                f"skipped; {self.skipped_steps} skipped in total). Check observations and "
                f"rewards for NaN/inf, or lower learning_rate ({self.learning_rate})."
            )

    # -- saving and resuming ------------------------------------------------------------

    def _replay_in_snapshot(self) -> bool:
        if self.snapshot_replay == "auto":
            return self.replay_buffer.nbytes <= AUTO_SNAPSHOT_REPLAY_BYTES
        return bool(self.snapshot_replay)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(
            skipped_steps=self.skipped_steps,
            nonfinite_streak=self._nonfinite_streak,
            update_credit=self._update_credit,
            steps_in_replay=self._steps_in_replay,
            replay=self.replay_buffer.state_dict() if self._replay_in_snapshot() else None,
        )
        return state

    def load_state_dict(self, state_dict: dict):
        super().load_state_dict(state_dict)
        self.skipped_steps = state_dict["skipped_steps"]
        self._nonfinite_streak = state_dict["nonfinite_streak"]
        self._update_credit = state_dict["update_credit"]
        if state_dict["replay"] is not None:
            self.replay_buffer.load_state_dict(state_dict["replay"])
            self._steps_in_replay = state_dict["steps_in_replay"]
        else:  # refill before learning again
            self._steps_in_replay = 0
