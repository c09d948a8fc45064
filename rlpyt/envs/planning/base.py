"""The base class of the planning envs: a gymnasium env with clone/restore.

Every planning env

* follows the gymnasium API and observes a flat float32 vector (one-hot
  encodings), ready for an MLP;
* reports ``info["solved"]`` (a bool) at every reset and step, so
  :class:`~rlpyt.envs.gym.GymEnvWrapper` gives a fixed ``env_info.solved`` field;
* implements :class:`~rlpyt.envs.model.ModelEnv`: ``clone_state()`` returns a
  hashable, picklable tuple (a planner can key a transposition table on it) and
  ``restore_state(state)`` makes the next steps bit-identical. Stepping is
  deterministic given the state, so the state leaves out the env's random
  generator, which only draws the start of new episodes (Sokoban rooms,
  BitFlipper goals).
"""

from collections.abc import Hashable

import gymnasium
import numpy as np

__all__ = ["PlanningEnv", "one_hot"]


class PlanningEnv(gymnasium.Env):
    """A deterministic gymnasium env with hashable states (see the module docstring)."""

    metadata = {"render_modes": ["ansi"]}

    def clone_state(self) -> Hashable:
        raise NotImplementedError

    def restore_state(self, state) -> None:
        raise NotImplementedError

    def _check_render_mode(self, render_mode) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(
                f"{type(self).__name__}: render_mode {render_mode!r} is not supported "
                "(None or 'ansi')"
            )
        self.render_mode = render_mode


def one_hot(index, size: int) -> np.ndarray:
    """A float32 one-hot vector (``index`` may be a sequence or array: one row per entry,
    flattened).

    Written with a Python loop: observations are built at every model step of a search,
    and for the few entries of a planning env's state this is several times faster than
    numpy's fancy indexing (whose conversions of a tuple dominate).
    """
    if isinstance(index, (tuple, list)):
        indices = index
    else:
        indices = np.ravel(index).tolist()
    out = np.zeros(len(indices) * size, dtype=np.float32)
    for row, i in enumerate(indices):
        if not 0 <= i < size:
            raise IndexError(f"one_hot: index {i} out of range for size {size}")
        out[row * size + i] = 1.0
    return out
