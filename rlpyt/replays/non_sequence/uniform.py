"""``UniformReplayBuffer``: transitions drawn uniformly (the original rlpyt name)."""

from rlpyt.replays.non_sequence.n_step import NStepReturnBuffer
from rlpyt.replays.sampling import UniformStrategy

__all__ = ["UniformReplayBuffer"]


class UniformReplayBuffer(NStepReturnBuffer):
    """n-step transition replay, uniform sampling, full observations.

    ``UniformReplayBuffer(example=, size=, B=, discount=0.99, n_step_return=1, seed=None)``;
    ``sample_batch(batch_B)`` -> ``SamplesFromReplay`` ``[batch_B]`` (torch tensors).
    See :class:`~rlpyt.replays.non_sequence.n_step.NStepReturnBuffer`.
    """

    strategy_class = UniformStrategy
    frames = False
