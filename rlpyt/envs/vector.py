"""Env batches: ``B`` envs stepped in one call, with the per-env path's semantics.

A sampler normally builds ``B`` envs with ``EnvCls(**env_kwargs)`` and its collector
steps them one Python call each. An :class:`EnvBatchFactory` passed as ``EnvCls``
builds the same ``B`` envs as one :class:`EnvBatch` instead (``make_batch``), and the
CPU collectors then step the whole batch in one call. Called like a class, the factory
still makes one ordinary env (the sampler's example env, and a reference).

Semantics are the per-env path's, value for value:

* :meth:`EnvBatch.step` never resets: an env whose trajectory ended keeps its final
  observation (for ``traj_infos`` and for bootstrapping a time-limit cut) until the
  collector calls :meth:`EnvBatch.reset` for it, as the per-env collector calls
  ``env.reset()``. Gymnasium vector envs autoreset; this module maps their
  ``autoreset_mode`` so that no reset happens behind the collector's back (``DISABLED``
  for gymnasium's ``SyncVectorEnv``; the native CartPole's ``NEXT_STEP`` reset draws
  from one generator shared by all envs, so the batch steps its dynamics without the
  autoreset (:func:`_cartpole_step`) and resets each env from the env's own generator).
* ``env_info`` is a namedarraytuple of ``[B]`` arrays with the per-env EnvInfo's fields
  (``timeout``: truncated and not terminated; ``traj_done`` where the env has it).
* env ``b`` is seeded with ``seeds[b]`` exactly as ``env.seed(seeds[b])`` seeds the
  per-env one: its first reset uses the seed, later resets continue its stream, and
  :attr:`EnvBatch.action_spaces` ``[b]`` (random decorrelation actions) is seeded with it.
* ``step(action, active)`` steps only the envs in ``active`` (wait-reset collectors: a
  finished env waits untouched until the batch ends).
"""

import copy
from collections import namedtuple

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode

from rlpyt.envs.base import EnvSpaces
from rlpyt.envs.gym import gym_make
from rlpyt.spaces.gym_wrapper import GymSpaceWrapper
from rlpyt.utils.buffer import buffer_from_example

__all__ = [
    "EnvBatch",
    "BatchStep",
    "EnvBatchFactory",
    "GymVectorEnvs",
    "GymVectorBatch",
    "has_native_vector_env",
]

BatchStep = namedtuple("BatchStep", ["observation", "reward", "done", "env_info"])
BatchStep.__doc__ = """One step of a batch: ``[B]`` arrays (``env_info``: a namedarraytuple of them).

Valid until the next ``step`` or ``reset`` of the batch (its arrays are reused)."""


class EnvBatch:
    """``B`` envs behind one ``step(action[B])`` call (see the module docstring).

    Attributes:
        n_envs: ``B``.
        spaces: ``EnvSpaces`` of one env (rlpyt spaces).
        action_spaces: one rlpyt action space per env, seeded as the per-env path seeds it.
        name: what errors call the envs, e.g. ``"CartPoleVectorEnv(CartPole-v1)"``.
        horizon: maximum episode length (``None``: no limit).
    """

    n_envs = 0
    name = "EnvBatch"
    horizon = None

    def reset(self, indices) -> np.ndarray:
        """Reset envs ``indices``; returns their first observations ``[len(indices), ...]``."""
        raise NotImplementedError

    def step(self, action, active=None) -> BatchStep:
        """Step every env (or those where the ``[B]`` bool mask ``active`` is true; the
        others are left untouched and their entries of the result are meaningless)."""
        raise NotImplementedError

    @property
    def spaces(self) -> EnvSpaces:
        return self._spaces

    def __len__(self) -> int:
        return self.n_envs

    def close(self) -> None:
        """Release the envs (idempotent)."""


class EnvBatchFactory:
    """An ``EnvCls`` whose sampler steps its envs as one :class:`EnvBatch`.

    ``factory(**env_kwargs)`` is one ordinary env; ``factory.make_batch(seeds,
    **env_kwargs)`` the ``len(seeds)`` envs of one collector, env ``b`` seeded with
    ``seeds[b]``. Picklable (spawned workers get it).
    """

    def __call__(self, **env_kwargs):
        raise NotImplementedError

    def make_batch(self, seeds, **env_kwargs) -> EnvBatch:
        raise NotImplementedError


