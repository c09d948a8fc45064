"""Gymnasium environments as rlpyt environments.

:class:`GymEnvWrapper` adapts the gymnasium API (``reset() -> (obs, info)``,
``step() -> (obs, reward, terminated, truncated, info)``) to rlpyt's
``EnvStep(observation, reward, done, env_info)``:

* ``done = terminated or truncated``;
* ``env_info.timeout = truncated and not terminated`` -- a time limit cut the
  episode, so value targets bootstrap from the last observation; when both
  flags are set, termination wins;
* the info dict becomes a fixed-schema namedarraytuple ``EnvInfo``. The schema
  is read from one probe step at construction (or given as ``info_example``):
  its numeric values (scalars, fixed-shape arrays, nested dicts of them) become
  fields; non-numeric values are dropped with one warning; keys that appear
  only later are dropped with one warning each; keys missing from a step are
  zero-filled.

Stepping skips the call layers of ``gymnasium.make``'s standard wrappers
(``TimeLimit``, ``OrderEnforcing``, ``PassiveEnvChecker``) once they only pass
the step through (after the first reset and the checker's first steps): the
wrapper steps the unwrapped env and counts the ``TimeLimit`` steps in the
``TimeLimit`` wrapper itself, exactly as its ``step`` does. Same results and
same wrapper state; a planner's model steps several times faster
(:func:`direct_wrappers`).
"""

import warnings

import numpy as np
from gymnasium import make as _gym_make_env
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

from rlpyt.envs.base import Env, EnvStep
from rlpyt.envs.gym_state import clone_gym_state, restore_gym_state, wrapper_chain
from rlpyt.spaces.gym_wrapper import GymSpaceWrapper
from rlpyt.utils.collections import namedarraytuple

__all__ = ["GymEnvWrapper", "gym_make", "make", "info_schema", "direct_wrappers"]

_OLD_API = (
    "{env} uses the old gym API: {what}. rlpyt needs the gymnasium API: "
    "reset() -> (observation, info) and step() -> (observation, reward, terminated, "
    "truncated, info). Port the env to gymnasium (or wrap it with "
    "gymnasium.wrappers.EnvCompatibility from shimmy) before wrapping it."
)


def _numeric(value) -> np.ndarray | None:
    a = np.asarray(value)
    if a.dtype.kind in "biuf":
        return a
    return None


def direct_wrappers(chain) -> tuple | None:
    """``(time_limit, order_enforcing, env_checker)`` wrappers of a wrapper chain (None where
    absent), or None if the chain holds any other wrapper (or one of these twice).

    These three only pass a step through to the env once the env has been reset and
    checked (``TimeLimit`` then counts the step and sets ``truncated`` at its limit), so
    :class:`GymEnvWrapper` can step the unwrapped env and do their part itself. Exact
    types: a subclass may step differently.
    """
    found = {TimeLimit: None, OrderEnforcing: None, PassiveEnvChecker: None}
    for wrapper in chain:
        kind = type(wrapper)
        if kind not in found or found[kind] is not None:
            return None
        found[kind] = wrapper
    checker = found[PassiveEnvChecker]
    if checker is not None and not hasattr(checker, "checked_data_reuse"):
        return None  # another gymnasium version: its checker's step is not known here
    return found[TimeLimit], found[OrderEnforcing], checker


def info_schema(info: dict, name: str = "EnvInfo", extra: dict | None = None):
    """The EnvInfo namedarraytuple class and its zero-valued example for an info dict.

    Returns ``(EnvInfoCls, zero_example, dropped_keys)``.
    """
    fields, zeros, dropped = [], [], []
    for key, value in info.items():
        if not (isinstance(key, str) and key.isidentifier() and not key.startswith("_")):
            dropped.append(str(key))
            continue
        if isinstance(value, dict):
            SubCls, sub_zero, sub_dropped = info_schema(value, f"{name}_{key}")
            dropped.extend(f"{key}.{k}" for k in sub_dropped)
            if SubCls._fields:
                fields.append(key)
                zeros.append(sub_zero)
            continue
        a = _numeric(value)
        if a is None:
            dropped.append(key)
            continue
        fields.append(key)
        zeros.append(np.zeros_like(a))
    for key, value in (extra or {}).items():
        fields.append(key)
        zeros.append(value)
    Cls = namedarraytuple(name, fields)
    return Cls, Cls(*zeros), dropped


