"""Prioritized transition replay: frequencies, importance weights, priority updates, F2."""

import numpy as np
import pytest
import torch
from replay_helpers import example, make_batch, ok_units

from rlpyt.replays.non_sequence.prioritized import PrioritizedReplayBuffer

REWARDS = [lambda g: 1.0, lambda g: 2.0]


def _replay(**kwargs):
    kwargs.setdefault("seed", 0)
    return PrioritizedReplayBuffer(example=example(), size=40, B=2, n_step_return=1, **kwargs)


def _steps(batch):
    """(step, env) of each sampled transition, from its observation."""
    obs = batch.agent_inputs.observation.numpy().astype(int)
    return list(zip(obs[:, 0], obs[:, 1]))


def test_frequencies_and_weights_follow_input_priorities():
    replay = _replay(alpha=0.5, beta=0.4, input_priorities=True)
    priorities = np.arange(1, 21, dtype=np.float64).reshape(10, 2) ** 2  # p(g, b) = (2g + b + 1)^2
    replay.append_samples(make_batch(0, 10, REWARDS), priorities=torch.from_numpy(priorities))
    # Step 9 waits for its bootstrap observation: held at 0, never drawn.
    mass = priorities[:9] ** 0.5  # alpha = 0.5: mass 2g + b + 1
    assert replay.strategy.tree.total == pytest.approx(mass.sum())
    counts = np.zeros((9, 2))
    for _ in range(400):
        batch = replay.sample_batch(16)
        steps = _steps(batch)
        for g, b in steps:
            counts[g, b] += 1
        # Importance weights: (N P(i))^-beta, normalised by the batch maximum.
        p = np.array([mass[g, b] for g, b in steps]) / mass.sum()
        w = (18 * p) ** -0.4
        np.testing.assert_allclose(batch.is_weights.numpy(), w / w.max(), rtol=1e-6)
    expected = 400 * 16 * mass / mass.sum()
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 40.8  # chi-square, 17 degrees of freedom, p = 0.001


def test_update_batch_priorities_and_new_units_at_the_running_max():
    replay = _replay(alpha=1.0, default_priority=1.0)
    replay.append_samples(make_batch(0, 10, REWARDS))
    batch = replay.sample_batch(4)
    steps = _steps(batch)
    replay.update_batch_priorities(torch.tensor([0.0, 0.5, 3.0, 0.25]))
    tree = replay.strategy.tree
    flat = [g * 2 + b for g, b in steps]
    # Duplicates in a batch: the last update of a unit wins (as numpy assignment does).
    expected = {}
    for f, p in zip(flat, [0.0, 0.5, 3.0, 0.25]):
        expected[f] = max(p, 1e-8 * 3.0)  # 0 is floored relative to the largest value
    for f, p in expected.items():
        assert tree.values[f] == pytest.approx(p)
    assert replay.strategy.max_priority == 3.0
    replay.append_samples(make_batch(10, 2, REWARDS))  # slots 10, 11: at the running max
    assert tree.values[[20, 21, 22, 23]].tolist() == [3.0] * 4
    # Slot 9 became sampleable (its bootstrap observation arrived), keeping the default 1.
    assert tree.mass([18, 19]).tolist() == [1.0, 1.0]
    assert tree.mass([20, 21]).tolist() == [3.0, 3.0]
    assert tree.mass([22, 23]).tolist() == [0.0, 0.0]  # slot 11 waits for its next observation


def test_tree_holds_exactly_the_sampleable_units():
    replay = _replay(alpha=0.7)
    for g0 in range(0, 60, 7):
        replay.append_samples(make_batch(g0, 7, REWARDS))
        tree = replay.strategy.tree
        ok = np.zeros(40, dtype=bool)
        ok[ok_units(replay)] = True
        assert np.all(tree.mass(np.arange(40))[~ok] == 0)
        assert np.all(tree.mass(np.arange(40))[ok] > 0)
        assert tree.total == pytest.approx(tree.values[ok].sum())


def test_bad_priorities_are_errors_naming_the_batch_positions():
    replay = _replay()
    replay.append_samples(make_batch(0, 10, REWARDS))
    replay.sample_batch(4)
    with pytest.raises(
        ValueError, match=r"2 priorities are NaN, inf or negative at 1: nan, 3: -1.0"
    ):
        replay.update_batch_priorities(np.array([1.0, np.nan, 2.0, -1.0]))
    with pytest.raises(ValueError, match=r"got 3 priorities for a batch of 4"):
        replay.update_batch_priorities(np.ones(3))
    replay.update_batch_priorities(np.ones(4))  # still usable after the errors
    assert np.isfinite(replay.strategy.tree.total)


def test_input_priorities_are_checked():
    replay = _replay(input_priorities=True)
    with pytest.raises(
        ValueError, match=r"input_priorities=True: call append_samples\(samples, priorities"
    ):
        replay.append_samples(make_batch(0, 4, REWARDS))
    with pytest.raises(ValueError, match=r"priorities have shape \(4, 1\), expected \(4, 2\)"):
        replay.append_samples(make_batch(0, 4, REWARDS), priorities=np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"1 priorities are NaN, inf or negative at 5: inf"):
        replay.append_samples(
            make_batch(0, 4, REWARDS),
            priorities=np.array([1, 1, 1, 1, 1, np.inf, 1, 1.0]).reshape(4, 2),
        )
    plain = _replay()
    with pytest.raises(ValueError, match="input_priorities=False: call append_samples"):
        plain.append_samples(make_batch(0, 4, REWARDS), priorities=np.ones((4, 2)))


def test_set_beta_and_unique_batches():
    replay = _replay(alpha=1.0, unique=True, input_priorities=True)
    priorities = np.ones((10, 2))
    priorities[0, 0] = 1000.0  # would fill most strata without unique
    replay.append_samples(make_batch(0, 10, REWARDS), priorities=priorities)
    replay.set_beta(0.0)
    batch = replay.sample_batch(12)
    assert len(set(_steps(batch))) == 12
    assert batch.is_weights.tolist() == [1.0] * 12  # beta 0: no correction
    with pytest.raises(ValueError, match="beta must be >= 0, got -0.1"):
        replay.set_beta(-0.1)
    with pytest.raises(ValueError, match="replay holds 18 valid transitions, need >= 19"):
        replay.sample_batch(19)
