"""Preallocated ``[T, B]`` replay storage with a wrapping write cursor.

:class:`ReplayStorage` holds everything a replay keeps per step except the
observations: ``action``, ``reward``, ``done``, ``timeout``, ``valid`` (False on
wait-reset padding), the RNN states of sequence starts (one row every
``rnn_state_interval`` steps, ``[T // interval, B, ...]``) and, sparsely, the
final observations of time-limit cuts (a dict from the flat index ``t * B + b``
of the cut step to that observation, an entry dropped when its step is
overwritten). Observations live in an observation store:
:class:`ArrayObservations` (every observation in full) here, or
:class:`~rlpyt.replays.frame.FrameObservations` (each Atari frame once).

Time ``t`` of the storage is a slot, not an age: the cursor ``t`` is the next
slot to write; before the first wrap slots ``0 .. t - 1`` are written, after it
all are and slot ``t`` is the oldest.
"""

import numpy as np

from rlpyt.utils.buffer import buffer_from_example, buffer_method

__all__ = ["ReplayStorage", "ArrayObservations", "example_nbytes", "write_chunks"]


def example_nbytes(example, leading: tuple[int, ...]) -> int:
    """Bytes of ``buffer_from_example(example, leading)``, computed without allocating."""
    if example is None:
        return 0
    if isinstance(example, tuple):
        return sum(example_nbytes(e, leading) for e in example)
    a = np.asarray(example)
    return int(np.prod(leading + a.shape, dtype=np.int64)) * a.dtype.itemsize


def write_chunks(t: int, n: int, T: int) -> list[tuple[slice, slice]]:
    """``(storage slice, source slice)`` pairs writing ``n`` steps at slot ``t``, wrapping at ``T``."""
    first = min(n, T - t)
    chunks = [(slice(t, t + first), slice(0, first))]
    if first < n:
        chunks.append((slice(0, n - first), slice(first, n)))
    return chunks


class ArrayObservations:
    """Every observation stored in full: ``[T, B, *obs_shape]`` (nested observations too)."""

    def __init__(self, *, example_observation, T: int, B: int):
        self.example = example_observation
        self.T, self.B = T, B
        self.observation = None

    @property
    def planned_nbytes(self) -> int:
        return example_nbytes(self.example, (self.T, self.B))

    def allocate(self) -> None:
        self.observation = buffer_from_example(self.example, (self.T, self.B))

    def write(self, observation, chunks, first_append: bool) -> None:
        for dst, src in chunks:
            self.observation[dst] = observation[src]

    def read(self, T_idxs: np.ndarray, B_idxs: np.ndarray):
        """Observations at ``(T_idxs, B_idxs)`` (any matching shapes): a copy."""
        return self.observation[T_idxs, B_idxs]

    def state_dict(self) -> dict:
        return dict(observation=self.observation)

    def load_state_dict(self, state: dict) -> None:
        _copy_into(self.observation, state["observation"], "observation")


def _copy_into(dst, src, name: str) -> None:
    """Copy a (nested) saved array into the allocated one, checking shapes."""
    if dst is None:
        return
    if isinstance(dst, tuple):
        # Field names of a namedtuple (a plain tuple has none).
        for field, d, s in zip(getattr(dst, "_fields", range(len(dst))), dst, src):
            _copy_into(d, s, f"{name}.{field}")
        return
    src = np.asarray(src)
    if src.shape != dst.shape:
        raise ValueError(
            f"replay load_state_dict: {name} has shape {src.shape}, this buffer has "
            f"{dst.shape}: the saved replay was built with another size, B or example"
        )
    np.copyto(dst, src)


