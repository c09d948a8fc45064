"""n-step returns and bootstrap points, computed from the stored steps at sampling time.

For a step ``t`` the window is ``t .. t + m - 1`` where ``m = n_step_return``, or
fewer when a ``done`` comes first (the window includes the done step's reward and
stops there). Then

* ``return_ = sum_{k<m} discount^k reward[t+k]``;
* ``done_n``: the window ended in a termination (a ``done`` that is not a
  ``timeout``);
* ``bootstrap_discount = discount^m * (1 - done_n)``: a time-limit cut ends the
  window early but still bootstraps (Pardo et al. 2018, "Time Limits in
  Reinforcement Learning"), from the final observation of the cut episode, which
  the buffer kept; a termination never bootstraps;
* the bootstrap observation is ``observation[t + m]`` (no done in the window), or
  the stored final observation of the cut step ``t + m - 1``. Its ``prev_action``
  / ``prev_reward`` are ``action[t + m - 1]`` / ``reward[t + m - 1]``: the step
  just before it, in the same episode.

Computing at sampling (vectorised over the batch and the window's steps)
instead of on append means an overwritten step can never leave a stale return
behind. Windows wrap around the end of the storage (slots modulo ``T``).
"""

from typing import NamedTuple

import numpy as np

__all__ = ["NStepWindow", "n_step_window", "prev_action_reward"]


class NStepWindow(NamedTuple):
    return_: np.ndarray  # float32, the discounted window return
    done_n: np.ndarray  # bool, the window ended in a termination
    bootstrap_discount: np.ndarray  # float32, discount^m * (1 - done_n)
    steps: np.ndarray  # int64, m: steps in the window (1 .. n_step_return)
    cut: np.ndarray  # bool, the window ended at a time-limit cut
    last_t: np.ndarray  # int64, slot of the window's last step (t + m - 1) % T


def n_step_window(
    storage, T_idxs: np.ndarray, B_idxs: np.ndarray, n_step_return: int, discount: float
) -> NStepWindow:
    """The n-step window of each ``(T_idxs, B_idxs)`` (arrays of one shape, slots mod T)."""
    if n_step_return == 1:
        return _one_step_window(storage, T_idxs, B_idxs, discount)
    T = storage.T
    t = (T_idxs[..., None] + np.arange(n_step_return)) % T  # [..., n]: the window's slots
    b = B_idxs[..., None]
    done = storage.done[t, b]
    # alive[..., k]: no done before step k of the window, so step k belongs to it.
    alive = np.cumsum(done, axis=-1) - done == 0
    ends = done & alive  # the done that ends the window, if any
    steps = alive.sum(axis=-1)
    discounts = np.power(float(discount), np.arange(n_step_return))
    return_ = (np.where(alive, storage.reward[t, b], 0.0) * discounts).sum(axis=-1)
    cut = (ends & storage.timeout[t, b]).any(axis=-1)
    done_n = ends.any(axis=-1) & ~cut
    bootstrap_discount = np.where(done_n, 0.0, np.power(float(discount), steps))
    return NStepWindow(
        return_=return_.astype(np.float32),
        done_n=done_n,
        bootstrap_discount=bootstrap_discount.astype(np.float32),
        steps=steps,
        cut=cut,
        last_t=(T_idxs + steps - 1) % T,
    )


def _one_step_window(storage, T_idxs, B_idxs, discount: float) -> NStepWindow:
    """:func:`n_step_window` for ``n_step_return=1``: the same values without the window
    axis (a third of the time; one-step DQN samples a batch per gradient step)."""
    done = storage.done[T_idxs, B_idxs]
    cut = done & storage.timeout[T_idxs, B_idxs]
    done_n = done & ~cut
    return NStepWindow(
        return_=storage.reward[T_idxs, B_idxs].astype(np.float32, copy=False),
        done_n=done_n,
        bootstrap_discount=np.where(done_n, 0.0, float(discount)).astype(np.float32),
        steps=np.ones(np.shape(T_idxs), dtype=np.int64),
        cut=cut,
        last_t=T_idxs % storage.T,
    )


def prev_action_reward(storage, T_idxs: np.ndarray, B_idxs: np.ndarray, mask_done: bool = True):
    """``(action, reward)`` of the step before each slot, zeroed after a ``done``.

    The agent saw the null action and zero reward at the first step of an
    episode (the step after a done); ``mask_done=False`` skips the zeroing.
    """
    t = (T_idxs - 1) % storage.T
    action = storage.action[t, B_idxs]
    reward = storage.reward[t, B_idxs]
    if mask_done:
        done = storage.done[t, B_idxs]
        if done.any():
            action[done] = 0
            reward[done] = 0
    return action, reward