class GymVectorEnvs(EnvBatchFactory):
    """Gymnasium env ``env_id`` as a vector env: ``EnvCls=GymVectorEnvs("CartPole-v1")``.

    Ids with a native vectorised implementation (``vector_entry_point``: CartPole) step
    all envs in numpy at once; others go through gymnasium's ``SyncVectorEnv`` (one
    loop in gymnasium instead of rlpyt's collector: little faster). One env is
    ``gym_make(env_id, **env_kwargs)``.
    """

    def __init__(self, env_id: str):
        self.env_id = env_id

    def __call__(self, **env_kwargs):
        return gym_make(self.env_id, **env_kwargs)

    def make_batch(self, seeds, **env_kwargs) -> "GymVectorBatch":
        return GymVectorBatch(self.env_id, seeds, **env_kwargs)

    def __repr__(self) -> str:
        return f"GymVectorEnvs({self.env_id!r})"


def has_native_vector_env(env_id: str) -> bool:
    """Whether ``env_id``'s vector entry point is one this module steps natively (CartPole's
    numpy implementation); other ids go through gymnasium's ``SyncVectorEnv``."""
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    entry = gymnasium.spec(env_id).vector_entry_point
    return (
        entry is not None
        and gymnasium.envs.registration.load_env_creator(entry) is CartPoleVectorEnv
    )


