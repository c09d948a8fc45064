"""Sequence replays: extraction against hand-computed values, stored RNN states, the
write cursor, padding, prioritized sequence starts and Atari frame sequences."""

import numpy as np
import pytest
from atari_helpers import Collector, frame_example
from replay_helpers import example, make_batch, ok_units

from rlpyt.models.utils import RnnState
from rlpyt.replays.sequence.frame import (
    PrioritizedSequenceReplayFrameBuffer,
    UniformSequenceReplayFrameBuffer,
)
from rlpyt.replays.sequence.prioritized import PrioritizedSequenceReplayBuffer
from rlpyt.replays.sequence.uniform import UniformSequenceReplayBuffer

REWARDS = [lambda g: g + 1, lambda g: 10 * (g + 1)]
DONES, TIMEOUTS = {(3, 0)}, {(5, 0)}  # env 0 terminates at 3, is cut at 5 (final [1005, 0])


def _replay(cls=UniformSequenceReplayBuffer, **kwargs):
    # T = 12 slots; sequences of L = 1 + 2 + 2 = 5 steps start at even slots.
    return cls(
        example=example(rnn=True),
        size=24,
        B=2,
        batch_T=2,
        warmup_T=1,
        n_step_return=2,
        rnn_state_interval=2,
        discount=0.5,
        seed=0,
        **kwargs,
    )


def _append(replay, g0, T, **kwargs):
    return replay.append_samples(make_batch(g0, T, REWARDS, DONES, TIMEOUTS, rnn=True), **kwargs)


def _column(batch, i):
    """Sequence i of a batch as plain lists."""
    return {name: value[:, i].tolist() for name, value in batch.items() if name != "init_rnn_state"}


def test_sequence_fields_across_termination_and_truncation():
    replay = _replay()
    _append(replay, 0, 8)
    # Cursor at 8: starts 0 and 2 have all 5 steps written (start 4 would need step 8).
    assert ok_units(replay).tolist() == [0, 1, 2, 3]
    batch = replay.extract_batch(np.array([1, 0, 1]), np.array([0, 0, 1]))
    start2_env0 = _column(batch, 0)
    assert start2_env0 == {
        "all_observation": [[g, 0] for g in (2, 3, 4, 5, 6)],
        "all_prev_action": [11, 21, 0, 41, 0],  # zeroed after the done at 3 and the cut at 5
        "all_prev_reward": [2, 3, 0, 5, 0],
        # The final observation of the cut at 5 stands right after it for the target network.
        "target_observation": [[g, 0] for g in (2, 3, 4, 5)] + [[1005, 0]],
        "action": [31, 41],  # trained steps 3 and 4
        "return_": [4, 5 + 0.5 * 6],
        "done": [True, False],
        "done_n": [True, False],
        "bootstrap_discount": [0.0, 0.25],
        "bootstrap_index": [2, 4],  # step 3 + 1 (not used: discount 0); step 4 + 2 -> final obs
        "valid": [True, True],
    }
    start0_env0 = _column(batch, 1)
    assert start0_env0["all_prev_action"] == [0, 1, 11, 21, 0]  # slot 0 follows a reset
    assert start0_env0["return_"] == [2 + 0.5 * 3, 3 + 0.5 * 4]
    assert start0_env0["done_n"] == [False, True]
    assert start0_env0["bootstrap_discount"] == [0.25, 0.0]
    assert start0_env0["bootstrap_index"] == [3, 4]
    assert _column(batch, 2)["target_observation"] == [[g, 1] for g in (2, 3, 4, 5, 6)]
    # Stored RNN states of the starts, batch-first [batch_B, 1, 3].
    assert batch.init_rnn_state.tolist() == [[[2, 0, 7]], [[0, 0, 7]], [[2, 1, 7]]]


def test_target_observation_is_the_same_tensor_without_a_cut():
    replay = _replay()
    replay.append_samples(make_batch(0, 8, REWARDS, rnn=True))
    batch = replay.sample_batch(3)
    assert batch.target_observation is batch.all_observation


