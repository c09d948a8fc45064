"""2-D point-robot navigation (PEARL's toy domain), dense and sparse.

The robot starts at the origin; an action ``a`` in ``[-0.1, 0.1]^2`` (clipped to
it) moves it to ``s + a``; the observation is the position ``s`` (float32). The task
is a goal ``g`` the robot does not observe.

* :class:`PointRobotEnv`: goals uniform in ``[-1, 1]^2``; reward ``-||s' - g||``.
* :class:`SparsePointRobotEnv`: goals on the upper unit half-circle
  ``(cos t, sin t)``, ``t ~ U[0, pi]``; the step reward is the dense one and
  ``info["sparse_reward"] = 1 - ||s' - g||`` inside ``goal_radius`` (0.2), else 0 --
  the reward the task really gives, which PEARL puts in the context
  (``PEARL(sparse_rewards=True)``, as in the paper's code).

Neither terminates: episodes end at the horizon (a truncation, see
:class:`~rlpyt.envs.meta.base.MetaEnv`).
"""

import gymnasium
import numpy as np

__all__ = ["PointRobotEnv", "SparsePointRobotEnv"]


class PointRobotEnv(gymnasium.Env):
    """Dense point robot (module docstring); ``task``: the goal, float64 ``[2]``."""

    max_action = 0.1

    def __init__(self):
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gymnasium.spaces.Box(
            -self.max_action, self.max_action, (2,), np.float32
        )
        self._state = np.zeros(2)
        self._goal = np.zeros(2)

    def sample_tasks(self, n: int, seed: int) -> list:
        rng = np.random.default_rng(seed)
        return list(rng.uniform(-1.0, 1.0, size=(n, 2)))

    def set_task(self, task) -> None:
        self._goal = np.array(task, dtype=np.float64).reshape(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._state = np.zeros(2)
        return self._state.astype(np.float32), {}

    def _distance(self) -> float:
        return float(np.linalg.norm(self._state - self._goal))

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64), -self.max_action, self.max_action)
        self._state = self._state + action
        reward = -self._distance()
        return self._state.astype(np.float32), reward, False, False, self._info(reward)

    def _info(self, reward: float) -> dict:
        return {}


class SparsePointRobotEnv(PointRobotEnv):
    """Sparse point robot (module docstring); ``task``: the goal on the half-circle."""

    def __init__(self, goal_radius: float = 0.2):
        super().__init__()
        self.goal_radius = float(goal_radius)

    def sample_tasks(self, n: int, seed: int) -> list:
        rng = np.random.default_rng(seed)
        angles = rng.uniform(0.0, np.pi, size=n)
        return list(np.stack([np.cos(angles), np.sin(angles)], axis=1))

    def _info(self, reward: float) -> dict:
        distance = -reward
        sparse = 1.0 - distance if distance <= self.goal_radius else 0.0
        return {"sparse_reward": sparse}
