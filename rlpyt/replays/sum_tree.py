"""A float64 sum tree over ``[T, B]`` leaves, for prioritized sampling.

Leaf ``t * B + b`` holds the sampling mass of unit ``(t, b)`` (a transition, or a
sequence start). Internal node ``i`` holds the sum of its children ``2i`` and
``2i + 1``; the root (node 1) holds the total. Every parent is recomputed as the
sum of its two children (never updated by adding a delta), so no rounding error
accumulates however many updates happen: the tree stays a deterministic function
of its leaves.

Each leaf has a *value* (the priority, already raised to ``alpha`` by the caller)
and an *active* flag. An inactive leaf keeps its value but holds mass 0 in the
tree, so it is never sampled; activating it restores its value. The replay uses
this for units that must not be sampled for now (their n-step future is not
written yet, their history was overwritten, or they are padding).

Values are validated (FAULTS F2): NaN, inf or negative values raise ValueError
naming the offending leaves. Zero (and any positive value below the floor) is
raised to ``min_relative * (the largest value ever set)`` (``min_relative`` if no
positive value was set yet), so a unit whose TD error is exactly 0 can still be
sampled again and the total stays positive and finite.
"""

import numpy as np

from rlpyt.utils.validation import require_in_range, require_int_at_least

__all__ = ["SumTree", "check_priorities"]


def check_priorities(values: np.ndarray, what: str, labels=None) -> np.ndarray:
    """``values`` as float64, or ValueError naming the NaN / inf / negative entries.

    ``labels`` (same length) name the entries in the message (default: positions).
    """
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        where = np.flatnonzero(bad.reshape(-1))
        flat_labels = np.arange(values.size) if labels is None else np.asarray(labels).reshape(-1)
        flat_values = values.reshape(-1)
        shown = ", ".join(f"{flat_labels[i]}: {float(flat_values[i])!r}" for i in where[:10])
        more = f" (and {len(where) - 10} more)" if len(where) > 10 else ""
        raise ValueError(
            f"{what}: {len(where)} priorities are NaN, inf or negative at {shown}{more}; "
            "priorities must be finite and >= 0 (check the loss for NaN/inf)"
        )
    return values


