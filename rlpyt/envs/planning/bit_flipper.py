"""BitFlipper (Andrychowicz et al. 2017, Hindsight Experience Replay): flip bits to reach a goal."""

import numpy as np
from gymnasium import spaces

from rlpyt.envs.planning.base import PlanningEnv

__all__ = ["BitFlipper"]


class BitFlipper(PlanningEnv):
    """Goal-conditioned bit flipping.

    A state is ``n_bits`` bits and a goal of ``n_bits`` bits, both drawn from
    the env's generator at reset (distinct, so no episode starts solved).
    Action ``i`` flips bit ``i``. The observation is ``concat(bits, goal)``,
    ``2 * n_bits`` floats. The reward is -1 per step, 0 for the step that
    reaches the goal (HER's convention), which terminates the episode, solved;
    ``max_steps`` steps (default ``n_bits``, enough for a perfect policy)
    truncate it.

    :meth:`compute_reward` recomputes rewards for relabelled goals (HER).
    """

    def __init__(
        self, *, n_bits: int = 8, max_steps: int | None = None, render_mode: str | None = None
    ):
        if not isinstance(n_bits, int) or n_bits < 1:
            raise ValueError(f"BitFlipper: n_bits must be an int >= 1, got {n_bits!r}")
        max_steps = n_bits if max_steps is None else max_steps
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"BitFlipper: max_steps must be an int >= 1, got {max_steps!r}")
        self._check_render_mode(render_mode)
        self.n_bits = n_bits
        self.max_steps = max_steps
        self.action_space = spaces.Discrete(n_bits)
        self.observation_space = spaces.Box(0.0, 1.0, (2 * n_bits,), dtype=np.float32)
        self._bits = np.zeros(n_bits, dtype=np.uint8)
        self._goal = np.ones(n_bits, dtype=np.uint8)
        self._steps = 0

    def reset(self, *, seed=None, options=None):
        """Start an episode: ``(observation, {"solved": False})``."""
        super().reset(seed=seed)
        self._bits = self.np_random.integers(0, 2, self.n_bits, dtype=np.uint8)
        goal = self.np_random.integers(0, 2, self.n_bits, dtype=np.uint8)
        while np.array_equal(goal, self._bits):
            goal = self.np_random.integers(0, 2, self.n_bits, dtype=np.uint8)
        self._goal = goal
        self._steps = 0
        return self._observation(), {"solved": False}

    def step(self, action):
        """``(observation, reward, terminated, truncated, {"solved": bool})``."""
        self._bits[int(action)] ^= 1
        self._steps += 1
        solved = bool(np.array_equal(self._bits, self._goal))
        truncated = self._steps >= self.max_steps and not solved
        reward = 0.0 if solved else -1.0
        return self._observation(), reward, solved, truncated, {"solved": solved}

    def compute_reward(self, achieved_goal, desired_goal, info=None):
        """Rewards of bits ``achieved_goal`` for goals ``desired_goal`` (leading dims broadcast)."""
        return -np.any(np.asarray(achieved_goal) != np.asarray(desired_goal), axis=-1).astype(
            np.float32
        )

    def _observation(self) -> np.ndarray:
        return np.concatenate([self._bits, self._goal]).astype(np.float32)

    def clone_state(self) -> tuple[bytes, bytes, int]:
        """``(bits, goal, steps)`` (bits and goal as bytes, one per bit)."""
        return (self._bits.tobytes(), self._goal.tobytes(), self._steps)

    def restore_state(self, state) -> None:
        bits, goal, steps = state
        self._bits = np.frombuffer(bits, dtype=np.uint8).copy()
        self._goal = np.frombuffer(goal, dtype=np.uint8).copy()
        self._steps = int(steps)

    def render(self) -> str:
        return "".join(map(str, self._bits)) + " -> " + "".join(map(str, self._goal))
