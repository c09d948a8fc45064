"""Counts: integral floats (the original rlpyt's ``1e4`` style) become ints; others are refused."""

import math

import numpy as np
import pytest

from rlpyt.utils.validation import require_int_at_least


@pytest.mark.parametrize(
    "value, expected",
    [(7, 7), (1e4, 10000), (50e6, 50_000_000), (np.int64(3), 3), (np.float32(8.0), 8)],
)
def test_counts_come_back_as_python_ints(value, expected):
    count = require_int_at_least("replay_size", value, 1)
    assert count == expected
    assert type(count) is int


@pytest.mark.parametrize(
    "value, message",
    [
        (1.5, "replay_size must be an integer, got 1.5"),
        (math.nan, "replay_size must be an integer, got nan"),
        (math.inf, "replay_size must be an integer, got inf"),
        (True, "replay_size must be an integer, got True (bool)"),
        ("1000", "replay_size must be an integer, got '1000' (str)"),
        (np.float64(2.5), "replay_size must be an integer, got"),
    ],
)
def test_non_integral_values_are_refused(value, message):
    with pytest.raises(TypeError) as info:
        require_int_at_least("replay_size", value, 1)
    assert str(info.value).startswith(message)


def test_the_minimum_holds_for_floats_too():
    with pytest.raises(ValueError, match=r"replay_size must be >= 1, got 0.0"):
        require_int_at_least("replay_size", 0.0, 1)
    assert require_int_at_least("eval_n_envs", 0.0, 0) == 0
