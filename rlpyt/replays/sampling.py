"""Sampling strategies: which units a replay batch draws.

A strategy draws flat unit indices ``row * B + b`` among the units that are
sampleable now (:class:`~rlpyt.replays.units.SampleableUnits`).

* :class:`UniformStrategy`: uniform with replacement, by rejection: draw among
  the rows written so far, keep the sampleable draws, draw again for the rest.
  Each kept draw is exactly uniform over the sampleable units.
* :class:`PrioritizedStrategy`: proportional prioritization (Schaul et al. 2016):
  ``P(i) = p_i^alpha / sum_k p_k^alpha`` from a :class:`~rlpyt.replays.sum_tree.SumTree`
  (stratified), with importance weights ``(N * P(i))^-beta`` normalised by the
  batch maximum. New units enter at the running maximum priority (``default_priority``
  until a larger one is seen), or at the priorities given with the samples
  (``input_priorities=True``).
"""

from typing import TypedDict

import numpy as np

from rlpyt.replays.sum_tree import SumTree, check_priorities
from rlpyt.utils.validation import require_non_negative, require_positive

__all__ = ["UniformStrategy", "PrioritizedStrategy", "Prioritization"]

_MAX_REJECTION_ROUNDS = 16


def _as_float64(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, possibly on a GPU
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


class UniformStrategy:
    """Uniform sampling with replacement over the sampleable units."""

    prioritized = False

    def __init__(self):
        self.rng = None

    def planned_nbytes(self, n_units: int) -> int:
        return 0

    def initialize(self, *, rows: int, B: int, rng: np.random.Generator) -> None:
        self.rng = rng

    def allocate(self) -> None:
        pass

    def check_input_priorities(self, priorities, n_rows: int) -> None:
        if priorities is not None:
            raise ValueError(
                "append_samples got priorities, but this replay samples uniformly: use a "
                "prioritized buffer with input_priorities=True"
            )

    def add_units(self, idxs: np.ndarray, priorities=None) -> None:
        pass

    def set_sampleable(self, idxs: np.ndarray, ok: np.ndarray) -> None:
        pass

    def sample(self, n: int, units, storage):
        """``(flat unit indices [n], None)``."""
        n_candidates = units.n_candidate_rows(storage) * units.B
        out = None
        for _ in range(_MAX_REJECTION_ROUNDS):
            draw = self.rng.integers(0, n_candidates, size=n if out is None else n - out.size)
            kept = draw[units.ok[draw]]
            out = kept if out is None else np.concatenate([out, kept])
            if out.size == n:
                return out, None
        # Mostly padding: draw the rest from the explicit list of sampleable units.
        sampleable = np.flatnonzero(units.ok[:n_candidates])
        rest = sampleable[self.rng.integers(0, sampleable.size, size=n - out.size)]
        return np.concatenate([out, rest]), None

    def update_batch_priorities(self, priorities) -> None:
        raise TypeError(
            "update_batch_priorities needs a prioritized replay: this buffer samples uniformly"
        )

    def set_beta(self, beta: float) -> None:
        raise TypeError("set_beta needs a prioritized replay: this buffer samples uniformly")

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Prioritization(TypedDict, total=False):
    """The keywords of :class:`PrioritizedStrategy`, which a prioritized buffer forwards
    (the original rlpyt buffers took them flat: ``PrioritizedReplayBuffer(..., alpha=0.6)``)."""

    alpha: float
    beta: float
    default_priority: float
    unique: bool
    input_priorities: bool
    input_priority_shift: int


class PrioritizedStrategy:
    """Proportional prioritized sampling (see the module docstring).

    Args:
        alpha: priority exponent (0: uniform).
        beta: importance-weight exponent; the algorithm anneals it with :meth:`set_beta`.
        default_priority: priority of new units before any update.
        unique: no unit twice in one batch.
        input_priorities: new units come with priorities (``append_samples(...,
            priorities=...)``) instead of the running maximum.
        input_priority_shift: input priorities of unit row ``r`` are applied to row
            ``r - input_priority_shift`` (for priorities computed later than the
            start they belong to, as in the original R2D1).
    """

    prioritized = True

    def __init__(
        self,
        *,
        alpha: float = 0.6,
        beta: float = 0.4,
        default_priority: float = 1.0,
        unique: bool = False,
        input_priorities: bool = False,
        input_priority_shift: int = 0,
    ):
        require_non_negative("alpha", alpha)
        require_non_negative("beta", beta)
        require_positive("default_priority", default_priority)
        require_non_negative("input_priority_shift", input_priority_shift)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.default_priority = float(default_priority)
        self.unique = bool(unique)
        self.input_priorities = bool(input_priorities)
        self.input_priority_shift = int(input_priority_shift)
        self.max_priority = self.default_priority
        self.rows = self.B = None  # the unit grid, from initialize()
        self.tree = None
        self.rng = None
        self.last_idxs = None

    def planned_nbytes(self, n_units: int) -> int:
        return SumTree.planned_nbytes(n_units)

    def initialize(self, *, rows: int, B: int, rng: np.random.Generator) -> None:
        self.rows, self.B = rows, B
        self.tree = SumTree(T=rows, B=B)
        self.rng = rng

    def allocate(self) -> None:
        self.tree.allocate()

    def set_beta(self, beta: float) -> None:
        """Set the importance-weight exponent (the algorithm's schedule, each iteration)."""
        require_non_negative("beta", beta)
        self.beta = float(beta)

    def check_input_priorities(self, priorities, n_rows: int) -> np.ndarray | None:
        """The priorities of an append's ``n_rows`` new unit rows, checked, as float64."""
        if (priorities is None) == self.input_priorities:
            raise ValueError(
                f"this replay was built with input_priorities={self.input_priorities}: call "
                + (
                    "append_samples(samples, priorities=...)"
                    if self.input_priorities
                    else "append_samples(samples) without priorities"
                )
            )
        if priorities is None:
            return None
        priorities = _as_float64(priorities)
        if priorities.shape != (n_rows, self.B):
            raise ValueError(
                f"append_samples: priorities have shape {priorities.shape}, expected "
                f"({n_rows}, {self.B}): one per new unit row (sequence start) and env"
            )
        return check_priorities(priorities, "append_samples(priorities=...)")

    def add_units(self, idxs: np.ndarray, priorities: np.ndarray | None = None) -> None:
        """New data at units ``idxs`` (flat, row-major ``[rows, B]``); ``priorities``
        ``[rows, B]`` from :meth:`check_input_priorities`."""
        # New units start at the running maximum; input priorities (possibly shifted
        # to earlier rows) then overwrite the units they belong to.
        self.tree.update(idxs, self.max_priority**self.alpha)
        if priorities is None:
            return
        rows = idxs[:: self.B] // self.B
        rows = (rows - self.input_priority_shift) % self.rows
        shifted = (rows[:, None] * self.B + np.arange(self.B)).reshape(-1)
        self.tree.update(shifted, priorities.reshape(-1) ** self.alpha)

    def set_sampleable(self, idxs: np.ndarray, ok: np.ndarray) -> None:
        self.tree.set_active(idxs, ok)

    def sample(self, n: int, units, storage):
        """``(flat unit indices [n], importance weights [n] float32)``."""
        idxs = self.tree.sample(n, self.rng)
        if self.unique:
            idxs = self._fill_unique(idxs, n)
        probabilities = self.tree.mass(idxs) / self.tree.total
        weights = (units.n_ok * probabilities) ** -self.beta
        weights /= weights.max()
        self.last_idxs = idxs
        return idxs, weights.astype(np.float32)

    def _fill_unique(self, idxs: np.ndarray, n: int) -> np.ndarray:
        """Replace duplicates by draws among the units not drawn yet."""
        idxs = np.unique(idxs)
        while idxs.size < n:
            self.tree.set_active(idxs, False)  # held out while drawing the rest
            try:
                more = self.tree.sample(n - idxs.size, self.rng)
            finally:
                self.tree.set_active(idxs, True)
            idxs = np.unique(np.concatenate([idxs, more]))
        return self.rng.permutation(idxs)

    def update_batch_priorities(self, priorities) -> None:
        """New priorities (e.g. ``abs(TD error)``) ``[batch_B]`` for the last sampled batch."""
        if self.last_idxs is None:
            raise RuntimeError("update_batch_priorities before any sample_batch")
        priorities = _as_float64(priorities).reshape(-1)
        if priorities.shape != self.last_idxs.shape:
            raise ValueError(
                f"update_batch_priorities: got {priorities.size} priorities for a batch of "
                f"{self.last_idxs.size}"
            )
        check_priorities(priorities, "update_batch_priorities (batch position: value)")
        if priorities.size:
            self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.update(self.last_idxs, priorities**self.alpha)

    def state_dict(self) -> dict:
        return dict(
            tree=self.tree.state_dict(),
            max_priority=self.max_priority,
            beta=self.beta,
            last_idxs=self.last_idxs,
        )

    def load_state_dict(self, state: dict) -> None:
        self.tree.load_state_dict(state["tree"])
        self.max_priority = float(state["max_priority"])
        self.beta = float(state["beta"])
        self.last_idxs = state["last_idxs"]
