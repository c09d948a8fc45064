"""What IntBox and FloatBox share: bounds broadcast to a shape, and a dtype."""

import numpy as np

from rlpyt.spaces.base import Space


class Box(Space):
    """A box of values ``low <= x < high`` (IntBox) or ``low <= x <= high`` (FloatBox)."""

    def __init__(self, low, high, shape, dtype, null_value, bound_dtype=None):
        super().__init__()
        self._dtype = np.dtype(dtype)
        low, high = np.asarray(low), np.asarray(high)
        if shape is None:
            shape = np.broadcast_shapes(low.shape, high.shape)
        self._shape = tuple(
            int(s) for s in (shape if isinstance(shape, tuple | list) else (shape,))
        )
        try:
            bound_dtype = self._dtype if bound_dtype is None else bound_dtype
            self.low = np.broadcast_to(low, self._shape).astype(bound_dtype)
            self.high = np.broadcast_to(high, self._shape).astype(bound_dtype)
        except ValueError:
            raise ValueError(
                f"{type(self).__name__}: low {low.shape} and high {high.shape} "
                f"do not broadcast to shape {self._shape}"
            ) from None
        if np.any(self.low > self.high):
            raise ValueError(f"{type(self).__name__}: low must not exceed high")
        if null_value is None:
            null_value = 0
        self.set_null_value(null_value)

    def set_null_value(self, null_value) -> None:
        """What :meth:`null_value` returns: ``null_value`` broadcast to the shape."""
        # Broadcast once: null_value() is called at every episode end.
        self._null_value = np.broadcast_to(
            np.asarray(null_value, dtype=self._dtype), self._shape
        ).copy()

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def null_value(self) -> np.ndarray:
        null = self._null_value
        if null.shape != self._shape:  # a space pickled before the value was broadcast
            null = np.broadcast_to(null, self._shape)
        return null.copy()

    def _bound_repr(self, bound: np.ndarray):
        return bound.flat[0] if bound.size and np.all(bound == bound.flat[0]) else bound

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(low={self._bound_repr(self.low)}, "
            f"high={self._bound_repr(self.high)}, shape={self._shape}, dtype={self._dtype})"
        )