def test_sequences_wrap_and_only_complete_ones_are_sampled():
    replay = _replay()
    for g0 in (0, 8, 16):  # 24 steps through 12 slots; state rows every 2 slots
        replay.append_samples(make_batch(g0, 8, REWARDS, rnn=True))
        t, full = replay.storage.t, replay.storage.full
        expected = set()
        for s in range(0, 12, 2):
            if full:
                age = (s - 1 - t) % 12  # the history slot's age: 0 is the oldest
                complete = age + 1 + 5 <= 12
            else:
                complete = s + 5 <= t
            expected |= {(s // 2, b) for b in (0, 1)} if complete else set()
        assert {divmod(int(i), 2) for i in ok_units(replay)} == expected
    # Now t = 0: start 10 holds steps 22, 23 and wraps into slots 0..2 (steps 12..14)? No:
    # slots 0..2 hold steps 12..14 and slot 10 step 22, so start 10 crosses the cursor.
    assert replay.storage.t == 0 and not replay.units.ok[[10, 11]].any()
    replay.append_samples(make_batch(24, 4, REWARDS, rnn=True))  # slots 0..3: steps 24..27
    batch = replay.extract_batch(np.array([5]), np.array([1]))  # start slot 10 = step 22
    assert batch.all_observation[:, 0, 0].tolist() == [22, 23, 24, 25, 26]
    assert batch.init_rnn_state.tolist() == [[[22, 1, 7]]]


def test_padding_steps_are_masked_and_all_padding_sequences_not_sampled():
    replay = _replay()
    valid = np.ones((8, 2), dtype=bool)
    valid[4:, 1] = False  # env 1 is padding from step 4 on
    _append(replay, 0, 8, valid=valid)
    # Start 2 of env 1 trains steps 3 (valid) and 4 (padding); starts 4+ are incomplete.
    assert ok_units(replay).tolist() == [0, 1, 2, 3]
    batch = replay.extract_batch(np.array([1]), np.array([1]))
    assert batch.valid[:, 0].tolist() == [True, False]
    valid[2:, 1] = False  # now start 2 trains only padding (steps 3, 4)
    replay = _replay()
    _append(replay, 0, 8, valid=valid)
    assert ok_units(replay).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"^replay holds 3 valid sequences, need >= 4"):
        replay.sample_batch(4)


def test_rnn_states_may_be_nested_and_only_interval_rows_are_stored():
    ex = example(rnn=True)
    state = RnnState(h=np.zeros((1, 3), np.float32), c=np.zeros((1, 3), np.float32))
    replay = UniformSequenceReplayBuffer(
        example=ex._replace(prev_rnn_state=state),
        size=24,
        B=2,
        batch_T=2,
        store_rnn_state_interval=3,  # the original keyword
    )
    samples = make_batch(0, 12, REWARDS, rnn=True)
    h = samples.prev_rnn_state
    replay.append_samples(samples._replace(prev_rnn_state=RnnState(h=h, c=-h)))
    assert replay.T == 12 and replay.storage.prev_rnn_state.h.shape == (4, 2, 1, 3)
    batch = replay.extract_batch(np.array([1, 2]), np.array([0, 1]))  # starts 3 and 6
    assert batch.init_rnn_state.h.tolist() == [[[3, 0, 7]], [[6, 1, 7]]]
    assert batch.init_rnn_state.c.tolist() == [[[-3, 0, -7]], [[-6, -1, -7]]]


def test_prioritized_sequences_with_input_priorities():
    replay = _replay(PrioritizedSequenceReplayBuffer, alpha=1.0, input_priorities=True)
    # One priority per new start row (slots 0, 2, 4, 6, 8, 10) and env.
    priorities = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [1, 1], [1, 1]])
    _append(replay, 0, 12, priorities=priorities)
    # The 12 slots are full, cursor at 0: start 0 lost its history slot 11 (now the
    # newest step), starts 8 and 10 lack their last steps; starts 2, 4, 6 remain.
    ok = ok_units(replay)
    assert ok.tolist() == [2, 3, 4, 5, 6, 7]
    mass = priorities.reshape(-1)[ok]
    assert replay.strategy.tree.total == pytest.approx(mass.sum())
    counts = np.zeros(12)
    for _ in range(500):
        batch = replay.sample_batch(6)
        starts = batch.all_observation[0, :, 0].numpy().astype(int)
        envs = batch.all_observation[0, :, 1].numpy().astype(int)
        np.add.at(counts, starts // 2 * 2 + envs, 1)
        assert batch.is_weights.shape == (6,) and float(batch.is_weights.max()) == 1.0
    expected = 500 * 6 * mass / mass.sum()
    chi2 = ((counts[ok] - expected) ** 2 / expected).sum()
    assert chi2 < 20.5  # chi-square, 5 degrees of freedom, p = 0.001
    replay.update_batch_priorities(np.full(6, 2.0))
    with pytest.raises(ValueError, match=r"priorities have shape \(2, 2\), expected \(3, 2\)"):
        _append(replay, 12, 6, priorities=np.ones((2, 2)))


def test_interval_keywords_must_agree():
    with pytest.raises(ValueError, match="rnn_state_interval=2 and store_rnn_state_interval=4"):
        _replay(store_rnn_state_interval=4)


@pytest.mark.parametrize(
    "cls", [UniformSequenceReplayFrameBuffer, PrioritizedSequenceReplayFrameBuffer]
)
def test_frame_sequences_rebuild_the_env_stacks(cls):
    B, T = 2, 48
    collector = Collector("breakout", B=B, horizon=30, seed=5)
    replay = cls(
        example=frame_example(rnn=True),
        size=T * B,
        B=B,
        batch_T=4,
        warmup_T=2,
        n_step_return=2,
        rnn_state_interval=4,
        seed=0,
    )
    truth = np.zeros((T, B, 4, 84, 84), np.uint8)
    finals, checked, cuts = {}, 0, 0
    for _ in range(9):  # 108 steps through 48 slots
        samples = collector.batch(12, rnn=True)
        slots = replay.append_samples(samples)
        truth[slots] = samples.observation
        for i, b in zip(*np.nonzero(samples.timeout)):
            finals[(slots[i], b)] = samples.final_observation[i, b]
        rows, envs = np.divmod(ok_units(replay), B)
        batch = replay.extract_batch(rows, envs)
        slots_seq = (rows * 4 + np.arange(8)[:, None]) % T
        expected = truth[slots_seq, envs]
        np.testing.assert_array_equal(batch.all_observation.numpy(), expected)
        for c, i in zip(*np.nonzero(replay.storage.timeout[slots_seq[:-1], envs])):
            expected[c + 1, i] = finals[(slots_seq[c, i], envs[i])]
            cuts += 1
        np.testing.assert_array_equal(batch.target_observation.numpy(), expected)
        np.testing.assert_array_equal(
            batch.init_rnn_state[:, 0, 0].numpy(), batch.init_rnn_state[:, 0, 0].numpy()
        )
        checked += len(rows)
    assert checked > 50 and cuts > 0 and collector.life_losses > 0