class GymVectorBatch(EnvBatch):
    """A gymnasium vector env as an :class:`EnvBatch` (use :class:`GymVectorEnvs`).

    Args:
        env_id: gymnasium id; ``env_kwargs`` go to the env's constructor.
        seeds: one seed (or None) per env.
        act_null_value, force_float32: as :class:`~rlpyt.envs.gym.GymEnvWrapper`'s.
    """

    def __init__(self, env_id, seeds, act_null_value=0, force_float32=True, **env_kwargs):
        self.env_id = env_id
        self.n_envs = n = len(seeds)
        self._seeds = list(seeds)
        self.native = has_native_vector_env(env_id)
        if self.native:  # numpy CartPole; resets are the batch's own (see _reset_native)
            self.vec = gymnasium.make_vec(
                env_id, num_envs=n, vectorization_mode="vector_entry_point", **env_kwargs
            )
            self.vec.reset()  # allocates its state; every env is reset again before use
            self._rngs = [None] * n
        else:
            self.vec = gymnasium.make_vec(
                env_id,
                num_envs=n,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED},
                **env_kwargs,
            )
        self._unwrapped = self.vec.unwrapped
        spec = gymnasium.spec(env_id)
        self.horizon = spec.max_episode_steps
        self.name = f"{type(self._unwrapped).__name__}({env_id})"
        single_obs = self.vec.single_observation_space
        if not isinstance(single_obs, gymnasium.spaces.Box):
            raise TypeError(
                f"{self.name}: env.backend='gym_vector' supports Box observations, not "
                f"{type(single_obs).__name__}: use env.backend='python'"
            )
        obs_space = GymSpaceWrapper(single_obs, "observation", force_float32)
        self.action_spaces = []
        for seed in self._seeds:  # as GymEnvWrapper.seed: the rlpyt space, seeded
            space = GymSpaceWrapper(
                copy.deepcopy(self.vec.single_action_space), "action", force_float32, act_null_value
            )
            space.seed(seed)
            self.action_spaces.append(space)
        self._spaces = EnvSpaces(observation=obs_space, action=self.action_spaces[0])
        self._obs_dtype = obs_space.dtype
        probe = gym_make(env_id, **env_kwargs)  # its EnvInfo schema is the per-env one's
        self._EnvInfo = type(probe.env_info_zero)
        self._env_info = buffer_from_example(probe.env_info_zero, n)
        self._info_fields = self._EnvInfo._fields[:-1]  # all but timeout
        probe.close()
        # float64: the values the per-env path hands to TrajInfo (the buffer casts to float32)
        self._reward = np.zeros(n, dtype=np.float64)
        self._first = np.ones(n, dtype=bool)
        self._closed = False

    # -- reset --------------------------------------------------------------------

    def reset(self, indices) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        if self.native:
            return self._reset_native(indices)
        mask = np.zeros(self.n_envs, dtype=bool)
        mask[indices] = True
        seeds = [s if self._first[b] else None for b, s in enumerate(self._seeds)]
        obs, _ = self.vec.reset(seed=seeds, options={"reset_mask": mask})
        self._first[indices] = False
        return np.asarray(obs[indices], dtype=self._obs_dtype)

    def _reset_native(self, indices):
        """CartPole's own reset, per env: ``state = np_random.uniform(-0.05, 0.05, 4)`` from
        each env's generator (seeded as ``CartPoleEnv.reset(seed=...)`` seeds its own)."""
        vec = self._unwrapped
        for b in indices:
            if self._first[b]:
                self._rngs[b], _ = seeding.np_random(self._seeds[b])
                self._first[b] = False
            vec.state[:, b] = self._rngs[b].uniform(low=vec.low, high=vec.high, size=(4,))
        vec.steps[indices] = 0
        return vec.state[:, indices].T.astype(self._obs_dtype)

    # -- step ---------------------------------------------------------------------

    def step(self, action, active=None) -> BatchStep:
        if active is not None and active.all():
            active = None
        if self.native:
            obs, reward, terminated, truncated, info = self._step_native(action, active)
        elif active is None:
            obs, reward, terminated, truncated, info = self.vec.step(action)
        else:
            obs, reward, terminated, truncated, info = self._step_some(action, active)
        done = terminated | truncated
        env_info = self._env_info
        env_info.timeout[:] = truncated & ~terminated
        if self._info_fields:
            self._write_info(info)
        self._reward[:] = reward
        return BatchStep(np.asarray(obs, dtype=self._obs_dtype), self._reward, done, env_info)

    def _step_native(self, action, active):
        vec = self._unwrapped
        action = np.asarray(action)
        if active is None:
            return _cartpole_step(vec, action, self.name)
        waiting = ~active  # CartPole's step is deterministic: put the waiting envs back
        saved = vec.state[:, waiting].copy(), vec.steps[waiting].copy()
        result = _cartpole_step(vec, np.where(active, action, 0), self.name)
        vec.state[:, waiting], vec.steps[waiting] = saved
        return result

    def _step_some(self, action, active):
        """SyncVectorEnv steps every env: step the active sub-envs one by one instead."""
        vec = self.vec
        obs = np.zeros((self.n_envs, *self._spaces.observation.shape), self._obs_dtype)
        reward = np.zeros(self.n_envs)
        terminated = np.zeros(self.n_envs, dtype=bool)
        truncated = np.zeros(self.n_envs, dtype=bool)
        info = {}
        for b in np.flatnonzero(active):
            obs[b], reward[b], terminated[b], truncated[b], env_info = vec.envs[b].step(action[b])
            info = vec._add_info(info, env_info, b)
        return obs, reward, terminated, truncated, info

    def _write_info(self, info: dict) -> None:
        """Flat numeric info keys of the schema, zero where an env did not report them."""
        for field in self._info_fields:
            dest = getattr(self._env_info, field)
            if isinstance(dest, tuple):
                continue  # nested info dicts: not carried by this backend (documented)
            if field not in info:
                dest[:] = 0  # as the per-env path: a key missing from a step is zero
                continue
            present = info.get("_" + field)
            value = np.asarray(info[field])
            if present is None:
                dest[:] = value
            else:
                dest[:] = np.where(
                    present.reshape(present.shape + (1,) * (value.ndim - 1)), value, 0
                )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.vec.close()


# Up to this many envs, a Python loop over the envs is faster than numpy's per-call overhead
# (8 envs: 18 us against 50 us; break-even near 24 on the 2-core machine of docs/benchmarks.md).
_CARTPOLE_LOOP_MAX_ENVS = 24


