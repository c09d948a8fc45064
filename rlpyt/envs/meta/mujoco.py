"""Locomotion task distributions of PEARL on gymnasium's MuJoCo v5 envs.

Each class subclasses the v5 env and replaces its reward with the task's, built from
the quantities the v5 env reports in ``info`` (``x_velocity``, ``y_velocity``, the
``reward_ctrl`` / ``reward_contact`` / ``reward_survive`` terms); observations,
terminations and the physics stay the v5 env's. The horizon (200 in the paper) is
a time limit added by :class:`~rlpyt.envs.meta.base.MetaEnv`.

* :class:`HalfCheetahVelEnv`: target velocity ``v* ~ U[0, 3]``;
  ``r = -|v_x - v*| - 0.05 ||a||^2``.
* :class:`HalfCheetahDirEnv`: direction ``d`` in ``{+1, -1}``; ``r = d v_x - 0.05 ||a||^2``.
* :class:`AntDirEnv`: direction angle ``theta ~ U[0, 2 pi)`` (``forward_backward=True``:
  ``{0, pi}``, the paper's version); ``r = v_xy . (cos, sin) + survive + ctrl + contact``;
  contact forces left out of the observation (27 dims), terminates when unhealthy.
* :class:`AntGoalEnv`: goal ``3 sqrt(U) (cos phi, sin phi)``; ``r = -||xy - goal||_1 +
  survive + ctrl + contact``; never terminates. (Contact forces were 0 under the
  mujoco-py the paper ran on, so the contact term does not match its numbers.)
* :class:`HumanoidDirEnv`: direction angle ``theta ~ U[0, 2 pi)``;
  ``r = 1.25 v_xy . (cos, sin) + survive (5) + ctrl + contact`` with the mass-centre velocity.
"""

import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.humanoid_v5 import HumanoidEnv

__all__ = ["HalfCheetahVelEnv", "HalfCheetahDirEnv", "AntDirEnv", "AntGoalEnv", "HumanoidDirEnv"]

CHEETAH_CTRL_COST = 0.05


def _direction(theta: float) -> np.ndarray:
    return np.array([np.cos(theta), np.sin(theta)])


class HalfCheetahVelEnv(HalfCheetahEnv):
    """HalfCheetah-v5 running at a target velocity; ``task``: ``v*`` (float)."""

    def __init__(self, max_velocity: float = 3.0, **kwargs):
        super().__init__(forward_reward_weight=0.0, ctrl_cost_weight=CHEETAH_CTRL_COST, **kwargs)
        self.max_velocity = float(max_velocity)
        self._target_velocity = 0.0

    def sample_tasks(self, n: int, seed: int) -> list:
        rng = np.random.default_rng(seed)
        return [float(v) for v in rng.uniform(0.0, self.max_velocity, size=n)]

    def set_task(self, task) -> None:
        self._target_velocity = float(task)

    def step(self, action):
        obs, _reward, terminated, truncated, info = super().step(action)
        reward = -abs(info["x_velocity"] - self._target_velocity) + info["reward_ctrl"]
        return obs, reward, terminated, truncated, info


class HalfCheetahDirEnv(HalfCheetahEnv):
    """HalfCheetah-v5 running forward (+1) or backward (-1); ``task``: the sign (float)."""

    def __init__(self, **kwargs):
        super().__init__(forward_reward_weight=0.0, ctrl_cost_weight=CHEETAH_CTRL_COST, **kwargs)
        self._direction = 1.0

    def sample_tasks(self, n: int, seed: int) -> list:
        rng = np.random.default_rng(seed)
        return [float(d) for d in rng.choice([-1.0, 1.0], size=n)]

    def set_task(self, task) -> None:
        if float(task) not in (-1.0, 1.0):
            raise ValueError(f"HalfCheetahDirEnv task must be +1.0 or -1.0, got {task!r}")
        self._direction = float(task)

    def step(self, action):
        obs, _reward, terminated, truncated, info = super().step(action)
        reward = self._direction * info["x_velocity"] + info["reward_ctrl"]
        return obs, reward, terminated, truncated, info


class _AntTaskEnv(AntEnv):
    """Ant-v5 without contact forces in the observation (27 dims), task reward."""

    def __init__(self, **kwargs):
        kwargs.setdefault("include_cfrc_ext_in_observation", False)
        super().__init__(**kwargs)

    def step(self, action):
        obs, _reward, terminated, truncated, info = super().step(action)
        costs = info["reward_survive"] + info["reward_ctrl"] + info["reward_contact"]
        return obs, self._task_reward(info) + costs, terminated, truncated, info

    def _task_reward(self, info) -> float:
        raise NotImplementedError


class AntDirEnv(_AntTaskEnv):
    """Ant running in direction ``theta``; ``task``: the angle (float, radians)."""

    def __init__(self, forward_backward: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.forward_backward = bool(forward_backward)
        self._direction = _direction(0.0)

    def sample_tasks(self, n: int, seed: int) -> list:
        rng = np.random.default_rng(seed)
        if self.forward_backward:
            return [float(t) for t in rng.choice([0.0, np.pi], size=n)]
        return [float(t) for t in rng.uniform(0.0, 2 * np.pi, size=n)]

    def set_task(self, task) -> None:
        self._direction = _direction(float(task))

    def _task_reward(self, info) -> float:
        return float(
            info["x_velocity"] * self._direction[0] + info["y_velocity"] * self._direction[1]
        )


class AntGoalEnv(_AntTaskEnv):
    """Ant walking to a goal position; ``task``: the goal, float64 ``[2]``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("terminate_when_unhealthy", False)
        super().__init__(**kwargs)
        self._goal = np.zeros(2)

    def sample_tasks(self, n: int, seed: int) -> list:
        rng = np.random.default_rng(seed)
        angles = rng.uniform(0.0, 2 * np.pi, size=n)
        radii = 3.0 * np.sqrt(rng.uniform(0.0, 1.0, size=n))
        return list(radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1))

    def set_task(self, task) -> None:
        self._goal = np.array(task, dtype=np.float64).reshape(2)

    def _task_reward(self, info) -> float:
        return -float(np.abs(np.array([info["x_position"], info["y_position"]]) - self._goal).sum())


class HumanoidDirEnv(HumanoidEnv):
    """Humanoid-v5 running in direction ``theta``; ``task``: the angle (float, radians)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._direction = _direction(0.0)

    def sample_tasks(self, n: int, seed: int) -> list:
        rng = np.random.default_rng(seed)
        return [float(t) for t in rng.uniform(0.0, 2 * np.pi, size=n)]

    def set_task(self, task) -> None:
        self._direction = _direction(float(task))

    def step(self, action):
        obs, _reward, terminated, truncated, info = super().step(action)
        velocity = np.array([info["x_velocity"], info["y_velocity"]])
        reward = (
            self._forward_reward_weight * float(velocity @ self._direction)
            + info["reward_survive"]
            + info["reward_ctrl"]
            + info["reward_contact"]
        )
        return obs, reward, terminated, truncated, info
