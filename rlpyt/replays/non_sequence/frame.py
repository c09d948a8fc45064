"""Frame-deduplicating transition replays for Atari (the original rlpyt names).

Each 84x84 frame is stored once and ``[n_frames, H, W]`` stacks are rebuilt at
sampling (see :mod:`rlpyt.replays.frame`); otherwise as
:class:`~rlpyt.replays.non_sequence.uniform.UniformReplayBuffer` and
:class:`~rlpyt.replays.non_sequence.prioritized.PrioritizedReplayBuffer`. The
frame-stack depth is read from ``example.observation.shape[0]``.
"""

from rlpyt.replays.non_sequence.n_step import NStepReturnBuffer
from rlpyt.replays.sampling import PrioritizedStrategy, UniformStrategy

__all__ = ["UniformReplayFrameBuffer", "PrioritizedReplayFrameBuffer"]


class UniformReplayFrameBuffer(NStepReturnBuffer):
    """n-step transition replay, uniform sampling, frames stored once."""

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
            frames=True,
        )


class PrioritizedReplayFrameBuffer(NStepReturnBuffer):
    """n-step transition replay, prioritized sampling, frames stored once.

    Prioritization arguments as :class:`~rlpyt.replays.sampling.PrioritizedStrategy`.
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
            frames=True,
        )
