"""Continuous boxes."""

import numpy as np

from rlpyt.spaces.box import Box


class FloatBox(Box):
    """Floats in ``[low, high]``; bounds may be infinite (then sampling is normal)."""

    def __init__(self, low, high, shape=None, dtype="float32", null_value=0.0):
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(f"FloatBox needs a floating dtype, got {dtype}")
        super().__init__(low, high, shape, dtype, null_value)

    def sample(self) -> np.ndarray:
        low, high = self.low.astype(np.float64), self.high.astype(np.float64)
        bounded = np.isfinite(low) & np.isfinite(high)
        out = self._rng.standard_normal(self._shape)
        if np.any(bounded):
            uniform = self._rng.uniform(np.where(bounded, low, 0), np.where(bounded, high, 1))
            out = np.where(bounded, uniform, out)
        # Half-bounded elements: exponential away from the finite bound.
        lower_only = np.isfinite(low) & ~np.isfinite(high)
        upper_only = ~np.isfinite(low) & np.isfinite(high)
        if np.any(lower_only | upper_only):
            expo = self._rng.exponential(size=self._shape)
            out = np.where(lower_only, low + expo, out)
            out = np.where(upper_only, high - expo, out)
        return np.asarray(out, dtype=self._dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == self._shape and bool(np.all((x >= self.low) & (x <= self.high)))
