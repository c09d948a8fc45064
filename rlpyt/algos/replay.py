"""What the replay-based algorithms share: DQN, CategoricalDQN, R2D1, DDPG, TD3, SAC.

Each iteration the sampler's ``[T, B]`` batch goes into a replay buffer; after
``min_steps_learn`` env steps the algorithm takes gradient steps on replay
batches so that data consumed / data generated stays at ``replay_ratio``
(fractions of a gradient step carry over between iterations). The replay
stores ``timeout`` and the final observation of time-limit-cut episodes, so
targets bootstrap through truncation and never through termination. Stacked
uint8 frames ``[n_frames, H, W]`` go to a frame-deduplicating replay.

A subclass builds its optimizers (and gives the agent its schedules) in
:meth:`ReplayAlgorithm.initialize_optimization`, may pick other replay
classes or arguments with :meth:`default_replay_class` and
:meth:`replay_buffer_kwargs`, and trains in ``optimize_agent``.
"""

from typing import TypedDict

import numpy as np
import torch

from rlpyt.algos.base import RlAlgorithm
from rlpyt.algos.utils import valid_from_done
from rlpyt.replays.async_ import AsyncReplayBuffer, DeferredUpdate, RWLock
from rlpyt.replays.collections import SamplesToBuffer, SamplesToBufferFrame
from rlpyt.replays.non_sequence.frame import UniformReplayFrameBuffer
from rlpyt.replays.non_sequence.uniform import UniformReplayBuffer
from rlpyt.utils.validation import (
    require_in_range,
    require_int_at_least,
    require_non_negative,
    require_positive,
)

__all__ = ["ReplayAlgorithm", "ReplayOptions", "AUTO_SNAPSHOT_REPLAY_BYTES"]

# Replays larger than this are left out of snapshots unless asked for (snapshot_replay=True).
AUTO_SNAPSHOT_REPLAY_BYTES = 2 * 2**30


class ReplayOptions(TypedDict, total=False):
    """The keywords every replay algorithm takes with the same default (see
    :class:`ReplayAlgorithm`); subclasses accept them as ``**options: Unpack[ReplayOptions]``
    and pass them on, so type checkers and IDEs still see each one."""

    OptimCls: type  # torch.optim.Adam
    optim_kwargs: dict | None  # None
    initial_optim_state_dict: dict | None  # None
    ReplayBufferCls: type | None  # None: chosen by the algorithm
    replay_kwargs: dict | None  # None
    updates_per_sync: int  # 1
    snapshot_replay: bool | str  # "auto"


