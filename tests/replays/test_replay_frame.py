"""Frame buffers rebuild, bit for bit, the stacks a real AtariEnv produced; memory."""

import numpy as np
import pytest
import torch
from atari_helpers import FRAME, Collector, frame_example

from rlpyt.replays.non_sequence.frame import PrioritizedReplayFrameBuffer, UniformReplayFrameBuffer
from rlpyt.replays.non_sequence.uniform import UniformReplayBuffer


def _expected_target(truth, finals, t, b, n, T):
    """The bootstrap observation of slot t, env b: after n steps or at the first done."""
    for k in range(n):
        s = (t + k) % T
        if truth["done"][s, b]:
            return finals[(s, b)] if truth["timeout"][s, b] else truth["obs"][(s + 1) % T, b]
    return truth["obs"][(t + n) % T, b]


@pytest.mark.parametrize("game", ["pong", "breakout"])
def test_frame_buffer_rebuilds_the_env_stacks_exactly(game):
    B, T, n = 2, 40, 3
    collector = Collector(game, B=B, horizon=45, seed=11)
    collector.batch(7)  # the first appended observation is mid-episode: it has history
    replay = UniformReplayFrameBuffer(
        example=frame_example(), size=T * B, B=B, n_step_return=n, seed=0
    )
    truth = dict(
        obs=np.zeros((T, B) + FRAME, np.uint8),
        done=np.zeros((T, B), bool),
        timeout=np.zeros((T, B), bool),
    )
    finals = {}
    checked = zeroed = after_wrap_edge = 0
    for _ in range(20):  # 20 appends of 13 steps: the 40 slots wrap six times
        samples = collector.batch(13)
        slots = replay.append_samples(torch.utils.data.default_convert(samples))
        truth["obs"][slots] = samples.observation
        truth["done"][slots] = samples.done
        truth["timeout"][slots] = samples.timeout
        for i, s in enumerate(slots):
            for b in np.flatnonzero(samples.timeout[i]):
                finals[(s, b)] = samples.final_observation[i, b]
        T_idxs, B_idxs = np.divmod(np.flatnonzero(replay.units.ok), B)
        batch = replay.extract_batch(T_idxs, B_idxs)
        np.testing.assert_array_equal(
            batch.agent_inputs.observation.numpy(), truth["obs"][T_idxs, B_idxs]
        )
        for i, (t, b) in enumerate(zip(T_idxs, B_idxs)):
            expected = _expected_target(truth, finals, t, b, n, T)
            np.testing.assert_array_equal(batch.target_inputs.observation[i].numpy(), expected)
        stacks = truth["obs"][T_idxs, B_idxs]
        checked += len(T_idxs)
        zeroed += int(
            (~stacks[:, :3].any(axis=(2, 3)) & stacks[:, 3].any(axis=(1, 2))[:, None]).any(1).sum()
        )
        after_wrap_edge += int((replay.storage.full & (T_idxs < 3)).sum())
    # The comparisons covered what could go wrong: restarted stacks and the wrap edge.
    assert checked > 1000 and zeroed > 10 and after_wrap_edge > 10
    assert collector.cuts > 0
    if game == "breakout":
        assert collector.life_losses > 0


def test_overwritten_history_is_not_sampled():
    """The oldest slots (their older frames were overwritten) would rebuild wrong stacks."""
    collector = Collector("pong", B=1, horizon=10_000, seed=3)
    replay = UniformReplayFrameBuffer(
        example=frame_example(), size=20, B=1, n_step_return=1, seed=0
    )
    history = []
    for _ in range(3):
        samples = collector.batch(8)
        replay.append_samples(samples)
        history.extend(samples.observation[:, 0])
    t = replay.storage.t  # 24 steps in 20 slots: the cursor is at 4, oldest step is 4
    oldest = [(t + k) % 20 for k in range(3)]
    assert not replay.units.ok[oldest].any() and replay.units.ok[(t + 3) % 20]
    rebuilt = replay.observations.read(np.array(oldest), np.zeros(3, dtype=np.int64))
    truth = np.stack(history[4:7])
    assert not np.array_equal(rebuilt, truth)  # wrong, which is why they are excluded
    np.testing.assert_array_equal(rebuilt[:, 3], truth[:, 3])  # their own frames are intact


@pytest.mark.parametrize("B", [1, 8])
@pytest.mark.parametrize("cls", [UniformReplayFrameBuffer, PrioritizedReplayFrameBuffer])
def test_one_million_atari_transitions_take_at_most_105_percent_of_the_frames(cls, B):
    replay = cls(
        example=frame_example(), size=1_000_000, B=B
    )  # arrays are allocated at first append
    frames_once = 1_000_000 * 84 * 84
    assert replay.nbytes <= 1.05 * frames_once
    full_stacks = UniformReplayBuffer(example=frame_example(), size=1_000_000, B=B).nbytes
    assert full_stacks > 4 * frames_once  # what deduplication saves


def test_planned_nbytes_equal_the_allocated_frame_arrays():
    collector = Collector("pong", B=2, horizon=100, seed=0)
    replay = PrioritizedReplayFrameBuffer(example=frame_example(), size=64, B=2)
    planned = replay.nbytes
    replay.append_samples(collector.batch(4))
    s, o, tree = replay.storage, replay.observations, replay.strategy.tree
    arrays = [s.action, s.reward, s.done, s.timeout, s.valid, o.frames, o.fresh, replay.units.ok]
    arrays += [tree._tree, tree._values, tree._active]
    assert planned == replay.nbytes == sum(a.nbytes for a in arrays)


def test_frame_buffer_needs_frame_stacks():
    bad = frame_example()._replace(observation=np.zeros((84, 84, 4, 1), np.uint8))
    with pytest.raises(
        ValueError, match=r"need observations \[n_frames, H, W\], got shape \(84, 84, 4, 1\)"
    ):
        UniformReplayFrameBuffer(example=bad, size=100, B=1)