class ReplayStorage:
    """Per-step arrays ``[T, B]`` (all but observations), cursor and sparse final observations.

    Args:
        example: one ``SamplesToBuffer*`` entry (no leading dims).
        T, B: slots per env and envs.
        rnn_state_interval: store ``prev_rnn_state`` (if the example has it) at
            slots that are multiples of this.
    """

    def __init__(self, *, example, T: int, B: int, rnn_state_interval: int = 1):
        self.example = example
        self.T, self.B = T, B
        self.rnn_state_interval = rnn_state_interval
        self.has_rnn_state = "prev_rnn_state" in example._fields
        self.t = 0
        self.full = False
        self.n_appended = 0  # steps per env appended in all (not wrapped)
        self.final_observation: dict[int, object] = {}
        self.action = self.reward = self.done = self.timeout = self.valid = None
        self.prev_rnn_state = None

    @property
    def planned_nbytes(self) -> int:
        lead = (self.T, self.B)
        n = example_nbytes(self.example.action, lead) + example_nbytes(self.example.reward, lead)
        n += 3 * self.T * self.B  # done, timeout, valid (bool)
        if self.has_rnn_state:
            rows = self.T // self.rnn_state_interval
            n += example_nbytes(self.example.prev_rnn_state, (rows, self.B))
        return n

    def allocate(self) -> None:
        lead = (self.T, self.B)
        self.action = buffer_from_example(self.example.action, lead)
        self.reward = buffer_from_example(self.example.reward, lead)
        self.done = np.zeros(lead, dtype=bool)
        self.timeout = np.zeros(lead, dtype=bool)
        self.valid = np.zeros(lead, dtype=bool)
        if self.has_rnn_state:
            rows = self.T // self.rnn_state_interval
            self.prev_rnn_state = buffer_from_example(self.example.prev_rnn_state, (rows, self.B))

    @property
    def n_rows_written(self) -> int:
        """Slots holding data: ``T`` once wrapped, else the cursor."""
        return self.T if self.full else self.t

    def write(self, samples, valid: np.ndarray, chunks) -> None:
        """Write the numpy ``[n, B]`` ``samples`` into ``chunks`` and advance the cursor."""
        B = self.B
        for dst, src in chunks:
            # Final observations of the cuts about to be overwritten go with them.
            for t, b in zip(*np.nonzero(self.done[dst] & self.timeout[dst])):
                self.final_observation.pop((dst.start + int(t)) * B + int(b), None)
            self.action[dst] = samples.action[src]
            self.reward[dst] = samples.reward[src]
            self.done[dst] = samples.done[src]
            self.timeout[dst] = samples.timeout[src]
            self.valid[dst] = valid[src]
            cut = self.done[dst] & self.timeout[dst]
            for t, b in zip(*np.nonzero(cut)):
                final = samples.final_observation[src.start + t, b]
                key = (dst.start + int(t)) * B + int(b)
                self.final_observation[key] = buffer_method(final, "copy")
            if self.has_rnn_state:
                self._write_rnn_state(samples.prev_rnn_state, dst, src)
        n = sum(dst.stop - dst.start for dst, _ in chunks)
        self.n_appended += n
        if self.t + n >= self.T:
            self.full = True
        self.t = (self.t + n) % self.T

    def _write_rnn_state(self, prev_rnn_state, dst: slice, src: slice) -> None:
        interval = self.rnn_state_interval
        first = -dst.start % interval  # offset of the first slot that is a multiple
        slots = np.arange(dst.start + first, dst.stop, interval)
        if slots.size:
            offsets = src.start + (slots - dst.start)
            self.prev_rnn_state[slots // interval] = prev_rnn_state[offsets]

    def new_unit_rows(self, t0: int, n: int, interval: int) -> np.ndarray:
        """Unit rows (slot // interval) whose first slot was written by an append of ``n`` at ``t0``."""
        first = -t0 % interval
        return ((t0 + np.arange(first, n, interval)) % self.T) // interval

    def state_dict(self) -> dict:
        return dict(
            action=self.action,
            reward=self.reward,
            done=self.done,
            timeout=self.timeout,
            valid=self.valid,
            prev_rnn_state=self.prev_rnn_state,
            final_observation=dict(self.final_observation),
            t=self.t,
            full=self.full,
            n_appended=self.n_appended,
        )

    def load_state_dict(self, state: dict) -> None:
        for name in ("action", "reward", "done", "timeout", "valid", "prev_rnn_state"):
            # This storage's own arrays, by name.
            _copy_into(getattr(self, name), state[name], name)
        self.final_observation = dict(state["final_observation"])
        self.t, self.full = int(state["t"]), bool(state["full"])
        self.n_appended = int(state["n_appended"])
