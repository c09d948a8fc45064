"""Per-task transition storage for meta-RL (PEARL): one :class:`TaskReplay` per training task.

A :class:`TaskReplay` is a FIFO ring of whole :data:`Transition` records (leading dim
``[N]``), sampled uniformly with a caller's ``numpy.random.Generator``. It grows its
arrays as data arrive (doubling, up to ``capacity``), so a hundred tasks with a large
nominal capacity cost only the memory of what they hold. ``clear()`` empties it (PEARL's
encoder replays hold only the latest prior/posterior data of their task).

Each transition carries its own ``next_observation`` -- at a time-limit cut the cut
episode's last observation, never the next episode's first -- and ``terminal``, true
only for a real termination: targets bootstrap through time-limit truncation.
"""

import numpy as np

from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.validation import require_int_at_least

__all__ = ["Transition", "TaskReplay"]

Transition = namedarraytuple(
    "Transition",
    ["observation", "action", "reward", "sparse_reward", "next_observation", "terminal"],
)
"""One step of one task: ``action`` env-scale; ``sparse_reward`` the env's
``env_info.sparse_reward`` (equal to ``reward`` for envs without one); ``terminal``
a termination (not a time-limit cut)."""


class TaskReplay:
    """A growable uniform FIFO replay of :data:`Transition` for one task.

    Args:
        example: a :data:`Transition` of one step (fixes shapes and dtypes).
        capacity: transitions kept; the oldest are overwritten beyond it.
    """

    def __init__(self, example, capacity: int):
        self.capacity = require_int_at_least("capacity", capacity, 1)
        self._example = Transition(*(np.asarray(x) for x in example))
        self._arrays = None
        self._size = 0  # valid transitions
        self._cursor = 0  # next write position (once full: the oldest)

    def __len__(self) -> int:
        return self._size

    def _allocated(self) -> int:
        return 0 if self._arrays is None else len(self._arrays.reward)

    def _grow(self, needed: int) -> None:
        size = min(self.capacity, max(needed, 2 * self._allocated(), 64))
        arrays = Transition(*(np.zeros((size, *x.shape), dtype=x.dtype) for x in self._example))
        if self._arrays is not None:
            # Only grown before the ring wraps (the allocation is below capacity), so
            # the data sit in [0, size) in order.
            arrays[: self._size] = self._arrays[: self._size]
        self._arrays = arrays

    def append(self, transitions) -> None:
        """Add ``[N]`` transitions (a :data:`Transition` of arrays), oldest first."""
        n = len(transitions.reward)
        if n == 0:
            return
        if n > self.capacity:  # only the newest capacity ones would survive
            transitions = transitions[n - self.capacity :]
            n = self.capacity
        if self._allocated() < self.capacity and self._size + n > self._allocated():
            self._grow(self._size + n)
            self._cursor = self._size  # not wrapped yet: the next free slot
        idx = (self._cursor + np.arange(n)) % self._allocated()
        self._arrays[idx] = transitions
        self._cursor = int((self._cursor + n) % self._allocated())
        self._size = min(self._size + n, self._allocated())

    def clear(self) -> None:
        self._size = 0
        self._cursor = 0

    def sample(self, n: int, rng: np.random.Generator):
        """``n`` transitions drawn uniformly with replacement with ``rng`` (numpy arrays)."""
        if self._size == 0:
            raise ValueError("TaskReplay.sample: the replay holds no transitions")
        return self._arrays[rng.integers(0, self._size, size=n)]

    def all(self):
        """Every held transition (a copy; order within a wrapped ring not preserved)."""
        if self._arrays is None:
            return Transition(*(np.zeros((0, *x.shape), x.dtype) for x in self._example))
        return Transition(*(np.array(x[: self._size]) for x in self._arrays))

    def state_dict(self) -> dict:
        arrays = (
            None if self._arrays is None else Transition(*(x[: self._size] for x in self._arrays))
        )
        return dict(
            arrays=None
            if arrays is None
            else {k: np.array(v) for k, v in arrays._asdict().items()},
            allocated=self._allocated(),
            size=self._size,
            cursor=self._cursor,
        )

    def load_state_dict(self, state: dict) -> None:
        self._arrays = None
        self._size = self._cursor = 0
        if state["arrays"] is not None:
            self._arrays = Transition(
                *(np.zeros((state["allocated"], *x.shape), dtype=x.dtype) for x in self._example)
            )
            held = Transition(**state["arrays"])
            self._arrays[: state["size"]] = held
        self._size = state["size"]
        self._cursor = state["cursor"]
