"""Sequence replay with n-step returns and stored RNN states, for recurrent agents (R2D1).

A sampled sequence covers ``L = warmup_T + batch_T + n_step_return`` consecutive
steps of one env, starting at a slot that is a multiple of ``rnn_state_interval``
(where the agent's ``prev_rnn_state`` was stored): ``warmup_T`` burn-in steps, the
``batch_T`` trained steps, and ``n_step_return`` more for the bootstrap targets.
Sequences may cross episode boundaries (the agent's inputs carry the
done-masked ``prev_action`` / ``prev_reward``) and the end of the storage.
"""

from typing import Unpack

import numpy as np

from rlpyt.replays.base import BaseReplayBuffer
from rlpyt.replays.collections import SamplesFromReplaySeq, SamplesFromReplaySeqPri
from rlpyt.replays.n_step import n_step_window, prev_action_reward
from rlpyt.replays.sampling import Prioritization
from rlpyt.utils.buffer import buffer_method, torchify_buffer
from rlpyt.utils.validation import require_int_at_least

__all__ = ["SequenceNStepReturnBuffer", "resolve_rnn_state_interval"]


def resolve_rnn_state_interval(rnn_state_interval, store_rnn_state_interval, batch_T) -> int:
    """The interval from either keyword (the original's name is ``store_rnn_state_interval``)."""
    if (
        rnn_state_interval is not None
        and store_rnn_state_interval is not None
        and rnn_state_interval != store_rnn_state_interval
    ):
        raise ValueError(
            f"rnn_state_interval={rnn_state_interval} and store_rnn_state_interval="
            f"{store_rnn_state_interval} disagree: give one of them"
        )
    interval = rnn_state_interval if rnn_state_interval is not None else store_rnn_state_interval
    interval = batch_T if interval is None else interval
    interval = require_int_at_least("rnn_state_interval", interval, 1)
    return int(interval)


class SequenceNStepReturnBuffer(BaseReplayBuffer):
    """Replay of sequences (see the module docstring); strategy and observation store
    chosen at construction (see :mod:`rlpyt.replays.base`).

    ``sample_batch(batch_B)`` returns a ``SamplesFromReplaySeq`` (``...SeqPri`` for a
    prioritized strategy) of torch tensors; fields in :mod:`rlpyt.replays.collections`.

    Args:
        example: a ``SamplesToBufferRnn`` / ``SamplesToBufferRnnFrame`` entry.
        size, B, discount, n_step_return, seed: see
            :class:`~rlpyt.replays.base.BaseReplayBuffer`.
        batch_T: trained steps per sequence.
        warmup_T: burn-in steps before them (the RNN state is refreshed, no loss).
        rnn_state_interval: slots between stored RNN states and sequence starts
            (default ``batch_T``); ``store_rnn_state_interval`` is the original name.
        strategy, frames: see :class:`~rlpyt.replays.base.BaseReplayBuffer`.
        **prioritization: ``alpha``, ``beta``, ... of a prioritized ``strategy_class``
            (:class:`~rlpyt.replays.sampling.Prioritization`).

    The public buffers (:mod:`rlpyt.replays.sequence.uniform`, ``.prioritized``,
    ``.frame``) are this class with ``strategy_class`` and ``frames`` declared.
    """

    unit_name = "sequences"

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
        strategy=None,
        frames: bool | None = None,
        **prioritization: Unpack[Prioritization],
    ):
        batch_T = require_int_at_least("batch_T", batch_T, 1)
        warmup_T = require_int_at_least("warmup_T", warmup_T, 0)
        n_step_return = require_int_at_least("n_step_return", n_step_return, 1)
        interval = resolve_rnn_state_interval(rnn_state_interval, store_rnn_state_interval, batch_T)
        self.batch_T = int(batch_T)
        self.warmup_T = int(warmup_T)
        self.L = self.warmup_T + self.batch_T + int(n_step_return)
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
            interval=interval,
            L=self.L,
            train_offset=self.warmup_T,
            train_length=self.batch_T,
        )
        self.rnn_state_interval = interval
        self._positions = np.arange(self.L)[:, None]
        self._trained = slice(self.warmup_T, self.warmup_T + self.batch_T)
        self._trained_positions = self._positions[self._trained]

    def sample_batch(self, batch_B: int):
        """``batch_B`` sequences drawn by the strategy (with replacement)."""
        rows, B_idxs, is_weights = self._draw_units(batch_B)
        return self.extract_batch(rows, B_idxs, is_weights)

    def extract_batch(self, rows: np.ndarray, B_idxs: np.ndarray, is_weights=None):
        """The sequences starting at slots ``rows * rnn_state_interval`` of envs ``B_idxs``."""
        storage = self.storage
        slots = (rows * self.interval + self._positions) % self.T  # [L, batch_B]
        envs = np.broadcast_to(B_idxs, slots.shape)
        observation = self.observations.read(slots, envs)
        prev_action, prev_reward = prev_action_reward(storage, slots, envs)
        t_slots, t_envs = slots[self._trained], envs[self._trained]
        window = n_step_window(storage, t_slots, t_envs, self.n_step_return, self.discount)
        all_observation = torchify_buffer(observation)
        target_observation = self._target_observation(observation, slots, envs)
        if target_observation is None:  # no cut: the very same tensor (R2D1 checks `is`)
            target_observation = all_observation
        else:
            target_observation = torchify_buffer(target_observation)
        init_rnn_state = None
        if storage.has_rnn_state:
            init_rnn_state = storage.prev_rnn_state[rows, B_idxs]
        fields = dict(
            all_observation=all_observation,
            all_prev_action=prev_action,
            all_prev_reward=prev_reward,
            target_observation=target_observation,
            action=storage.action[t_slots, t_envs],
            return_=window.return_,
            done=storage.done[t_slots, t_envs],
            done_n=window.done_n,
            bootstrap_discount=window.bootstrap_discount,
            bootstrap_index=self._trained_positions + window.steps,
            init_rnn_state=init_rnn_state,
            valid=storage.valid[t_slots, t_envs],
        )
        if is_weights is None:
            return torchify_buffer(SamplesFromReplaySeq(**fields))
        return torchify_buffer(SamplesFromReplaySeqPri(**fields, is_weights=is_weights))

    def _target_observation(self, observation, slots: np.ndarray, envs: np.ndarray):
        """A copy of ``observation`` with each cut's final observation right after it,
        or None when no step of the batch (but the last) is a time-limit cut."""
        before, env_before = slots[:-1], envs[:-1]
        cut = self.storage.done[before, env_before] & self.storage.timeout[before, env_before]
        if not cut.any():
            return None
        target = buffer_method(observation, "copy")
        finals = self._final_observation(before, env_before, cut)
        for (c, i), final in zip(zip(*np.nonzero(cut)), finals):
            target[c + 1, i] = final
        return target
