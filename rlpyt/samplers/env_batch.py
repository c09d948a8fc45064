"""The samplers' side of :mod:`rlpyt.envs.vector`: building a collector's env batch and
guarding it as :class:`~rlpyt.samplers.parallel.worker.GuardedEnv` guards one env.

A sampler whose ``EnvCls`` is an :class:`~rlpyt.envs.vector.EnvBatchFactory` gives each
collector (the serial sampler's one, each parallel worker's) a :class:`GuardedEnvBatch`
of its slice of envs instead of a list of envs; the CPU collectors see it
(``collector.batched``) and step the slice in one call.
"""

import math
import warnings

import numpy as np

from rlpyt.envs.vector import EnvBatchFactory
from rlpyt.samplers.parallel.errors import EnvFault
from rlpyt.samplers.parallel.worker import make_envs, observation_mismatch
from rlpyt.utils.seed import derive_seed

__all__ = [
    "GuardedEnvBatch",
    "make_env_batch",
    "is_batch_factory",
    "worker_envs",
    "close_envs",
    "BATCH_SAMPLER_KINDS",
]

# The samplers whose collectors step an env batch (the CPU collectors: serial and cpu).
BATCH_SAMPLER_KINDS = ("serial", "cpu")


def is_batch_factory(EnvCls) -> bool:
    """Whether a sampler's ``EnvCls`` builds its envs as one batch."""
    return isinstance(EnvCls, EnvBatchFactory)


def make_env_batch(EnvCls, env_kwargs, env_ranks, seeds, nan_check, observation_example):
    """``EnvCls.make_batch(seeds, **env_kwargs)`` guarded; a constructor error names the envs."""
    try:
        batch = EnvCls.make_batch(seeds, **env_kwargs)
    except Exception as err:
        raise EnvFault(
            env_ranks[0], repr(EnvCls), f"raised in make_batch (kwargs {env_kwargs})", 0
        ) from err
    return GuardedEnvBatch(batch, env_ranks, nan_check, observation_example)


def worker_envs(spec, env_ranks, env_kwargs, kind, in_step=None):
    """A parallel worker's envs (``kind``: ``"env"`` or ``"eval_env"``, the seed's tag).

    One :class:`GuardedEnvBatch` where ``spec.EnvCls`` is a batch factory and the worker
    acts itself (CpuSampler: its CPU collectors step batches); otherwise the list of
    :func:`~rlpyt.samplers.parallel.worker.make_envs` (the GPU samplers' workers build
    one env at a time from the factory, as from any ``EnvCls``).
    """
    if is_batch_factory(spec.EnvCls) and spec.agent is not None:
        seeds = [derive_seed(spec.seed, kind, r) for r in env_ranks]
        return make_env_batch(
            spec.EnvCls, env_kwargs, env_ranks, seeds, spec.nan_check, spec.observation_example
        )
    return make_envs(spec, env_ranks, env_kwargs, kind, spec.observation_example, in_step)


def close_envs(envs) -> None:
    """Close a collector's envs (a list of envs or one batch), best effort."""
    for env in [envs] if isinstance(envs, GuardedEnvBatch) else envs:
        try:
            env.close()
        except Exception:  # noqa: BLE001 - closing is best effort at shutdown
            pass


class GuardedEnvBatch:
    """An :class:`~rlpyt.envs.vector.EnvBatch` whose failures name its envs.

    As :class:`~rlpyt.samplers.parallel.worker.GuardedEnv`: an exception in ``step`` or
    ``reset`` becomes an :class:`EnvFault` (naming the first env of the batch, or the
    env being reset); unless ``nan_check="off"``, non-finite rewards, float observations
    and float actions are an error (``"raise"``) or one warning (``"warn"``) naming the
    env; the first observations of ``reset`` and ``step`` must fit the samples buffer.

    Attributes:
        env: the batch (replaced when a snapshot is restored).
        env_ranks: global rank of each env of the batch.
        n_steps: batch steps taken.
    """

    def __init__(self, batch, env_ranks, nan_check="raise", observation_example=None):
        self.env = batch
        self.env_ranks = list(env_ranks)
        self.nan_check = nan_check
        self.observation_example = observation_example
        self.n_steps = 0
        self._checked = {"reset": observation_example is None, "step": observation_example is None}
        self._warned_nan = False

    @property
    def name(self) -> str:
        return self.env.name

    def __len__(self) -> int:
        return self.env.n_envs

    @property
    def action_spaces(self):
        return self.env.action_spaces

    @property
    def spaces(self):
        return self.env.spaces

    def step(self, action, active=None):
        self.n_steps += 1
        if self.nan_check != "off" and action.dtype.kind == "f":
            bad = ~np.isfinite(action.reshape(len(action), -1)).all(axis=1)
            if bad.any():
                self._nan(int(np.argmax(bad)), f"action from the policy is {action[bad][0]}")
        try:
            batch_step = self.env.step(action, active)
        except Exception as err:
            raise EnvFault(
                self.env_ranks[0],
                self.name,
                f"(batch of env ranks {self.env_ranks[0]}..{self.env_ranks[-1]}) raised in step()",
                self.n_steps,
            ) from err
        if not self._checked["step"]:
            self._check_observation(batch_step.observation[0], "step")
        if self.nan_check != "off":
            self._check_finite(batch_step, active)
        return batch_step

    def reset(self, indices):
        try:
            observation = self.env.reset(indices)
        except Exception as err:
            rank = self.env_ranks[int(np.asarray(indices).flat[0])]
            raise EnvFault(rank, self.name, "raised in reset()", self.n_steps) from err
        if not self._checked["reset"]:
            self._check_observation(observation[0], "reset")
        return observation

    def _check_observation(self, observation, where):
        self._checked[where] = True
        mismatch = observation_mismatch(observation, self.observation_example)
        if mismatch:
            raise EnvFault(
                self.env_ranks[0],
                self.name,
                f"returned a wrong observation from {where}()",
                self.n_steps,
                f": {mismatch} (every observation must match the example env's)",
            )

    def _check_finite(self, batch_step, active):
        obs = batch_step.observation
        # The common case in two reductions: finite sums mean finite values (a sum can
        # also overflow to inf: the per-env check below then finds every value finite).
        total = float(batch_step.reward.sum())
        if obs.dtype.kind == "f":
            total += float(obs.sum())
        if math.isfinite(total):
            return
        finite = np.isfinite(batch_step.reward)
        if obs.dtype.kind == "f":
            finite &= np.isfinite(obs.reshape(len(obs), -1)).all(axis=1)
        if active is not None:
            finite |= ~active
        if not finite.all():
            b = int(np.argmin(finite))
            self._nan(b, f"reward is {batch_step.reward[b]} or the observation holds NaN or inf")

    def _nan(self, b, what):
        if self.nan_check == "raise":
            raise EnvFault(
                self.env_ranks[b],
                self.name,
                "met a non-finite value",
                self.n_steps,
                f": {what} (set nan_check='warn' or 'off' to allow it)",
            )
        if not self._warned_nan:
            self._warned_nan = True
            warnings.warn(
                f"env {self.env_ranks[b]} ({self.name}) at its step {self.n_steps}: {what}",
                stacklevel=3,
            )

    def close(self) -> None:
        self.env.close()