class GymEnvWrapper(Env):
    """An rlpyt ``Env`` around a gymnasium env (see the module docstring).

    Args:
        env: a gymnasium env (e.g. from ``gymnasium.make``).
        act_null_value, obs_null_value: null values of the action/observation
            spaces (written after resets as ``prev_action``).
        force_float32: store float observations and actions as float32.
        info_example: an info dict that fixes the EnvInfo schema instead of a
            probe step at construction.
    """

    def __init__(
        self,
        env,
        act_null_value=0,
        obs_null_value=0,
        force_float32: bool = True,
        info_example: dict | None = None,
    ):
        self.env = env
        self._name = _env_name(env)
        self._wrappers = wrapper_chain(env) if hasattr(env, "unwrapped") else []
        self._unwrapped = getattr(env, "unwrapped", env)
        self._direct = direct_wrappers(self._wrappers)
        self._action_space = GymSpaceWrapper(
            env.action_space, "action", force_float32, act_null_value
        )
        self._observation_space = GymSpaceWrapper(
            env.observation_space, "observation", force_float32, obs_null_value
        )
        self._convert_obs = self._observation_space.convert
        self._revert_action = self._action_space.revert
        self._seed = None
        self._closed = False
        if info_example is None:
            info_example = self._probe_info()
        EnvInfoCls, self._info_zero, dropped = info_schema(
            info_example, extra={"timeout": np.zeros((), dtype=bool)}
        )
        self._EnvInfo = EnvInfoCls
        self._info_keys = frozenset(EnvInfoCls._fields) - {"timeout"}
        self._info_fields = EnvInfoCls._fields[:-1]  # all but timeout, in order
        self._zero_values = tuple(self._info_zero)[:-1]
        self._info_defaults = dict(zip(self._info_fields, self._zero_values))
        self._empty_info = {t: EnvInfoCls(*self._zero_values, t) for t in (False, True)}
        # Nested info dicts become nested EnvInfo tuples (rare: a slower path).
        self._nested = {k: type(v) for k, v in self._info_defaults.items() if isinstance(v, tuple)}
        self._warned_keys = set(dropped)
        if dropped:
            warnings.warn(
                f"{self._name}: info keys {sorted(dropped)} are not numeric (or not valid "
                "field names) and are dropped from env_info",
                stacklevel=2,
            )

    def __getstate__(self):  # the converters are closures: rebuilt, not pickled
        state = dict(self.__dict__)
        del state["_convert_obs"], state["_revert_action"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._convert_obs = self._observation_space.convert
        self._revert_action = self._action_space.revert

    def _probe_info(self) -> dict:
        """One reset and one random step to learn the info schema."""
        self._checked_reset()
        result = self.env.step(self.env.action_space.sample())
        if not (isinstance(result, tuple) and len(result) == 5):
            raise TypeError(
                _OLD_API.format(
                    env=self._name, what=(f"step() returned {_describe(result)}, not a 5-tuple")
                )
            )
        return result[4] if isinstance(result[4], dict) else {}

    def _checked_reset(self, seed=None):
        result = self.env.reset(seed=seed)
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
            raise TypeError(
                _OLD_API.format(
                    env=self._name,
                    what=(f"reset() returned {_describe(result)}, not (observation, info)"),
                )
            )
        return result

    def reset(self):
        if self._closed:
            raise RuntimeError(f"{self._name}: reset() after close()")
        # The seed applies once: later resets continue the env's seeded stream.
        obs, _ = self._checked_reset(seed=self._seed)
        self._seed = None
        return self._convert_obs(obs)

    def step(self, action) -> EnvStep:
        result = self._gym_step(self._revert_action(action))
        try:
            obs, reward, terminated, truncated, info = result
        except (TypeError, ValueError):
            raise TypeError(
                _OLD_API.format(
                    env=self._name, what=(f"step() returned {_describe(result)}, not a 5-tuple")
                )
            ) from None
        done = bool(terminated or truncated)
        timeout = bool(truncated and not terminated)
        return EnvStep(self._convert_obs(obs), reward, done, self._env_info(info, timeout))

    def _gym_step(self, action):
        """``self.env.step(action)``, the standard wrappers' layers skipped where they only
        pass the step through (see the module docstring)."""
        if self._direct is None:
            return self.env.step(action)
        time_limit, order, checker = self._direct
        if (
            (order is not None and not order._has_reset)  # it raises ResetNeeded
            or (checker is not None and not (checker.checked_step and checker.checked_data_reuse))
            or (time_limit is not None and time_limit._elapsed_steps is None)  # never reset
        ):
            return self.env.step(action)
        result = self._unwrapped.step(action)
        if time_limit is None:
            return result
        observation, reward, terminated, truncated, info = result  # as TimeLimit.step does
        time_limit._elapsed_steps += 1
        if time_limit._elapsed_steps >= time_limit._max_episode_steps:
            truncated = True
        return observation, reward, terminated, truncated, info

    def _env_info(self, info: dict, timeout: bool):
        if not info:  # immutable, so the two possible values are made once
            return self._empty_info[timeout]
        if not info.keys() <= self._info_keys:
            self._warn_unknown(info)
        get = info.get
        defaults = self._info_defaults
        values = [get(k, defaults[k]) for k in self._info_fields]
        if self._nested:
            values = [
                _nest(v, defaults[k]) if k in self._nested else v
                for k, v in zip(self._info_fields, values)
            ]
        values.append(timeout)
        return self._EnvInfo(*values)

    def _warn_unknown(self, info: dict) -> None:
        new = [k for k in info if k not in self._info_keys and k not in self._warned_keys]
        if new:
            self._warned_keys.update(new)
            warnings.warn(
                f"{self._name}: info keys {sorted(map(str, new))} were not in the schema "
                "fixed at construction and are dropped (pass info_example= to declare them)",
                stacklevel=3,
            )

    def seed(self, seed: int | None = None) -> None:
        super().seed(seed)
        self._seed = seed
        if seed is not None:
            self.env.action_space.seed(seed)
            self.env.observation_space.seed(seed)

    def clone_state(self):
        """The env's state (:mod:`rlpyt.envs.model`); which envs: :mod:`rlpyt.envs.gym_state`."""
        return clone_gym_state(self.env, self._name, self._wrappers)

    def restore_state(self, state) -> None:
        restore_gym_state(self.env, state, self._wrappers)

    def reseed_transitions(self, seed: int) -> None:
        """Give the env a fresh random generator seeded with ``seed`` (its ``np_random``).

        Everything else of the state is kept. A gymnasium env draws the random outcomes
        of ``step`` (slippery FrozenLake, rainy Taxi) from it, and the state of
        :meth:`clone_state` includes it, so a planner that restores one state and wants
        different outcomes per simulation re-seeds after the restore
        (:meth:`rlpyt.envs.model.PerfectModel.reseed`).
        """
        self.env.unwrapped.np_random = np.random.default_rng(seed)

    @property
    def env_info_zero(self):
        """The EnvInfo of this env's schema with every field zero (timeout last)."""
        return self._info_zero

    @property
    def name(self) -> str:
        """The env's class and gymnasium id, e.g. ``"CartPoleEnv(CartPole-v1)"``."""
        return self._name

    @property
    def horizon(self) -> int | None:
        # The user's gymnasium env: spec (and its max_episode_steps) are optional.
        spec = getattr(self.env, "spec", None)
        return getattr(spec, "max_episode_steps", None)

    def render(self):
        return self.env.render()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.env.close()


def _nest(value, zero):
    """A nested info dict as the namedarraytuple of its schema (missing keys zero)."""
    if not isinstance(value, dict):
        return zero
    return type(zero)(
        *(
            _nest(value.get(k, z), z) if isinstance(z, tuple) else value.get(k, z)
            for k, z in zip(zero._fields, zero)
        )
    )


def _env_name(env) -> str:
    # The user's gymnasium env: spec, its id and unwrapped are optional.
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return f"{type(env.unwrapped).__name__}({spec.id})"
    return type(getattr(env, "unwrapped", env)).__name__


def _describe(value) -> str:
    if isinstance(value, tuple):
        return f"a {len(value)}-tuple"
    return f"a {type(value).__name__}"


def gym_make(
    *args,
    info_example: dict | None = None,
    act_null_value=0,
    obs_null_value=0,
    force_float32: bool = True,
    **kwargs,
) -> GymEnvWrapper:
    """``gymnasium.make(*args, **kwargs)`` wrapped in a :class:`GymEnvWrapper`.

    Ids of the form ``ALE/...`` register ale-py's Atari envs first, and ids of
    the form ``rlpyt/...`` rlpyt's planning envs (:mod:`rlpyt.envs.planning`).
    """
    env_id = args[0] if args else kwargs.get("id")
    if isinstance(env_id, str) and env_id.startswith("ALE/"):
        import ale_py
        import gymnasium

        gymnasium.register_envs(ale_py)
    if isinstance(env_id, str) and env_id.startswith("rlpyt/"):
        import rlpyt.envs.planning  # noqa: F401 - registers the rlpyt/... ids
    return GymEnvWrapper(
        _gym_make_env(*args, **kwargs),
        act_null_value=act_null_value,
        obs_null_value=obs_null_value,
        force_float32=force_float32,
        info_example=info_example,
    )


make = gym_make  # the original rlpyt's name (``from rlpyt.envs.gym import make``)
