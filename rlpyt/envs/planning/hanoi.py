"""Tower of Hanoi: move a stack of ``n_disks`` disks from the first peg to the last."""

import numpy as np
from gymnasium import spaces

from rlpyt.envs.planning.base import PlanningEnv, one_hot

__all__ = ["Hanoi"]

MOVES = ((0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1))
"""Action ``a`` moves the top disk of peg ``MOVES[a][0]`` onto peg ``MOVES[a][1]``."""


class Hanoi(PlanningEnv):
    """Tower of Hanoi with three pegs.

    The state is the peg of each disk, smallest disk first; the observation is
    its one-hot encoding, ``n_disks * 3`` floats. All disks start on peg 0; the
    episode terminates, solved, when all are on peg 2 (``2**n_disks - 1`` moves
    at best). A move is invalid when the source peg is empty or its top disk is
    larger than the target peg's: the state does not change and the reward is
    ``reward_for_invalid_action`` (0 by default; negative to penalize).

    Args:
        n_disks: number of disks (at least 1).
        reward_for_solved: reward of the move that solves the puzzle.
        reward_for_invalid_action: reward of an invalid move.
    """

    def __init__(
        self,
        *,
        n_disks: int = 4,
        reward_for_solved: float = 1.0,
        reward_for_invalid_action: float = 0.0,
        render_mode: str | None = None,
    ):
        if not isinstance(n_disks, int) or n_disks < 1:
            raise ValueError(f"Hanoi: n_disks must be an int >= 1, got {n_disks!r}")
        self._check_render_mode(render_mode)
        self.n_disks = n_disks
        self.reward_for_solved = float(reward_for_solved)
        self.reward_for_invalid_action = float(reward_for_invalid_action)
        self.action_space = spaces.Discrete(len(MOVES))
        self.observation_space = spaces.Box(0.0, 1.0, (3 * n_disks,), dtype=np.float32)
        self._goal = (2,) * n_disks
        self._pegs = (0,) * n_disks  # peg of each disk, smallest first

    def reset(self, *, seed=None, options=None):
        """Start an episode: ``(observation, {"solved": False})``."""
        super().reset(seed=seed)
        self._pegs = (0,) * self.n_disks
        return self._observation(), {"solved": False}

    def step(self, action):
        """``(observation, reward, terminated, truncated, {"solved": bool})``."""
        source, target = MOVES[int(action)]
        pegs = self._pegs
        # The top disk of a peg is its smallest: the first disk found on it.
        top_source = next((d for d, p in enumerate(pegs) if p == source), None)
        top_target = next((d for d, p in enumerate(pegs) if p == target), self.n_disks)
        if top_source is None or top_source > top_target:
            reward, solved = self.reward_for_invalid_action, False
        else:
            self._pegs = pegs[:top_source] + (target,) + pegs[top_source + 1 :]
            solved = self._pegs == self._goal
            reward = self.reward_for_solved if solved else 0.0
        return self._observation(), reward, solved, False, {"solved": solved}

    def _observation(self) -> np.ndarray:
        return one_hot(self._pegs, 3)

    def clone_state(self) -> tuple[int, ...]:
        """The peg of each disk, smallest first."""
        return self._pegs

    def restore_state(self, state) -> None:
        self._pegs = tuple(int(p) for p in state)

    def render(self) -> str:
        rows = []
        for peg in range(3):
            disks = [d + 1 for d in reversed(range(self.n_disks)) if self._pegs[d] == peg]
            rows.append(f"{peg}| " + " ".join(map(str, disks)))
        return "\n".join(rows)
