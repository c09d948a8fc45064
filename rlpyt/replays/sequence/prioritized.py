"""``PrioritizedSequenceReplayBuffer``: sequences drawn by priority (the original rlpyt name)."""

from rlpyt.replays.sampling import PrioritizedStrategy
from rlpyt.replays.sequence.n_step import SequenceNStepReturnBuffer

__all__ = ["PrioritizedSequenceReplayBuffer"]


class PrioritizedSequenceReplayBuffer(SequenceNStepReturnBuffer):
    """Sequence replay, prioritized per sequence start, full observations.

    Keywords as :class:`~rlpyt.replays.sequence.uniform.UniformSequenceReplayBuffer`
    plus those of :class:`~rlpyt.replays.sampling.PrioritizedStrategy`.
    ``sample_batch(batch_B)`` -> ``SamplesFromReplaySeqPri`` (``is_weights``
    ``[batch_B]``); then ``update_batch_priorities([batch_B])``. With
    ``input_priorities=True``, ``append_samples(samples, priorities=[T //
    rnn_state_interval, B])``.
    """

    strategy_class = PrioritizedStrategy
    frames = False
