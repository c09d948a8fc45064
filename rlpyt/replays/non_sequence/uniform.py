"""``UniformReplayBuffer``: transitions drawn uniformly (the original rlpyt name)."""

from rlpyt.replays.non_sequence.n_step import NStepReturnBuffer
from rlpyt.replays.sampling import UniformStrategy

__all__ = ["UniformReplayBuffer"]


class UniformReplayBuffer(NStepReturnBuffer):
    """n-step transition replay, uniform sampling, full observations.

    ``sample_batch(batch_B)`` -> ``SamplesFromReplay`` ``[batch_B]`` (torch tensors).
    See :class:`~rlpyt.replays.non_sequence.n_step.NStepReturnBuffer`.
    """

    def __init__(
        self,
        *,
        example,
        size: int,
        B: int,
        discount: float = 0.99,
        n_step_return: int = 1,
        seed: int | None = None,
    ):
        super().__init__(
            example=example,
            size=size,
            B=B,
            discount=discount,
            n_step_return=n_step_return,
            seed=seed,
            strategy=UniformStrategy(),
            frames=False,
        )
