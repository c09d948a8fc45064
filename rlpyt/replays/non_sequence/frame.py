"""Frame-deduplicating transition replays for Atari (the original rlpyt names).

Each 84x84 frame is stored once and ``[n_frames, H, W]`` stacks are rebuilt at
sampling (see :mod:`rlpyt.replays.frame`); otherwise, keywords included, as
:class:`~rlpyt.replays.non_sequence.uniform.UniformReplayBuffer` and
:class:`~rlpyt.replays.non_sequence.prioritized.PrioritizedReplayBuffer`. The
frame-stack depth is read from ``example.observation.shape[0]``.
"""

from rlpyt.replays.non_sequence.n_step import NStepReturnBuffer
from rlpyt.replays.sampling import PrioritizedStrategy, UniformStrategy

__all__ = ["UniformReplayFrameBuffer", "PrioritizedReplayFrameBuffer"]


class UniformReplayFrameBuffer(NStepReturnBuffer):
    """n-step transition replay, uniform sampling, frames stored once."""

    strategy_class = UniformStrategy
    frames = True


class PrioritizedReplayFrameBuffer(NStepReturnBuffer):
    """n-step transition replay, prioritized sampling, frames stored once."""

    strategy_class = PrioritizedStrategy
    frames = True