def _cartpole_step(vec, action, name="CartPoleVectorEnv"):
    """One step of gymnasium's numpy CartPole ``vec`` (``CartPoleVectorEnv``) without its
    autoreset: ``(obs, reward, terminated, truncated, info)``.

    The same float64 operations in the same order as ``CartPoleVectorEnv.step`` and the
    per-env ``CartPoleEnv.step`` (Euler integration, reward 1 per step), so the values
    are identical (tests/samplers/test_vector_backend.py); without the action-space
    ``contains`` check, the empty reset draw and the masked writes its ``NEXT_STEP``
    autoreset costs on every call, which this batch never uses (it resets each env
    itself). Few envs step in a Python loop over floats (cos and sin still from numpy,
    as both of gymnasium's implementations take them), more in numpy arrays.
    """
    theta = vec.state[2]
    costheta = np.cos(theta)
    sintheta = np.sin(theta)
    if len(action) <= _CARTPOLE_LOOP_MAX_ENVS:  # checks each action as it goes
        state, terminated = _cartpole_loop(vec, action, costheta, sintheta, name)
    else:
        if ((action != 0) & (action != 1)).any():
            raise _bad_actions(name, action)
        state = _cartpole_arrays(vec, action, costheta, sintheta)
        x, theta = state[0], state[2]
        terminated = (
            (x < -vec.x_threshold)
            | (x > vec.x_threshold)
            | (theta < -vec.theta_threshold_radians)
            | (theta > vec.theta_threshold_radians)
        )
    vec.state = state
    vec.steps += 1
    truncated = vec.steps >= vec.max_episode_steps
    if vec._sutton_barto_reward:
        reward = -terminated.astype(np.float32)
    else:
        reward = np.ones(len(action), dtype=np.float32)
    return state.T.astype(np.float32), reward, terminated, truncated, {}


def _cartpole_arrays(vec, action, costheta, sintheta):
    """The next state ``[4, B]``, computed on ``[B]`` arrays."""
    x, x_dot, theta, theta_dot = vec.state
    force = np.where(action == 1, vec.force_mag, -vec.force_mag)
    temp = (force + vec.polemass_length * np.square(theta_dot) * sintheta) / vec.total_mass
    thetaacc = (vec.gravity * sintheta - costheta * temp) / (
        vec.length * (4.0 / 3.0 - vec.masspole * np.square(costheta) / vec.total_mass)
    )
    xacc = temp - vec.polemass_length * thetaacc * costheta / vec.total_mass
    if vec.kinematics_integrator == "euler":
        x = x + vec.tau * x_dot
        x_dot = x_dot + vec.tau * xacc
        theta = theta + vec.tau * theta_dot
        theta_dot = theta_dot + vec.tau * thetaacc
    else:  # semi-implicit Euler
        x_dot = x_dot + vec.tau * xacc
        x = x + vec.tau * x_dot
        theta_dot = theta_dot + vec.tau * thetaacc
        theta = theta + vec.tau * theta_dot
    return np.stack((x, x_dot, theta, theta_dot))


def _cartpole_loop(vec, action, costheta, sintheta, name):
    """``(next state [4, B], terminated [B])``, env by env in Python floats (IEEE doubles,
    as numpy's: the same operations and comparisons give the same values). Raises on an
    action other than 0 or 1 before anything changes."""
    pml, mass, masspole = vec.polemass_length, vec.total_mass, vec.masspole
    gravity, length, tau, force_mag = vec.gravity, vec.length, vec.tau, vec.force_mag
    x_max, theta_max = vec.x_threshold, vec.theta_threshold_radians
    euler = vec.kinematics_integrator == "euler"
    rows, terminated = [], []
    for (x, x_dot, theta, theta_dot), a, c, s in zip(
        vec.state.T.tolist(), action.tolist(), costheta.tolist(), sintheta.tolist()
    ):
        if a == 1:
            force = force_mag
        elif a == 0:
            force = -force_mag
        else:
            raise _bad_actions(name, action)
        temp = (force + pml * (theta_dot * theta_dot) * s) / mass
        thetaacc = (gravity * s - c * temp) / (length * (4.0 / 3.0 - masspole * (c * c) / mass))
        xacc = temp - pml * thetaacc * c / mass
        if euler:
            row = (x + tau * x_dot, x_dot + tau * xacc,
                   theta + tau * theta_dot, theta_dot + tau * thetaacc)  # fmt: skip
        else:
            x_dot = x_dot + tau * xacc
            theta_dot = theta_dot + tau * thetaacc
            row = (x + tau * x_dot, x_dot, theta + tau * theta_dot, theta_dot)
        rows.append(row)
        x, theta = row[0], row[2]
        terminated.append(x < -x_max or x > x_max or theta < -theta_max or theta > theta_max)
    return np.array(rows).T, np.array(terminated)


def _bad_actions(name, action) -> ValueError:
    return ValueError(f"{name}: actions must be 0 or 1, got {action!r}")
