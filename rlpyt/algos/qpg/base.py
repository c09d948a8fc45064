"""Shared machinery of the Q-function policy-gradient algorithms (DDPG, TD3, SAC).

Each iteration the sampler's ``[T, B]`` batch goes into a uniform n-step replay
buffer; after ``min_steps_learn`` env steps the algorithm takes gradient steps
on replay batches so that transitions consumed / transitions collected stays at
``replay_ratio`` (fractions carry over between iterations). Targets bootstrap
through time-limit cuts from the cut episode's final observation (the original
rlpyt dropped those samples) and never through terminations:
``y = return_ + bootstrap_discount * V(target_inputs)``.

Actions: the replay stores env-scale actions (what the env received); the
agents' networks work in ``[-1, 1]`` per dimension, so each batch's actions are
mapped once with ``agent.to_model_action``.
"""

from collections import namedtuple

import torch

from rlpyt.algos.base import RlAlgorithm
from rlpyt.algos.optim import GradientTools, make_optimizer
from rlpyt.algos.utils import valid_from_done
from rlpyt.replays.collections import SamplesToBuffer
from rlpyt.replays.non_sequence.uniform import UniformReplayBuffer
from rlpyt.utils.buffer import buffer_to
from rlpyt.utils.validation import (
    require_in_range,
    require_int_at_least,
    require_non_negative,
    require_positive,
)

__all__ = ["QpgAlgorithm", "Optimizer", "min_q"]

# Replays larger than this are left out of snapshots unless asked for.
AUTO_SNAPSHOT_REPLAY_BYTES = 2 * 2**30

# An optimizer with its parameter list and the fast zero/clip helpers.
Optimizer = namedtuple("Optimizer", ["optimizer", "tools", "params"])


