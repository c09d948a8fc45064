"""Env models: envs whose state can be saved and restored, and :class:`PerfectModel`.

An env that a planner may use as a model implements the :class:`ModelEnv`
interface (structurally: any object with these two methods qualifies):

* ``clone_state()`` returns an opaque, picklable state of the env;
* ``restore_state(state)`` puts the env back exactly: the next ``step`` gives
  bit-identical results to the step that followed ``clone_state()``.

Restoring never changes the stored state (it can be restored many times).
The planning envs (:mod:`rlpyt.envs.planning`) return hashable states, so a
planner can key a transposition table on them.

:class:`PerfectModel` is a model of an env: a private copy of it that a planner
restores to the real env's state and then steps freely, leaving the real env
untouched.
"""

import copy
from typing import Any, Protocol, runtime_checkable

from rlpyt.envs.base import EnvStep

__all__ = ["ModelEnv", "CloneStateUnsupportedError", "require_model_env", "PerfectModel"]


@runtime_checkable
class ModelEnv(Protocol):
    """An env whose state can be saved and restored (see the module docstring)."""

    def clone_state(self) -> Any:
        """An opaque, picklable snapshot of everything the next steps depend on."""
        ...

    def restore_state(self, state) -> None:
        """Put the env back to ``state`` (from ``clone_state`` of this env or a copy of it)."""
        ...


class CloneStateUnsupportedError(TypeError):
    """The env cannot save and restore its state, so it cannot serve as a model."""


def env_name(env) -> str:
    """A readable name of an env (its gymnasium id where it has one)."""
    name = getattr(env, "name", None)  # GymEnvWrapper: "CartPoleEnv(CartPole-v1)"
    if isinstance(name, str):
        return name
    game = getattr(env, "game", None)  # AtariEnv
    if isinstance(game, str):
        return f"{type(env).__name__}({game!r})"
    return type(env).__name__


def require_model_env(env, user: str = "a planner") -> None:
    """Raise :class:`CloneStateUnsupportedError` unless ``env`` can be cloned and restored.

    The check is structural (both methods exist), then one ``clone_state()``
    call, which has no effect on the env, catches wrappers that have the
    methods but not for the env they wrap.
    """
    if not isinstance(env, ModelEnv):
        missing = [f"{m}()" for m in ("clone_state", "restore_state") if not hasattr(env, m)]
        raise CloneStateUnsupportedError(
            f"{user} needs an env model, but {env_name(env)} lacks {' and '.join(missing)} "
            "(the rlpyt.envs.model.ModelEnv interface). Use an env that implements it: "
            "AtariEnv, gym_make() of classic-control, toy-text or MuJoCo envs, or the "
            "planning envs of rlpyt.envs.planning."
        )
    env.clone_state()  # raises CloneStateUnsupportedError naming the env when unsupported


class PerfectModel:
    """A perfect model of an env: a private copy of it, restored and stepped by a planner.

    Typical use, once per real step::

        model.restore_state(real_env.clone_state())  # or model.catch_up(real_env)
        for action in plan:
            model.step(action)

    The copy is made once at construction (``copy.deepcopy``); the real env is
    never stepped or restored by the model.

    Raises:
        CloneStateUnsupportedError: ``env`` does not implement :class:`ModelEnv`
            (the message names the env and the missing methods).
    """

    def __init__(self, env):
        require_model_env(env, user="PerfectModel")
        self._env = copy.deepcopy(env)
        self._name = env_name(env)

    def catch_up(self, real_env) -> None:
        """Restore the model to the current state of ``real_env``."""
        self._env.restore_state(real_env.clone_state())

    def clone_state(self):
        return self._env.clone_state()

    def restore_state(self, state) -> None:
        self._env.restore_state(state)

    def step(self, action) -> EnvStep:
        return self._env.step(action)

    def reseed(self, seed: int) -> None:
        """Re-seed the generator that draws the random outcomes of the model's ``step``.

        ``restore_state`` restores that generator too (the next steps are
        bit-identical), so a planner that restores one state before each simulation
        would see the same outcome of every random transition in all of them; it
        re-seeds after each restore (from its own generator) to sample outcomes.
        Needs the env's ``reseed_transitions(seed)`` (GymEnvWrapper has it).

        Raises:
            CloneStateUnsupportedError: the env cannot re-seed its transitions.
        """
        reseed = getattr(self._env, "reseed_transitions", None)  # optional part of ModelEnv
        if reseed is None:
            raise CloneStateUnsupportedError(
                f"PerfectModel.reseed: {self._name} lacks reseed_transitions(seed), so its "
                "random transitions cannot be re-drawn after restore_state (a stochastic "
                "planner needs it). GymEnvWrapper (gym_make) implements it."
            )
        reseed(int(seed))

    @property
    def env(self):
        """The private copy (for its spaces and properties; stepping it is the model's job)."""
        return self._env

    @property
    def action_space(self):
        return self._env.action_space

    @property
    def observation_space(self):
        return self._env.observation_space

    def __repr__(self) -> str:
        return f"PerfectModel({self._name})"
