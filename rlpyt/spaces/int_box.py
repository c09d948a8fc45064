"""Integer boxes: discrete actions, images, multi-discrete choices."""

import numpy as np

from rlpyt.spaces.box import Box


class IntBox(Box):
    """Integers in ``[low, high)`` (high exclusive, as in the original rlpyt).

    ``low``/``high`` are scalars or arrays broadcast to ``shape``. ``n`` is the
    number of values per element (``high - low``) when it is the same for all.
    """

    def __init__(self, low, high, shape=None, dtype="int64", null_value=None):
        if not np.issubdtype(np.dtype(dtype), np.integer) and np.dtype(dtype) != np.bool_:
            raise TypeError(f"IntBox needs an integer dtype, got {dtype}")
        # Bounds in int64: high is exclusive, so a uint8 image box has high = 256.
        super().__init__(low, high, shape, dtype, null_value, bound_dtype=np.int64)
        if np.any(self.high <= self.low):
            raise ValueError("IntBox is empty: high must exceed low (high is exclusive)")
        if null_value is None:
            self.set_null_value(self.low.flat[0] if self.low.size else 0)

    def sample(self) -> np.ndarray:
        draw = self._rng.integers(self.low, self.high, size=self._shape)
        return np.asarray(draw, dtype=self._dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return (
            x.shape == self._shape
            and np.issubdtype(x.dtype, np.integer)
            and bool(np.all((x >= self.low) & (x < self.high)))
        )

    @property
    def n(self) -> int:
        n = np.unique(self.high - self.low)
        if n.size != 1:
            raise AttributeError("IntBox.n: elements have different numbers of values")
        return int(n[0])
