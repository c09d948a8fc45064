"""``PrioritizedReplayBuffer``: transitions drawn by priority (the original rlpyt name)."""

from rlpyt.replays.non_sequence.n_step import NStepReturnBuffer
from rlpyt.replays.sampling import PrioritizedStrategy

__all__ = ["PrioritizedReplayBuffer"]


class PrioritizedReplayBuffer(NStepReturnBuffer):
    """n-step transition replay, proportional prioritized sampling, full observations.

    Keywords as :class:`~rlpyt.replays.non_sequence.uniform.UniformReplayBuffer` plus
    those of :class:`~rlpyt.replays.sampling.PrioritizedStrategy` (``alpha=0.6``,
    ``beta=0.4``, ``default_priority=1.0``, ``unique=False``, ``input_priorities=False``,
    ``input_priority_shift=0``). ``sample_batch(batch_B)`` -> ``SamplesFromReplayPri``
    ``[batch_B]`` (with ``is_weights``); then ``update_batch_priorities(|TD errors|
    [batch_B])``. The algorithm anneals beta with ``set_beta(beta)`` each iteration.
    """

    strategy_class = PrioritizedStrategy
    frames = False
