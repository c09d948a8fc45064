"""Observation and action spaces: ``IntBox``, ``FloatBox``, ``Composite``."""

from rlpyt.spaces.base import Space
from rlpyt.spaces.composite import Composite
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox

__all__ = ["Space", "IntBox", "FloatBox", "Composite"]
