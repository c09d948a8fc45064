"""``UniformSequenceReplayBuffer``: sequences drawn uniformly (the original rlpyt name)."""

from rlpyt.replays.sampling import UniformStrategy
from rlpyt.replays.sequence.n_step import SequenceNStepReturnBuffer

__all__ = ["UniformSequenceReplayBuffer"]


class UniformSequenceReplayBuffer(SequenceNStepReturnBuffer):
    """Sequence replay, uniform over sequence starts, full observations.

    ``sample_batch(batch_B)`` -> ``SamplesFromReplaySeq``. See
    :class:`~rlpyt.replays.sequence.n_step.SequenceNStepReturnBuffer`.
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
            strategy=UniformStrategy(),
            frames=False,
        )
