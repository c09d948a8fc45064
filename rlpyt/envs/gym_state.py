"""Saving and restoring the state of gymnasium envs (``GymEnvWrapper.clone_state``).

A gymnasium env keeps its state in the unwrapped env's attributes and in the
counters of the wrappers that ``gymnasium.make`` adds. A state is the deep
copy of both:

* the unwrapped env: an env that has its own ``clone_state``/``restore_state``
  (the planning envs of :mod:`rlpyt.envs.planning`) uses them; a gymnasium
  MuJoCo env (``MujocoEnv``) saves a copy of its whole ``MjData`` and restores
  it with ``mj_copyData``: the integration state (qpos, qvel, warm start, ...)
  is not enough, since rewards such as Humanoid's read quantities computed at
  the start of the previous step; otherwise the attributes listed for its
  class in :data:`UNWRAPPED_STATE`. Each also saves its random generator
  (slippery FrozenLake and rainy Taxi draw in ``step``);
* each wrapper: the attributes listed for its class in :data:`WRAPPER_STATE`.

An env or wrapper not listed raises :class:`CloneStateUnsupportedError` naming
it: copying attributes that are not known to be the whole state would break the
bit-exact promise silently. Register more classes by adding to the tables.
"""

import copy
import sys

from gymnasium.envs.classic_control import (
    AcrobotEnv,
    CartPoleEnv,
    Continuous_MountainCarEnv,
    MountainCarEnv,
    PendulumEnv,
)
from gymnasium.envs.toy_text import CliffWalkingEnv, FrozenLakeEnv, TaxiEnv
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

from rlpyt.envs.model import CloneStateUnsupportedError

__all__ = [
    "UNWRAPPED_STATE",
    "WRAPPER_STATE",
    "clone_gym_state",
    "restore_gym_state",
    "wrapper_chain",
]

UNWRAPPED_STATE: dict[type, tuple[str, ...]] = {
    CartPoleEnv: ("state", "steps_beyond_terminated"),
    AcrobotEnv: ("state",),
    MountainCarEnv: ("state",),
    Continuous_MountainCarEnv: ("state",),
    PendulumEnv: ("state", "last_u"),
    FrozenLakeEnv: ("s", "lastaction"),
    TaxiEnv: ("s", "lastaction", "taxi_orientation", "fickle_step"),
    CliffWalkingEnv: ("s", "lastaction"),
}
"""Attributes that hold the state of each supported unwrapped env class (besides its RNG)."""

WRAPPER_STATE: dict[type, tuple[str, ...]] = {
    TimeLimit: ("_elapsed_steps",),
    OrderEnforcing: ("_has_reset",),
    PassiveEnvChecker: ("checked_reset", "checked_step", "checked_render"),
}
"""Attributes that hold the state of each supported gymnasium wrapper class."""

_RNG_ATTRS = ("_np_random", "_np_random_seed")


def wrapper_chain(env) -> list:
    """The wrappers around gymnasium env ``env``, outermost first (empty if unwrapped)."""
    chain = []
    while env is not env.unwrapped:
        chain.append(env)
        env = env.env
    return chain


def _unsupported(name: str, what: str) -> CloneStateUnsupportedError:
    supported = ", ".join(sorted(c.__name__ for c in UNWRAPPED_STATE))
    return CloneStateUnsupportedError(
        f"{name}: clone_state() is not supported for {what}. Supported: envs with their own "
        f"clone_state/restore_state (rlpyt.envs.planning) and {supported}; add the class and "
        "its state attributes to rlpyt.envs.gym_state.UNWRAPPED_STATE (or WRAPPER_STATE) "
        "to support another."
    )


def clone_gym_state(env, name: str, wrappers: list | None = None):
    """The state of gymnasium env ``env`` (``name`` is used in the error message).

    ``wrappers``: ``wrapper_chain(env)`` if the caller keeps it (a planner clones and
    restores at every model step; walking the chain each time costs more than the copy).
    """
    chain = wrapper_chain(env) if wrappers is None else wrappers
    wrappers = []
    for wrapper in chain:
        attrs = WRAPPER_STATE.get(type(wrapper))
        if attrs is None:
            raise _unsupported(name, f"the wrapper {type(wrapper).__name__}")
        wrappers.append(tuple(getattr(wrapper, a) for a in attrs))
    inner = env.unwrapped
    if _has_own_state(inner):
        inner_state = inner.clone_state()
    elif _is_mujoco(inner):
        inner_state = copy.deepcopy((inner.data, *_rng(inner)))
    else:
        attrs = UNWRAPPED_STATE.get(type(inner))
        if attrs is None:
            raise _unsupported(name, type(inner).__name__)
        inner_state = copy.deepcopy(tuple(getattr(inner, a) for a in attrs + _RNG_ATTRS))
    return (inner_state, tuple(wrappers))


def restore_gym_state(env, state, wrappers: list | None = None) -> None:
    """Put gymnasium env ``env`` back to ``state`` from :func:`clone_gym_state`
    (``wrappers``: as there)."""
    inner_state, wrapper_states = state
    chain = wrapper_chain(env) if wrappers is None else wrappers
    for wrapper, values in zip(chain, wrapper_states, strict=True):
        for attr, value in zip(WRAPPER_STATE[type(wrapper)], values, strict=True):
            setattr(wrapper, attr, value)
    inner = env.unwrapped
    if _has_own_state(inner):
        inner.restore_state(inner_state)
    elif _is_mujoco(inner):
        import mujoco

        data, *rng = inner_state
        mujoco.mj_copyData(inner.data, inner.model, data)  # into the env's MjData: views stay
        for attr, value in zip(_RNG_ATTRS, copy.deepcopy(rng), strict=True):
            setattr(inner, attr, value)
    else:
        attrs = UNWRAPPED_STATE[type(inner)] + _RNG_ATTRS
        # Copy again so that stepping never mutates the stored state (numpy states).
        for attr, value in zip(attrs, copy.deepcopy(inner_state), strict=True):
            setattr(inner, attr, value)


def _rng(env) -> tuple:
    return tuple(getattr(env, a) for a in _RNG_ATTRS)


def _is_mujoco(env) -> bool:
    # A MuJoCo env exists only once its module is imported: mujoco stays optional.
    module = sys.modules.get("gymnasium.envs.mujoco.mujoco_env")
    return module is not None and isinstance(env, module.MujocoEnv)


def _has_own_state(env) -> bool:
    return callable(getattr(env, "clone_state", None)) and callable(
        getattr(env, "restore_state", None)
    )
