"""SumTree against a brute-force reference (hypothesis), stratified sampling, F2 faults."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlpyt.replays.sum_tree import SumTree


def _tree(T, B):
    tree = SumTree(T=T, B=B)
    tree.allocate()
    return tree


def _reference_find(masses: np.ndarray, u: float) -> int:
    """First leaf whose cumulative mass exceeds u."""
    return int(np.searchsorted(np.cumsum(masses), u, side="right"))


# Integer-valued priorities are exact in float64, so sums and searches compare exactly.
_ops = st.lists(
    st.tuples(
        st.sampled_from(["update", "activate", "deactivate"]),
        st.lists(st.integers(0, 29), min_size=1, max_size=8),
        st.integers(0, 50),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 10), B=st.integers(1, 3), ops=_ops)
def test_sum_tree_matches_brute_force(T, B, ops):
    n = T * B
    tree = _tree(T, B)
    values = np.zeros(n)
    active = np.zeros(n, dtype=bool)
    floor = 1e-8 * 50  # relative floor once a positive value was set (values here are <= 50)
    for op, idxs, value in ops:
        idxs = np.array([i % n for i in idxs])
        if op == "update":
            tree.update(idxs, float(value))
            values[idxs] = value
        else:
            tree.set_active(idxs, op == "activate")
            active[idxs] = op == "activate"
        masses = np.where(active, values, 0.0)
        # Zero values were floored to a tiny positive minimum: compare with tolerance.
        assert tree.total == pytest.approx(masses.sum(), abs=n * floor)
        np.testing.assert_allclose(tree.mass(np.arange(n)), masses, atol=floor)
        if masses.sum() > 0:
            # Probe the middle of each positive leaf's interval: the tree must find that leaf.
            cum = np.cumsum(masses)
            for leaf in np.flatnonzero(masses >= 1):
                u = cum[leaf] - masses[leaf] / 2
                assert tree.find([u])[0] == leaf == _reference_find(masses, u)


def test_find_at_and_past_the_total_lands_on_a_positive_leaf():
    tree = _tree(4, 2)
    tree.update(np.arange(8), 1.0)
    tree.set_active([0, 1, 2, 3], True)  # leaves 4..7 are held at 0
    assert tree.total == 4.0
    assert tree.find([0.0, 0.999, 1.0, 3.5, 4.0, 4.0 + 1e-9]).tolist() == [0, 0, 1, 3, 3, 3]


def test_inactive_leaf_keeps_its_value_and_is_restored():
    tree = _tree(3, 1)
    tree.update([0, 1, 2], [1.0, 2.0, 3.0])
    tree.set_active([0, 1, 2], True)
    tree.set_active([1], False)
    assert tree.total == 4.0 and tree.mass([1])[0] == 0.0 and tree.values[1] == 2.0
    tree.set_active([1], True)
    assert tree.total == 6.0 and tree.mass([1])[0] == 2.0


def test_zero_priority_is_floored_relative_to_the_largest():
    tree = _tree(2, 2)
    tree.set_active(np.arange(4), True)
    tree.update([0, 1], [100.0, 0.0])
    assert tree.mass([1])[0] == pytest.approx(1e-8 * 100.0)
    assert np.isfinite(tree.total) and tree.total == pytest.approx(100.0 + 1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0])
def test_bad_priorities_raise_naming_the_leaves(bad):
    tree = _tree(4, 1)
    tree.set_active(np.arange(4), True)
    tree.update([0, 1, 2, 3], 1.0)
    with pytest.raises(ValueError, match=r"1 priorities are NaN, inf or negative at 2: ") as err:
        tree.update([1, 2], [0.5, bad])
    assert repr(bad) in str(err.value)
    assert tree.total == 4.0  # nothing was written


def test_stratified_sampling_frequencies_follow_the_masses():
    tree = _tree(5, 2)
    masses = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    tree.update(np.arange(10), masses)
    tree.set_active(np.arange(10), True)
    tree.set_active([4], False)
    rng = np.random.default_rng(0)
    counts = np.bincount(np.concatenate([tree.sample(32, rng) for _ in range(1500)]), minlength=10)
    expected = np.where(np.arange(10) == 4, 0.0, masses) / 45.0 * 32 * 1500
    assert counts[4] == 0
    keep = expected > 0
    chi2 = (((counts - expected) ** 2)[keep] / expected[keep]).sum()
    assert chi2 < 27.9  # chi-square, 8 degrees of freedom, p = 0.0005


def test_state_dict_round_trip_rebuilds_the_same_tree():
    tree = _tree(6, 3)
    rng = np.random.default_rng(1)
    tree.update(np.arange(18), rng.random(18))
    tree.set_active(np.arange(0, 18, 2), True)
    other = _tree(6, 3)
    other.load_state_dict(tree.state_dict())
    np.testing.assert_array_equal(other._tree, tree._tree)  # bit-identical sums
    assert (
        other.sample(7, np.random.default_rng(5)).tolist()
        == tree.sample(7, np.random.default_rng(5)).tolist()
    )
