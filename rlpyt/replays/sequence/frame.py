"""Frame-deduplicating sequence replays for Atari R2D1 (the original rlpyt names).

As :mod:`rlpyt.replays.sequence.uniform` and :mod:`rlpyt.replays.sequence.prioritized`,
keywords included, with each frame stored once and stacks rebuilt at sampling
(:mod:`rlpyt.replays.frame`).
"""

from rlpyt.replays.sampling import PrioritizedStrategy, UniformStrategy
from rlpyt.replays.sequence.n_step import SequenceNStepReturnBuffer

__all__ = ["UniformSequenceReplayFrameBuffer", "PrioritizedSequenceReplayFrameBuffer"]


class UniformSequenceReplayFrameBuffer(SequenceNStepReturnBuffer):
    """Sequence replay, uniform, frames stored once."""

    strategy_class = UniformStrategy
    frames = True


class PrioritizedSequenceReplayFrameBuffer(SequenceNStepReturnBuffer):
    """Sequence replay, prioritized per sequence start, frames stored once."""

    strategy_class = PrioritizedStrategy
    frames = True