class SumTree:
    """Sum tree over ``T * B`` leaves (flat index ``t * B + b``), vectorised with numpy.

    Args:
        T, B: the leaf grid ``[T, B]``.
        min_relative: floor of a value, relative to the largest value ever set.
    """

    def __init__(self, *, T: int, B: int, min_relative: float = 1e-8):
        T = require_int_at_least("T", T, 1)
        B = require_int_at_least("B", B, 1)
        require_in_range("min_relative", min_relative, 0, 1, low_inclusive=False)
        self.T, self.B = int(T), int(B)
        self.n_leaves = self.T * self.B
        self.depth = max(1, (self.n_leaves - 1).bit_length())
        self.capacity = 1 << self.depth  # leaves live at nodes capacity .. capacity + n - 1
        self.min_relative = float(min_relative)
        self._tree = None
        self._values = None
        self._active = None
        self._max_value = 0.0

    @staticmethod
    def planned_nbytes(n_leaves: int) -> int:
        """Bytes :meth:`allocate` will take for ``n_leaves`` leaves."""
        capacity = 1 << max(1, (n_leaves - 1).bit_length())
        return 2 * capacity * 8 + n_leaves * 8 + n_leaves

    def allocate(self) -> None:
        """Build the (all-zero, all-inactive) arrays."""
        self._tree = np.zeros(2 * self.capacity, dtype=np.float64)
        self._values = np.zeros(self.n_leaves, dtype=np.float64)
        self._active = np.zeros(self.n_leaves, dtype=bool)

    @property
    def nbytes(self) -> int:
        return self._tree.nbytes + self._values.nbytes + self._active.nbytes

    @property
    def total(self) -> float:
        """Sum of the active leaves' values."""
        return float(self._tree[1])

    @property
    def values(self) -> np.ndarray:
        """The leaves' values (active or not), ``[T * B]`` (read-only view)."""
        v = self._values.view()
        v.flags.writeable = False
        return v

    def mass(self, idxs) -> np.ndarray:
        """Sampling mass of leaves ``idxs``: the value if active, else 0."""
        return self._tree[self.capacity + np.asarray(idxs)]

    # -- updates ------------------------------------------------------------------

    def update(self, idxs, values) -> None:
        """Set the values of leaves ``idxs`` (validated, floored; see the module docstring)."""
        idxs = np.asarray(idxs, dtype=np.int64).reshape(-1)
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), idxs.shape)
        values = check_priorities(values, "SumTree.update (leaf: value)", labels=idxs).copy()
        if values.size:
            self._max_value = max(self._max_value, float(values.max()))
        floor = self.min_relative * (self._max_value if self._max_value > 0 else 1.0)
        np.maximum(values, floor, out=values)
        self._values[idxs] = values
        self._set_leaves(idxs)

    def set_active(self, idxs, active) -> None:
        """Make leaves ``idxs`` sampleable (True) or hold them at mass 0 (False)."""
        idxs = np.asarray(idxs, dtype=np.int64).reshape(-1)
        self._active[idxs] = active
        self._set_leaves(idxs)

    def _set_leaves(self, idxs: np.ndarray) -> None:
        if idxs.size == 0:
            return
        tree = self._tree
        tree[self.capacity + idxs] = np.where(self._active[idxs], self._values[idxs], 0.0)
        nodes = (self.capacity + idxs) >> 1
        # One level per pass, from the leaves' parents up to the root. Repeated nodes
        # are written twice with the same sum: cheaper than deduplicating each level.
        for _ in range(self.depth):
            tree[nodes] = tree[2 * nodes] + tree[2 * nodes + 1]
            nodes >>= 1

    def rebuild(self) -> None:
        """Recompute every node from the leaves (after loading values and flags)."""
        tree, cap = self._tree, self.capacity
        tree[:] = 0.0
        tree[cap : cap + self.n_leaves] = np.where(self._active, self._values, 0.0)
        lo = cap
        while lo > 1:
            tree[lo // 2 : lo] = tree[lo : 2 * lo : 2] + tree[lo + 1 : 2 * lo : 2]
            lo //= 2

    # -- sampling -----------------------------------------------------------------

    def find(self, u) -> np.ndarray:
        """Leaf indices whose prefix-sum interval holds each ``u`` in ``[0, total)``.

        Leaf ``i`` is found for ``cumsum[i-1] <= u < cumsum[i]``. The descent only
        enters subtrees of positive mass, so a ``u`` at or past the total (rounding)
        lands on the last positive leaf, never on a zero-mass one.
        """
        u = np.array(u, dtype=np.float64, copy=True).reshape(-1)
        tree = self._tree
        node = np.ones(u.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * node
            left_mass = tree[left]
            go_right = (u >= left_mass) & (tree[left + 1] > 0)
            u -= np.where(go_right, left_mass, 0.0)
            node = left + go_right
        return node - self.capacity

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` leaves by stratified sampling: one uniform draw in each of ``n`` equal
        slices of ``[0, total)``, so the batch covers the distribution evenly."""
        total = self.total
        if not total > 0:
            raise ValueError("SumTree.sample: no active leaf has positive mass (total is 0)")
        u = (np.arange(n) + rng.random(n)) * (total / n)
        return self.find(u)

    # -- saving -------------------------------------------------------------------

    def state_dict(self) -> dict:
        return dict(values=self._values, active=self._active, max_value=self._max_value)

    def load_state_dict(self, state: dict) -> None:
        for name in ("values", "active"):
            arr = np.asarray(state[name])
            if arr.shape != (self.n_leaves,):
                raise ValueError(
                    f"SumTree.load_state_dict: {name} has shape {arr.shape}, this tree has "
                    f"{self.n_leaves} leaves ([T, B] = [{self.T}, {self.B}])"
                )
        np.copyto(self._values, state["values"])
        np.copyto(self._active, state["active"])
        self._max_value = float(state["max_value"])
        self.rebuild()
