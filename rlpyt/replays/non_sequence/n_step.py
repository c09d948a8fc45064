"""Transition replay with n-step returns: batches of ``[batch_B]`` independent transitions."""

from typing import Unpack

import numpy as np
import torch

from rlpyt.agents.base import AgentInputs
from rlpyt.replays.base import BaseReplayBuffer
from rlpyt.replays.collections import SamplesFromReplay, SamplesFromReplayPri
from rlpyt.replays.n_step import n_step_window, prev_action_reward
from rlpyt.replays.sampling import Prioritization
from rlpyt.utils.buffer import torchify_buffer

__all__ = ["NStepReturnBuffer"]


class NStepReturnBuffer(BaseReplayBuffer):
    """Replay of transitions ``[T, B]`` with n-step returns, sampling strategy and
    observation store chosen at construction (see :mod:`rlpyt.replays.base`).

    ``sample_batch(batch_B)`` returns a ``SamplesFromReplay`` (``SamplesFromReplayPri``
    for a prioritized strategy) of torch tensors with leading dim ``[batch_B]``; see
    :mod:`rlpyt.replays.collections` and :mod:`rlpyt.replays.n_step` for the fields.

    The public buffers (:mod:`rlpyt.replays.non_sequence.uniform`, ``.prioritized``,
    ``.frame``) are this class with ``strategy_class`` and ``frames`` declared.

    Args:
        example, size, B, discount, n_step_return, seed, strategy, frames: see
            :class:`~rlpyt.replays.base.BaseReplayBuffer`.
        **prioritization: ``alpha``, ``beta``, ... of a prioritized ``strategy_class``
            (:class:`~rlpyt.replays.sampling.Prioritization`).
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
        strategy=None,
        frames: bool | None = None,
        **prioritization: Unpack[Prioritization],
    ):
        super().__init__(
            example=example,
            size=size,
            B=B,
            discount=discount,
            n_step_return=n_step_return,
            seed=seed,
            strategy=strategy,
            frames=frames,
            prioritization=prioritization,
            interval=1,
            L=n_step_return + 1,  # the window and its bootstrap observation
        )

    def sample_batch(self, batch_B: int):
        """``batch_B`` transitions drawn by the strategy (with replacement)."""
        T_idxs, B_idxs, is_weights = self._draw_units(batch_B)
        return self.extract_batch(T_idxs, B_idxs, is_weights)

    def extract_batch(self, T_idxs: np.ndarray, B_idxs: np.ndarray, is_weights=None):
        """The batch of transitions at slots ``(T_idxs, B_idxs)`` ``[batch_B]``."""
        storage = self.storage
        prev_action, prev_reward = prev_action_reward(storage, T_idxs, B_idxs)
        window = n_step_window(storage, T_idxs, B_idxs, self.n_step_return, self.discount)
        target_t = (T_idxs + window.steps) % self.T
        # One read (one allocation) for both: large short-lived allocations are what
        # costs most here (each new one page-faults in), more than the copying itself.
        both = self.observations.read(
            np.concatenate([T_idxs[None], target_t[None]]),
            np.concatenate([B_idxs[None], B_idxs[None]]),
        )
        observation, target_observation = both[0], both[1]
        if window.cut.any():  # bootstrap from the final observation of the cut episode
            cut = np.flatnonzero(window.cut)
            finals = self._final_observation(window.last_t, B_idxs, window.cut)
            for i, final in zip(cut, finals):
                target_observation[i] = final
        # The step before the bootstrap point is in the same episode: no done-masking.
        target_prev_action, target_prev_reward = prev_action_reward(
            storage, target_t, B_idxs, mask_done=False
        )
        t = _as_tensors
        fields = dict(
            agent_inputs=AgentInputs(t(observation), t(prev_action), t(prev_reward)),
            action=t(storage.action[T_idxs, B_idxs]),
            return_=t(window.return_),
            done=t(storage.done[T_idxs, B_idxs]),
            done_n=t(window.done_n),
            target_inputs=AgentInputs(
                t(target_observation), t(target_prev_action), t(target_prev_reward)
            ),
            bootstrap_discount=t(window.bootstrap_discount),
        )
        if is_weights is None:
            return SamplesFromReplay(**fields)
        return SamplesFromReplayPri(**fields, is_weights=t(is_weights))


def _as_tensors(x):
    """``torchify_buffer`` with a shortcut for plain arrays (a batch per gradient step)."""
    return torch.from_numpy(x) if type(x) is np.ndarray else torchify_buffer(x)
