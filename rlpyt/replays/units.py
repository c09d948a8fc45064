"""Which units of a replay may be sampled now (FAULTS F3).

A *unit* is what one sample draws: a transition (non-sequence buffers) or a
sequence start (sequence buffers, one every ``interval`` slots). Unit ``(r, b)``
starts at slot ``s = r * interval`` and reads the slots ``s - back .. s + L - 1``:
``back`` slots of history (the previous step's action and reward for
``prev_action`` / ``prev_reward``; the older frames of a frame stack) and ``L``
slots forward (``n_step_return + 1`` for a transition: the window and its
bootstrap observation; ``warmup_T + batch_T + n_step_return`` for a sequence).

A unit is sampleable (``ok``) when

* all its slots are written and in order: the window does not reach past the
  newest step (its n-step future is not written yet) nor back across the cursor
  into newer data (its history was overwritten). Before the first wrap, slots
  "before slot 0" are the history the first append brought (see
  :mod:`rlpyt.replays.frame`), valid until the cursor overwrites them;
* and it is not wait-reset padding: for a transition, ``valid[s]``; for a
  sequence, at least one of its trained steps is valid.

The ``ok`` mask ``[rows * B]`` and its count are updated after each append for the
units whose window touches the slots just written (no other unit changes status).
"""

import numpy as np

__all__ = ["SampleableUnits"]


class SampleableUnits:
    """The ``ok`` mask over units and its count (see the module docstring).

    Args:
        T, B: storage slots per env, envs.
        interval: slots per unit row (1 for transitions).
        back: history slots a unit reads before its start.
        L: slots a unit reads from its start on.
        train_offset, train_length: the slots (relative to the start) whose
            validity makes the unit worth sampling.
    """

    def __init__(
        self,
        *,
        T: int,
        B: int,
        interval: int,
        back: int,
        L: int,
        train_offset: int = 0,
        train_length: int = 1,
    ):
        self.T, self.B, self.interval = T, B, interval
        self.rows = T // interval
        self.back, self.L = back, L
        self._train_slots = train_offset + np.arange(train_length)
        self.ok = None
        self.n_ok = 0

    @property
    def planned_nbytes(self) -> int:
        return self.rows * self.B

    def allocate(self) -> None:
        self.ok = np.zeros(self.rows * self.B, dtype=bool)

    def n_candidate_rows(self, storage) -> int:
        """Rows whose start slot is written: the rows a uniform draw may try."""
        return self.rows if storage.full else -(-storage.t // self.interval)

    def in_range(self, starts: np.ndarray, storage) -> np.ndarray:
        """Bool per start slot: the window ``start - back .. start + L - 1`` is written, in order."""
        t, T = storage.t, self.T
        if storage.full:
            age_of_first = (starts - self.back - t) % T  # 0: the oldest slot
            return age_of_first + self.back + self.L <= T
        return (starts + self.L <= t) & (starts + T - self.back >= t)

    def refresh(self, storage, t0: int, n: int) -> np.ndarray:
        """Recompute ``ok`` of the units touched by an append of ``n`` steps at slot ``t0``.

        Returns the flat unit indices recomputed (their new status is ``ok[idxs]``).
        """
        step = self.interval
        lo = -(-(t0 - self.L + 1) // step)  # first start slot whose window reaches t0
        hi = (t0 + n + self.back - 1) // step  # last start whose history reaches the new data
        if hi - lo + 1 >= self.rows:
            rows = np.arange(self.rows)
        else:
            rows = np.arange(lo, hi + 1) % self.rows
        starts = rows * step
        ok = self.in_range(starts, storage)[:, None] & self._any_valid(starts, storage)
        idxs = (rows[:, None] * self.B + np.arange(self.B)).reshape(-1)
        ok = ok.reshape(-1)
        self.n_ok += int(ok.sum()) - int(self.ok[idxs].sum())
        self.ok[idxs] = ok
        return idxs

    def _any_valid(self, starts: np.ndarray, storage) -> np.ndarray:
        slots = (starts[:, None] + self._train_slots) % self.T  # [rows, train_length]
        return storage.valid[slots].any(axis=1)  # [rows, B]

    def state_dict(self) -> dict:
        return dict(ok=self.ok, n_ok=self.n_ok)

    def load_state_dict(self, state: dict) -> None:
        ok = np.asarray(state["ok"])
        if ok.shape != self.ok.shape:
            raise ValueError(
                f"replay load_state_dict: ok has shape {ok.shape}, this buffer has "
                f"{self.ok.shape}: the saved replay was built with another size, B or interval"
            )
        np.copyto(self.ok, ok)
        self.n_ok = int(state["n_ok"])
