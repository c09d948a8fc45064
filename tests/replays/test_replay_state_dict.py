"""Every public buffer: importable from its original path, and a saved-and-loaded buffer
samples exactly what the original does (C7); incompatible loads are errors (C4)."""

import io

import numpy as np
import pytest
import torch

from rlpyt.replays.collections import (
    SamplesToBuffer,
    SamplesToBufferFrame,
    SamplesToBufferRnn,
    SamplesToBufferRnnFrame,
)
from rlpyt.replays.non_sequence.frame import PrioritizedReplayFrameBuffer, UniformReplayFrameBuffer
from rlpyt.replays.non_sequence.prioritized import PrioritizedReplayBuffer
from rlpyt.replays.non_sequence.uniform import UniformReplayBuffer
from rlpyt.replays.sequence.frame import (
    PrioritizedSequenceReplayFrameBuffer,
    UniformSequenceReplayFrameBuffer,
)
from rlpyt.replays.sequence.prioritized import PrioritizedSequenceReplayBuffer
from rlpyt.replays.sequence.uniform import UniformSequenceReplayBuffer

B, T_APPEND = 3, 8
SEQ = dict(batch_T=4, warmup_T=2, rnn_state_interval=4)
CASES = [
    (UniformReplayBuffer, False, False, {}),
    (PrioritizedReplayBuffer, False, False, {}),
    (UniformReplayFrameBuffer, True, False, {}),
    (PrioritizedReplayFrameBuffer, True, False, {}),
    (UniformSequenceReplayBuffer, False, True, SEQ),
    (PrioritizedSequenceReplayBuffer, False, True, SEQ),
    (UniformSequenceReplayFrameBuffer, True, True, SEQ),
    (PrioritizedSequenceReplayFrameBuffer, True, True, SEQ),
]


class SyntheticEnvs:
    """B envs with random frames (stacks restart from zeros after a done) and time limits."""

    def __init__(self, frames: bool, rnn: bool, seed: int):
        self.frames, self.rnn = frames, rnn
        self.rng = np.random.default_rng(seed)
        self.stack = np.zeros((B, 4, 8, 8), np.uint8)
        self.stack[:, -1] = self.rng.integers(1, 255, (B, 8, 8))
        self.t = 0

    def example(self):
        obs = np.zeros((4, 8, 8), np.uint8) if self.frames else np.zeros(3, np.float32)
        fields = [obs, np.int64(0), np.float32(0), False, False, obs]
        if self.frames:
            fields.append(False)  # traj_done
        if self.rnn:
            fields.append(np.zeros((2, 5), np.float32))
        return self._cls()(*fields)

    def _cls(self):
        return {
            (False, False): SamplesToBuffer,
            (True, False): SamplesToBufferFrame,
            (False, True): SamplesToBufferRnn,
            (True, True): SamplesToBufferRnnFrame,
        }[(self.frames, self.rnn)]

    def _observation(self):
        if self.frames:
            return self.stack.copy()
        return self.stack[:, -1, 0, :3].astype(np.float32)

    def batch(self):
        rng, obs, final = self.rng, [], []
        done = rng.random((T_APPEND, B)) < 0.1
        timeout = done & (rng.random((T_APPEND, B)) < 0.5)
        for t in range(T_APPEND):
            obs.append(self._observation())
            self.stack = np.roll(self.stack, -1, axis=1)
            self.stack[:, -1] = rng.integers(1, 255, (B, 8, 8))
            final.append(self._observation())
            self.stack[done[t], :-1] = 0  # the next stack starts over
        fields = [
            np.stack(obs),
            rng.integers(0, 4, (T_APPEND, B)),
            rng.normal(size=(T_APPEND, B)).astype(np.float32),
            done,
            timeout,
            np.stack(final),
        ]
        if self.frames:
            fields.append(done & timeout)
        if self.rnn:
            fields.append(rng.normal(size=(T_APPEND, B, 2, 5)).astype(np.float32))
        return self._cls()(*fields)


def _build(cls, frames, rnn, kwargs, seed=0):
    envs = SyntheticEnvs(frames, rnn, seed=1)
    replay = cls(example=envs.example(), size=40 * B, B=B, n_step_return=2, seed=seed, **kwargs)
    return replay, envs


def _draw(replay, n=5):
    batch = replay.sample_batch(n)
    if getattr(replay.strategy, "prioritized", False):
        replay.update_batch_priorities(np.arange(1, n + 1, dtype=np.float64))
    return batch


def _assert_same(a, b):
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            _assert_same(x, y)
        elif x is not None:
            torch.testing.assert_close(x, y, rtol=0, atol=0)


@pytest.mark.parametrize("cls, frames, rnn, kwargs", CASES, ids=[c[0].__name__ for c in CASES])
def test_saved_and_loaded_buffer_samples_the_same(cls, frames, rnn, kwargs):
    replay, envs = _build(cls, frames, rnn, kwargs)
    for _ in range(7):  # 56 steps through 40 slots
        replay.append_samples(envs.batch())
        if replay.n_sampleable >= 5:
            _draw(replay)
    saved = io.BytesIO()
    torch.save(replay.state_dict(), saved)
    saved.seek(0)
    loaded, _ = _build(cls, frames, rnn, kwargs, seed=123)  # another seed: the state wins
    loaded.load_state_dict(torch.load(saved, weights_only=False))
    assert loaded.storage.final_observation.keys() == replay.storage.final_observation.keys()
    for _ in range(3):
        for _ in range(4):
            _assert_same(_draw(replay), _draw(loaded))
        batch = envs.batch()
        replay.append_samples(batch)
        loaded.append_samples(batch)


def test_loading_into_an_incompatible_buffer_lists_the_differences():
    replay, envs = _build(UniformReplayBuffer, False, False, {})
    replay.append_samples(envs.batch())
    other = UniformReplayBuffer(example=envs.example(), size=80 * B, B=B, n_step_return=3)
    with pytest.raises(
        ValueError, match=r"incompatible buffer: T: saved 40, here 80; n_step_return"
    ):
        other.load_state_dict(replay.state_dict())