class QpgAlgorithm(RlAlgorithm):
    """Replay, update schedule, target updates and snapshots for DDPG, TD3 and SAC.

    Subclasses build their optimizers in :meth:`make_optimizers`, compute losses
    from a replay batch and apply them in :meth:`train_batch`.
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
        OptimCls: type,
        optim_kwargs: dict | None,
        initial_optim_state_dict: dict | None,
        ReplayBufferCls: type | None,
        replay_kwargs: dict | None,
        updates_per_sync: int,
        snapshot_replay: bool | str,
    ):
        super().__init__()
        require_in_range("discount", discount, 0.0, 1.0)
        require_int_at_least("batch_size", batch_size, 1)
        require_non_negative("min_steps_learn", min_steps_learn)
        require_int_at_least("replay_size", replay_size, 1)
        require_positive("replay_ratio", replay_ratio)
        require_in_range("target_update_tau", target_update_tau, 0.0, 1.0)
        if target_update_tau == 0:
            raise ValueError("target_update_tau=0 never updates the target networks: use (0, 1]")
        require_int_at_least("target_update_interval", target_update_interval, 1)
        require_int_at_least("n_step_return", n_step_return, 1)
        require_positive("clip_grad_norm", clip_grad_norm)
        if batch_size > replay_size:
            raise ValueError(
                f"batch_size {batch_size} exceeds replay_size {replay_size}: raise "
                "replay_size or lower batch_size"
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
        self.optimizers = {}
        self._update_credit = 0.0
        self._steps_in_replay = 0

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
        if hasattr(agent, "give_min_itr_learn"):
            agent.give_min_itr_learn(self.min_itr_learn)
        self.make_optimizers()
        if self.initial_optim_state_dict is not None:
            self.load_optim_state_dict(self.initial_optim_state_dict)
        self.initialize_replay_buffer(examples, batch_spec)

    def make_optimizers(self):
        """Fill ``self.optimizers`` (name -> :data:`Optimizer`), e.g. with :meth:`build_optimizer`."""
        raise NotImplementedError

    def build_optimizer(self, params, learning_rate: float) -> Optimizer:
        params = list(params)
        optimizer = make_optimizer(self.OptimCls, params, learning_rate, self.optim_kwargs)
        return Optimizer(optimizer, GradientTools(optimizer), params)

    def initialize_replay_buffer(self, examples, batch_spec):
        example = SamplesToBuffer(
            observation=examples["observation"],
            action=examples["action"],
            reward=examples["reward"],
            done=examples["done"],
            timeout=getattr(examples["env_info"], "timeout", False),
            final_observation=examples["observation"],
        )
        ReplayCls = self.ReplayBufferCls or UniformReplayBuffer
        self.replay_buffer = ReplayCls(
            example=example,
            size=self.replay_size,
            B=batch_spec.B,
            discount=self.discount,
            n_step_return=self.n_step_return,
            seed=int(torch.randint(0, 2**31 - 1, ()).item()),  # from the run's seeded generator
            **self.replay_kwargs,
        )
        self._steps_in_replay = 0

    # -- one iteration ------------------------------------------------------------------

    def samples_to_buffer(self, samples):
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
        return SamplesToBuffer(
            observation=env.observation,
            action=samples.agent.action,
            reward=env.reward,
            done=env.done,
            timeout=timeout,
            final_observation=final_observation,
        )

    def append_samples(self, samples):
        """Store the batch; wait-reset padding (steps after an env's done) is marked invalid.

        Agents that normalise observations fold the batch's (valid) observations
        into their statistics here, so each transition counts once."""
        kwargs = {}
        observation = samples.env.observation
        if not self.mid_batch_reset:
            kwargs["valid"] = valid_from_done(samples.env.done) > 0
            observation = observation[kwargs["valid"]]
        self.agent.update_obs_rms(observation)
        self.replay_buffer.append_samples(self.samples_to_buffer(samples), **kwargs)
        self._steps_in_replay += self.sampler_bs

    def ready_to_learn(self, itr: int) -> bool:
        """After ``min_steps_learn`` env steps (counted again after a resume without replay),
        and once the replay can fill a batch (a ``min_steps_learn`` below ``batch_size``
        just waits for it)."""
        return (
            itr >= self.min_itr_learn
            and self._steps_in_replay >= min(self.min_steps_learn, self.replay_size)
            and self.replay_buffer.n_sampleable >= self.batch_size
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
        opt_info = self.empty_opt_info()
        if not self.ready_to_learn(itr):
            return opt_info
        diagnostics = {name: [] for name in type(opt_info)._fields}
        for _ in range(self.n_updates()):
            batch = self.replay_buffer.sample_batch(self.batch_size)
            if self.agent.device.type != "cpu":  # replay batches are CPU tensors
                batch = buffer_to(batch, self.agent.device)
            batch = batch._replace(action=self.agent.to_model_action(batch.action))
            for name, value in self.train_batch(batch).items():
                diagnostics[name].append(value.detach())
            self.update_counter += 1
            if self.update_counter % self.target_update_interval == 0:
                self.agent.update_target(tau=self.target_update_tau)
        # One host sync per iteration for all diagnostics (none per gradient step).
        diagnostics = {k: v for k, v in diagnostics.items() if v}
        if len({len(v) for v in diagnostics.values()}) == 1:  # few ops: this may run every step
            table = torch.stack([torch.stack(v) for v in diagnostics.values()]).float().cpu()
            values = dict(zip(diagnostics, table.unbind(0), strict=True))
        else:
            values = {k: torch.stack(v).float().cpu() for k, v in diagnostics.items()}
        self.check_finite(itr, values)
        for name, column in values.items():
            getattr(opt_info, name).extend(column.tolist())
        return opt_info

    def empty_opt_info(self):
        raise NotImplementedError

    def train_batch(self, batch) -> dict:
        """Gradient steps on one replay batch; returns diagnostics ``{opt_info field: 0-d tensor}``."""
        raise NotImplementedError

    def step(self, opt: Optimizer, loss: torch.Tensor) -> torch.Tensor:
        """zero_grad, backward, clip, step; returns the gradient norm (no host sync)."""
        return self.steps([(opt, loss)])[0]

    def steps(self, pairs) -> list:
        """:meth:`step` for ``(optimizer, loss)`` pairs with one backward; the norms in order.

        Each loss must reach only its own optimizer's parameters (SAC's alpha loss sees
        ``log_pi`` detached). Only they get gradients: ``loss.backward()`` would also
        compute the critics' weight gradients of a policy loss (for SAC six of its
        27 matmuls a step)."""
        params = []
        for opt, _loss in pairs:
            opt.tools.zero_grad()
            params.extend(p for p in opt.params if p.requires_grad)
        torch.autograd.backward([loss for _opt, loss in pairs], inputs=params or None)
        norms = [opt.tools.clip_grad_norm(self.clip_grad_norm) for opt, _loss in pairs]
        for opt, _loss in pairs:
            opt.optimizer.step()
        return norms

    def check_finite(self, itr: int, values: dict):
        """Stop with a clear error when a loss went NaN/inf in this iteration (E1).

        Checked once per iteration (not per step) so the update loop never waits
        on the device; the weights of a non-finite step are already applied,
        which is why training stops instead of skipping the step.
        """
        columns = list(values.values())
        if len({c.shape for c in columns}) == 1:  # one op and one sync for all
            finite = torch.isfinite(torch.stack(columns)).all(dim=1).tolist()
        else:
            finite = [bool(torch.isfinite(c).all()) for c in columns]
        bad = [name for name, ok in zip(values, finite, strict=True) if not ok]
        if bad:
            raise FloatingPointError(
                f"{type(self).__name__}: non-finite {', '.join(bad)} at itr {itr}. Check "
                "observations and rewards for NaN/inf, or lower the learning rates."
            )

    # -- saving and resuming ------------------------------------------------------------

    def optim_state_dict(self) -> dict:
        return {name: opt.optimizer.state_dict() for name, opt in self.optimizers.items()}

    def load_optim_state_dict(self, state_dict: dict):
        for name, opt in self.optimizers.items():
            opt.optimizer.load_state_dict(state_dict[name])

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
        if not self.optimizers:
            raise RuntimeError(
                f"{type(self).__name__}.load_state_dict needs the optimizers: "
                "call initialize(agent, ...) first"
            )
        self.load_optim_state_dict(state_dict["optimizer"])
        self.update_counter = state_dict["update_counter"]
        self.n_itr = state_dict["n_itr"]
        self._update_credit = state_dict["update_credit"]
        if state_dict["replay"] is not None:
            self.replay_buffer.load_state_dict(state_dict["replay"])
            self._steps_in_replay = state_dict["steps_in_replay"]
        else:  # refill before learning again
            self._steps_in_replay = 0


def min_q(q1: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """Clipped double-Q (Fujimoto et al. 2018): the smaller of the twin estimates."""
    return torch.minimum(q1, q2)
