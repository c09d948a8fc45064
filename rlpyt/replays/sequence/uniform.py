"""``UniformSequenceReplayBuffer``: sequences drawn uniformly (the original rlpyt name)."""

from rlpyt.replays.sampling import UniformStrategy
from rlpyt.replays.sequence.n_step import SequenceNStepReturnBuffer

__all__ = ["UniformSequenceReplayBuffer"]


class UniformSequenceReplayBuffer(SequenceNStepReturnBuffer):
    """Sequence replay, uniform over sequence starts, full observations.

    ``UniformSequenceReplayBuffer(example=, size=, B=, batch_T=, discount=0.99,
    n_step_return=1, seed=None, warmup_T=0, rnn_state_interval=batch_T)``
    (``store_rnn_state_interval`` is the original's name for the interval);
    ``sample_batch(batch_B)`` -> ``SamplesFromReplaySeq``. See
    :class:`~rlpyt.replays.sequence.n_step.SequenceNStepReturnBuffer`.
    """

    strategy_class = UniformStrategy
    frames = False