class ReplayAlgorithm(RlAlgorithm):
    """Replay, update schedule and snapshots of the off-policy algorithms.

    Args:
        discount: per-step discount gamma in [0, 1].
        batch_size: samples per gradient step (sequence replays: steps per batch).
        min_steps_learn: env steps collected before the first gradient step.
        replay_size: env steps the replay holds.
        replay_ratio: data consumed / data generated (``batch_size`` samples per
            gradient step; 8 with ``batch_size=32`` is one step per 4 env steps).
        target_update_tau: Polyak rate of the target networks (1: hard copies).
        target_update_interval: gradient steps between target updates.
        n_step_return: steps of reward in each target.
        clip_grad_norm: gradient norm clip.
        OptimCls, optim_kwargs: the optimizer class and its extra arguments.
        initial_optim_state_dict: optimizer state to start from.
        ReplayBufferCls, replay_kwargs: replay class (default: chosen by the
            subclass) and extra arguments for it.
        updates_per_sync: under :class:`~rlpyt.runners.async_rl.AsyncRl`, the optimizer sends
            the weights to the sampler every this many gradient updates.
        snapshot_replay: keep the replay in snapshots: True, False, or "auto"
            (when it holds at most 2 GiB).
    """

    final_observation = True  # the sampler stores final observations of time-limit cuts

    def __init__(
        self,
        *,
        discount: float,
        batch_size: int,
        min_steps_learn: int,
        replay_size: int,
        replay_ratio: float,
        target_update_tau: float,
        target_update_interval: int,
        n_step_return: int,
        clip_grad_norm: float,
        OptimCls: type = torch.optim.Adam,
        optim_kwargs: dict | None = None,
        initial_optim_state_dict: dict | None = None,
        ReplayBufferCls: type | None = None,
        replay_kwargs: dict | None = None,
        updates_per_sync: int = 1,
        snapshot_replay: bool | str = "auto",
    ):
        super().__init__()
        require_in_range("discount", discount, 0.0, 1.0)
        batch_size = require_int_at_least("batch_size", batch_size, 1)
        require_non_negative("min_steps_learn", min_steps_learn)
        replay_size = require_int_at_least("replay_size", replay_size, 1)
        require_positive("replay_ratio", replay_ratio)
        require_in_range("target_update_tau", target_update_tau, 0.0, 1.0)
        if target_update_tau == 0:
            raise ValueError("target_update_tau=0 never updates the target networks: use (0, 1]")
        target_update_interval = require_int_at_least(
            "target_update_interval", target_update_interval, 1
        )
        n_step_return = require_int_at_least("n_step_return", n_step_return, 1)
        require_positive("clip_grad_norm", clip_grad_norm)
        if batch_size > replay_size:
            raise ValueError(
                f"batch_size {batch_size} exceeds replay_size {replay_size}: raise "
                "replay_size or lower batch_size"
            )
        if min_steps_learn > replay_size:
            raise ValueError(
                f"min_steps_learn {int(min_steps_learn)} exceeds replay_size {int(replay_size)}: "
                f"learning would wait for {int(min_steps_learn)} env steps while the replay "
                f"holds only {int(replay_size)} ({int(min_steps_learn)} - {int(replay_size)} = "
                f"{int(min_steps_learn) - int(replay_size)} steps overwritten unused); lower "
                "min_steps_learn or raise replay_size"
            )
        if snapshot_replay not in (True, False, "auto"):
            raise ValueError(
                f"snapshot_replay must be True, False or 'auto', got {snapshot_replay!r}"
            )
        self.discount = discount
        self._batch_size = batch_size  # read through RlAlgorithm.batch_size
        self.min_steps_learn = int(min_steps_learn)
        self.replay_size = int(replay_size)
        self.replay_ratio = replay_ratio
        self.target_update_tau = target_update_tau
        self.target_update_interval = target_update_interval
        self.n_step_return = n_step_return
        self.clip_grad_norm = clip_grad_norm
        self.OptimCls = OptimCls
        self.optim_kwargs = dict(optim_kwargs or {})
        self.initial_optim_state_dict = initial_optim_state_dict
        self.ReplayBufferCls = ReplayBufferCls
        self.replay_kwargs = dict(replay_kwargs or {})
        self.updates_per_sync = updates_per_sync
        self.snapshot_replay = snapshot_replay
        self.replay_buffer = None
        self._update_credit = 0.0  # fractional gradient steps owed (replay_ratio)
        self._steps_in_replay = 0  # env steps appended since the replay was (re)built
        self._deferred_obs_rms = None  # a DeferredUpdate under concurrent appends

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
        """Bind the agent, build optimizers and replay (see :class:`RlAlgorithm`)."""
        if examples is None:
            raise ValueError(f"{type(self).__name__}.initialize needs the sampler's examples")
        n_itr = require_int_at_least("n_itr", n_itr, 1)
        self.agent = agent
        self.n_itr = n_itr
        self.batch_spec = batch_spec
        self.mid_batch_reset = mid_batch_reset
        self.world_size = world_size
        self.rank = rank
        self.sampler_bs = batch_spec.size
        self.updates_per_itr = self.replay_ratio * self.sampler_bs / self.batch_size
        self.min_itr_learn = int(self.min_steps_learn // self.sampler_bs)
        self.initialize_optimization()
        if self.initial_optim_state_dict is not None:
            self.load_optim_state_dict(self.initial_optim_state_dict)
        self.initialize_replay_buffer(examples, batch_spec)

    def initialize_optimization(self):
        """Build the optimizer(s) and give the agent its schedules (``min_itr_learn`` is set)."""
        raise NotImplementedError

    # -- the replay ---------------------------------------------------------------------

    def examples_to_buffer(self, examples):
        """One entry of what the replay stores, built from the sampler's examples."""
        observation = np.asarray(examples["observation"])
        fields = dict(
            observation=observation,
            action=examples["action"],
            reward=examples["reward"],
            done=examples["done"],
            # The env's EnvInfo: timeout and traj_done are optional fields.
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

    def default_replay_class(self, example) -> type:
        """The replay class when ``ReplayBufferCls`` is not given."""
        return (
            UniformReplayFrameBuffer
            if self._frame_replay(example.observation)
            else (UniformReplayBuffer)
        )

    def replay_buffer_kwargs(self, example, batch_spec) -> dict:
        """Arguments for the replay beyond the common ones (e.g. prioritization)."""
        return {}

    def initialize_replay_buffer(self, examples, batch_spec):
        example = self.examples_to_buffer(examples)
        ReplayCls = self.ReplayBufferCls or self.default_replay_class(example)
        self.replay_buffer = ReplayCls(
            example=example,
            size=self.replay_size,
            B=batch_spec.B,
            discount=self.discount,
            n_step_return=self.n_step_return,
            seed=self.replay_seed(),
            **self.replay_buffer_kwargs(example, batch_spec),
            **self.replay_kwargs,
        )
        self._steps_in_replay = 0
        self._deferred_obs_rms = None

    def replay_seed(self) -> int:
        """The replay's sampling seed, drawn from the run's seeded torch generator."""
        return int(torch.randint(0, 2**31 - 1, ()).item())

    def samples_to_buffer(self, samples):
        """The ``[T, B]`` batch as the replay stores it."""
        env = samples.env
        timeout = getattr(env.env_info, "timeout", None)  # an optional field of the env's EnvInfo
        if timeout is None:
            timeout = torch.zeros_like(env.done)
        # A field of EnvSamplesFo only (the sampler was told final_observation=True).
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
        if "traj_done" in self.replay_buffer.example._fields:  # a frame replay (R2D1's too)
            traj_done = getattr(env.env_info, "traj_done", env.done)  # optional EnvInfo field
            return SamplesToBufferFrame(**fields, traj_done=traj_done)
        return SamplesToBuffer(**fields)

    def append_samples(self, samples, **replay_kwargs):
        """Store the batch; wait-reset padding (steps after an env's done) is marked invalid.

        Agents that normalise observations (``update_obs_rms``) fold the batch's
        valid observations into their statistics here, so each transition counts
        once. ``replay_kwargs`` go to the replay's ``append_samples`` (e.g. priorities).
        """
        valid = None
        if not self.mid_batch_reset:
            valid = replay_kwargs["valid"] = valid_from_done(samples.env.done) > 0
        if self.agent.updates_obs_rms:  # (no copy of the valid frames for agents without it)
            observation = samples.env.observation
            observation = observation if valid is None else observation[valid]
            if self._deferred_obs_rms is not None:  # concurrent appends: folded later
                self._deferred_obs_rms(observation)
            else:
                self.agent.update_obs_rms(observation)
        self.replay_buffer.append_samples(self.samples_to_buffer(samples), **replay_kwargs)
        self._steps_in_replay += self.sampler_bs

    # -- concurrent appends (AsyncRl) ---------------------------------------------------

    def enable_concurrent_append(self) -> None:
        """The replay goes behind a readers-writer lock, and observation statistics wait.

        Appends (writer thread) and ``sample_batch`` (optimizer thread) then never see each
        other's half-done work; the observations an append would fold into the agent's
        running statistics are queued until :meth:`fold_obs_statistics`, called in the
        optimizer's thread. Until the next :meth:`initialize`.
        """
        if not isinstance(self.replay_buffer, AsyncReplayBuffer):
            self.replay_buffer = AsyncReplayBuffer(self.replay_buffer, RWLock())
        # (Called only for agents that have update_obs_rms: see append_samples.)
        self._deferred_obs_rms = DeferredUpdate(lambda obs: self.agent.update_obs_rms(obs))

    def fold_obs_statistics(self) -> None:
        if self._deferred_obs_rms is not None:
            self._deferred_obs_rms.flush()

    # -- the update schedule --------------------------------------------------------------

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

    # -- saving and resuming ------------------------------------------------------------

    def _replay_in_snapshot(self) -> bool:
        if self.snapshot_replay == "auto":
            return self.replay_buffer.nbytes <= AUTO_SNAPSHOT_REPLAY_BYTES
        return bool(self.snapshot_replay)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(
            update_credit=self._update_credit,
            steps_in_replay=self._steps_in_replay,
            replay=self.replay_buffer.state_dict() if self._replay_in_snapshot() else None,
        )
        return state

    def load_state_dict(self, state_dict: dict):
        super().load_state_dict(state_dict)
        self._update_credit = state_dict["update_credit"]
        if state_dict["replay"] is not None:
            self.replay_buffer.load_state_dict(state_dict["replay"])
            self._steps_in_replay = state_dict["steps_in_replay"]
        else:  # refill before learning again
            self._steps_in_replay = 0
