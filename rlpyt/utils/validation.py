"""Hyperparameter checks used at construction time.

Each helper raises ``ValueError`` with a message that names the parameter and
the offending value (``"learning_rate must be > 0, got -0.001"``), so a bad
config fails at once, where it is written, instead of as a NaN hours later.
"""

import math
from numbers import Integral, Real

__all__ = [
    "require_positive",
    "require_non_negative",
    "require_in_range",
    "require_int_at_least",
]


def _require_real(name: str, value) -> float:
    # bool is an Integral; True as a learning rate is almost surely a typo.
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan")
    return value


def require_positive(name: str, value) -> None:
    """``value > 0``."""
    _require_real(name, value)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def require_non_negative(name: str, value) -> None:
    """``value >= 0``."""
    _require_real(name, value)
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def require_in_range(
    name: str,
    value,
    low,
    high,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """``low <= value <= high`` (each bound inclusive unless told otherwise)."""
    _require_real(name, value)
    above = value >= low if low_inclusive else value > low
    below = value <= high if high_inclusive else value < high
    if not (above and below):
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}")


def require_int_at_least(name: str, value, minimum: int) -> int:
    """``value`` as a Python ``int >= minimum`` (e.g. ``minimum=1`` for counts).

    Integral floats are accepted and converted, as the original rlpyt's configs write counts
    that way (``replay_size=1e6``, ``eval_max_steps=70e3``); so are numpy integers and
    integral numpy floats. ``bool``, non-integral numbers (``1.5``), nan and infinities are
    refused.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if not isinstance(value, Integral):
        if not math.isfinite(value) or value != math.floor(value):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    count = int(value)
    if count < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return count
