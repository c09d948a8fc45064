"""``PrioritizedReplayBuffer``: transitions drawn by priority (the original rlpyt name)."""

from rlpyt.replays.non_sequence.n_step import NStepReturnBuffer
from rlpyt.replays.sampling import PrioritizedStrategy

__all__ = ["PrioritizedReplayBuffer"]


class PrioritizedReplayBuffer(NStepReturnBuffer):
    """n-step transition replay, proportional prioritized sampling, full observations.

    ``sample_batch(batch_B)`` -> ``SamplesFromReplayPri`` ``[batch_B]`` (with
    ``is_weights``); then ``update_batch_priorities(|TD errors| [batch_B])``. The
    algorithm anneals beta with ``set_beta(beta)`` each iteration. Prioritization
    arguments as :class:`~rlpyt.replays.sampling.PrioritizedStrategy`.
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
            discount=discount,
            n_step_return=n_step_return,
            seed=seed,
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
