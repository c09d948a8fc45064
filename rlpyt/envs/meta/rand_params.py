"""Randomised-dynamics task distributions (the ``rand_param_envs`` idea) on Hopper/Walker2d v5.

A task is a dict of per-element multipliers of the MuJoCo model's nominal arrays:
``body_mass`` and ``body_inertia`` and ``geom_friction`` by ``1.5 ** U(-3, 3)``,
``dof_damping`` by ``1.3 ** U(-3, 3)`` (the ranges of the original). ``set_task``
writes ``nominal * multiplier`` into the compiled model (the nominal arrays are kept
from construction, so tasks never compound) and calls ``mujoco.mj_setConst`` so the
derived constants follow; the next ``reset()`` starts an episode with the new
physics. The reward is the v5 env's (forward velocity, alive bonus, control cost).
The original applied the same idea to MuJoCo 1.31 through mujoco-py, where the
change was never tested; here a test checks that the same actions from the same
state give different next states under different tasks.
"""

import mujoco
import numpy as np
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv

__all__ = ["RAND_PARAMS", "HopperRandParamsEnv", "Walker2dRandParamsEnv"]

RAND_PARAMS = {"body_mass": 1.5, "body_inertia": 1.5, "geom_friction": 1.5, "dof_damping": 1.3}
"""Model array -> base of its multiplier ``base ** U(-log_scale_limit, log_scale_limit)``."""


class _RandParamsMixin:
    """``sample_tasks`` / ``set_task`` over :data:`RAND_PARAMS` (mix in before the v5 env)."""

    log_scale_limit = 3.0

    def _keep_nominal(self) -> None:
        self._nominal = {name: getattr(self.model, name).copy() for name in RAND_PARAMS}

    def sample_tasks(self, n: int, seed: int) -> list:
        rng = np.random.default_rng(seed)
        limit = self.log_scale_limit
        return [
            {
                name: base ** rng.uniform(-limit, limit, size=self._nominal[name].shape)
                for name, base in RAND_PARAMS.items()
            }
            for _ in range(n)
        ]

    def set_task(self, task) -> None:
        if set(task) != set(RAND_PARAMS):
            raise ValueError(
                f"{type(self).__name__} task needs multipliers {sorted(RAND_PARAMS)}, got "
                f"{sorted(task)}"
            )
        for name, nominal in self._nominal.items():
            multiplier = np.asarray(task[name], dtype=np.float64)
            if multiplier.shape != nominal.shape:
                raise ValueError(
                    f"{type(self).__name__} task {name} has shape {multiplier.shape}, the "
                    f"model's array {nominal.shape}"
                )
            getattr(self.model, name)[:] = nominal * multiplier
        mujoco.mj_setConst(self.model, self.data)


class HopperRandParamsEnv(_RandParamsMixin, HopperEnv):
    """Hopper-v5 with randomised mass, inertia, friction and damping (module docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._keep_nominal()


class Walker2dRandParamsEnv(_RandParamsMixin, Walker2dEnv):
    """Walker2d-v5 with randomised mass, inertia, friction and damping (module docstring)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._keep_nominal()
