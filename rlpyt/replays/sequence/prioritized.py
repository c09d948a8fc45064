"""``PrioritizedSequenceReplayBuffer``: sequences drawn by priority (the original rlpyt name)."""

from rlpyt.replays.sampling import PrioritizedStrategy
from rlpyt.replays.sequence.n_step import SequenceNStepReturnBuffer

__all__ = ["PrioritizedSequenceReplayBuffer"]


class PrioritizedSequenceReplayBuffer(SequenceNStepReturnBuffer):
    """Sequence replay, prioritized per sequence start, full observations.

    ``sample_batch(batch_B)`` -> ``SamplesFromReplaySeqPri`` (``is_weights`` ``[batch_B]``);
    then ``update_batch_priorities([batch_B])``. With ``input_priorities=True``,
    ``append_samples(samples, priorities=[T // rnn_state_interval, B])``. Other
    prioritization arguments as :class:`~rlpyt.replays.sampling.PrioritizedStrategy`.
    """

    def __init__(
        self,
        *,
        example,
        size: int,
        B: int,
        batch_T: int,
        discount: float = 0.99,
        n_step_return: int = 1,
        seed: int | None = None,
        warmup_T: int = 0,
        rnn_state_interval: int | None = None,
        store_rnn_state_interval: int | None = None,
        alpha: float = 0.6,
        beta: float = 0.4,
        default_priority: float = 1.0,
        unique: bool = False,
        input_priorities: bool = False,
        input_priority_shift: int = 0,
    ):
        super().__init__(
            example=example,
            size=size,
            B=B,
            batch_T=batch_T,
            discount=discount,
            n_step_return=n_step_return,
            seed=seed,
            warmup_T=warmup_T,
            rnn_state_interval=rnn_state_interval,
            store_rnn_state_interval=store_rnn_state_interval,
            strategy=PrioritizedStrategy(
                alpha=alpha,
                beta=beta,
                default_priority=default_priority,
                unique=unique,
                input_priorities=input_priorities,
                input_priority_shift=input_priority_shift,
            ),
            frames=False,
        )
