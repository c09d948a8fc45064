"""The public buffers are declarations of a composition: each builds the strategy and
observation store it names from the original rlpyt keywords, and refuses keywords it
cannot use with a message naming the class."""

import pytest
from atari_helpers import frame_example
from replay_helpers import example

from rlpyt.replays.frame import FrameObservations
from rlpyt.replays.non_sequence.frame import PrioritizedReplayFrameBuffer, UniformReplayFrameBuffer
from rlpyt.replays.non_sequence.n_step import NStepReturnBuffer
from rlpyt.replays.non_sequence.prioritized import PrioritizedReplayBuffer
from rlpyt.replays.non_sequence.uniform import UniformReplayBuffer
from rlpyt.replays.sampling import PrioritizedStrategy, UniformStrategy
from rlpyt.replays.sequence.frame import (
    PrioritizedSequenceReplayFrameBuffer,
    UniformSequenceReplayFrameBuffer,
)
from rlpyt.replays.sequence.prioritized import PrioritizedSequenceReplayBuffer
from rlpyt.replays.sequence.uniform import UniformSequenceReplayBuffer
from rlpyt.replays.storage import ArrayObservations

PRIORITIZATION = dict(
    alpha=0.5,
    beta=0.3,
    default_priority=2.0,
    unique=True,
    input_priorities=True,
    input_priority_shift=1,
)
# The original's sequence keywords (store_rnn_state_interval is its name for the interval).
SEQUENCE = dict(batch_T=4, warmup_T=2, store_rnn_state_interval=4)
CLASSES = [  # class, prioritized, frames, sequence
    (UniformReplayBuffer, False, False, False),
    (PrioritizedReplayBuffer, True, False, False),
    (UniformReplayFrameBuffer, False, True, False),
    (PrioritizedReplayFrameBuffer, True, True, False),
    (UniformSequenceReplayBuffer, False, False, True),
    (PrioritizedSequenceReplayBuffer, True, False, True),
    (UniformSequenceReplayFrameBuffer, False, True, True),
    (PrioritizedSequenceReplayFrameBuffer, True, True, True),
]


def build(cls, frames, sequence, **kwargs):
    ex = frame_example(rnn=sequence) if frames else example(rnn=sequence)
    common = dict(example=ex, size=96, B=2, discount=0.9, n_step_return=2, seed=0)
    return cls(**common, **(SEQUENCE if sequence else {}), **kwargs)


@pytest.mark.parametrize("cls, prioritized, frames, sequence", CLASSES)
def test_original_keywords_build_the_declared_composition(cls, prioritized, frames, sequence):
    replay = build(cls, frames, sequence, **(PRIORITIZATION if prioritized else {}))
    assert (replay.discount, replay.n_step_return, replay.B) == (0.9, 2, 2)
    assert replay.frames is frames
    assert isinstance(replay.observations, FrameObservations if frames else ArrayObservations)
    if sequence:
        assert (replay.batch_T, replay.warmup_T, replay.rnn_state_interval) == (4, 2, 4)
    if prioritized:
        assert type(replay.strategy) is PrioritizedStrategy
        got = {k: getattr(replay.strategy, k) for k in PRIORITIZATION}
        assert got == PRIORITIZATION
    else:
        assert type(replay.strategy) is UniformStrategy


@pytest.mark.parametrize("cls, prioritized, frames, sequence", CLASSES)
def test_keywords_the_class_cannot_use_are_refused(cls, prioritized, frames, sequence):
    with pytest.raises(TypeError, match=rf"{cls.__name__}\(\) got an unexpected keyword .*'bogus'"):
        build(cls, frames, sequence, bogus=1)
    if not prioritized:
        twin = cls.__name__.replace("Uniform", "Prioritized")
        with pytest.raises(TypeError, match=rf"samples uniformly, so it takes no alpha: .*{twin}"):
            build(cls, frames, sequence, alpha=0.6)
    if not sequence:
        with pytest.raises(TypeError, match="unexpected keyword argument 'batch_T'"):
            build(cls, frames, sequence, batch_T=4)


def test_the_generic_buffers_take_a_strategy_instance_or_prioritization_keywords():
    strategy = PrioritizedStrategy(alpha=0.7)
    replay = NStepReturnBuffer(example=example(), size=32, B=2, strategy=strategy)
    assert replay.strategy is strategy and replay.frames is False
    with pytest.raises(TypeError, match="not both"):
        NStepReturnBuffer(example=example(), size=32, B=2, strategy=strategy, alpha=0.7)
    with pytest.raises(TypeError, match=r"strategy=PrioritizedStrategy\(\.\.\.\)"):
        NStepReturnBuffer(example=example(), size=32, B=2, beta=0.4)
    frames = NStepReturnBuffer(example=frame_example(), size=64, B=2, frames=True)
    assert isinstance(frames.observations, FrameObservations)
