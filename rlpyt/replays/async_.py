"""A replay buffer shared between a writer (new samples) and a reader (the optimizer).

:class:`RWLock` is a readers-writer lock built from :mod:`multiprocessing`
primitives, so it works between threads and between processes alike. Every
acquire has a timeout: a holder that died or hung becomes a
:class:`TimeoutError` naming the lock, never a silent hang.

:class:`AsyncReplayBuffer` wraps any replay buffer of :mod:`rlpyt.replays`:
``append_samples`` runs under the write lock, ``sample_batch`` under the read
lock, and priority updates (prioritized replay) under the write lock. So a
reader never sees a half-written batch (a torn read), and the buffer's FIFO
order on wraparound is the writer's order.

In :class:`~rlpyt.runners.async_rl.AsyncRl` the writer is a thread of the
training process that copies each batch the sampler process finished (from
the shared-memory double buffer) into the replay, while the optimizer samples
from it in the main thread. The replay itself stays in the training process:
its cursor, sum tree and sparse final observations are ordinary Python state
that only one process touches. What the writer's append does besides the
replay (folding observations into normalisation statistics) waits in a
:class:`DeferredUpdate` for the reader's thread. The algorithm sets both up
itself, in its hook ``enable_concurrent_append`` (see
:class:`~rlpyt.algos.replay.ReplayAlgorithm`), which the runner calls.
"""

import contextlib
import copy
import multiprocessing as mp
import threading

__all__ = ["RWLock", "AsyncReplayBuffer", "DeferredUpdate"]

DEFAULT_LOCK_TIMEOUT = 120.0  # seconds; far above any single append or sample


class RWLock:
    """Many readers or one writer, with timeouts (process- and thread-safe).

    Args:
        ctx: a multiprocessing context (default: the platform's default).
        timeout: seconds an acquire may wait before :class:`TimeoutError`.
        name: named in error messages.

    Use ``with lock.read():`` / ``with lock.write():``. Readers share the lock;
    the first reader in takes the writer lock and the last one out gives it back.
    """

    def __init__(self, ctx=None, timeout: float = DEFAULT_LOCK_TIMEOUT, name: str = "replay"):
        if not timeout > 0:
            raise ValueError(f"RWLock timeout must be > 0 seconds, got {timeout!r}")
        ctx = ctx or mp.get_context()
        self.timeout = float(timeout)
        self.name = name
        self._write_lock = ctx.Lock()  # held by a writer, or by the readers as a group
        self._readers_mutex = ctx.Lock()  # guards the reader count
        self._n_readers = ctx.RawValue("i", 0)

    def _acquire(self, lock, what: str) -> None:
        if not lock.acquire(timeout=self.timeout):
            raise TimeoutError(
                f"{self.name} lock: could not {what} within {self.timeout:g} s; the holder "
                "(sampler copier or optimizer) hung or died while holding it"
            )

    def acquire_read(self) -> None:
        self._acquire(self._readers_mutex, "enter as a reader")
        try:
            if self._n_readers.value == 0:
                self._acquire(self._write_lock, "acquire for reading (a writer holds it)")
            self._n_readers.value += 1
        finally:
            self._readers_mutex.release()

    def release_read(self) -> None:
        self._acquire(self._readers_mutex, "leave as a reader")
        try:
            if self._n_readers.value < 1:
                raise RuntimeError(f"{self.name} lock: release_read without acquire_read")
            self._n_readers.value -= 1
            if self._n_readers.value == 0:
                self._write_lock.release()
        finally:
            self._readers_mutex.release()

    def acquire_write(self) -> None:
        self._acquire(self._write_lock, "acquire for writing")

    def release_write(self) -> None:
        self._write_lock.release()

    @contextlib.contextmanager
    def read(self):
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextlib.contextmanager
    def write(self):
        self.acquire_write()
        try:
            yield
        finally:
            self.release_write()


class AsyncReplayBuffer:
    """Any replay buffer behind a :class:`RWLock` (see the module docstring).

    Args:
        replay_buffer: the wrapped buffer (uniform, prioritized, frame, sequence).
        lock: the lock to use (default: a new :class:`RWLock`).

    Other attributes (``size``, ``n_sampleable``, ``state_dict``...) are read
    from the wrapped buffer; ``state_dict`` and ``load_state_dict`` take the
    write lock too, so a snapshot is consistent.
    """

    def __init__(self, replay_buffer, lock: RWLock | None = None):
        if isinstance(replay_buffer, AsyncReplayBuffer):
            raise TypeError(
                "AsyncReplayBuffer wraps a replay buffer, not another AsyncReplayBuffer"
            )
        self.replay_buffer = replay_buffer
        self.rw_lock = lock or RWLock()

    def append_samples(self, samples, **kwargs):
        with self.rw_lock.write():
            return self.replay_buffer.append_samples(samples, **kwargs)

    def sample_batch(self, *args, **kwargs):
        with self.rw_lock.read():
            return self.replay_buffer.sample_batch(*args, **kwargs)

    def update_batch_priorities(self, priorities):
        with self.rw_lock.write():
            return self.replay_buffer.update_batch_priorities(priorities)

    def set_beta(self, beta: float):
        with self.rw_lock.write():
            return self.replay_buffer.set_beta(beta)

    def state_dict(self) -> dict:
        """A copy taken under the write lock (the live arrays change with the next append)."""
        with self.rw_lock.write():
            return copy.deepcopy(self.replay_buffer.state_dict())

    def load_state_dict(self, state: dict):
        with self.rw_lock.write():
            return self.replay_buffer.load_state_dict(state)

    def __getattr__(self, name):
        # Only called for names not found above: read-only attributes of the buffer.
        if name == "replay_buffer":  # not yet set (e.g. during unpickling)
            raise AttributeError(name)
        return getattr(self.replay_buffer, name)


class DeferredUpdate:
    """``update(x)`` called from the writer thread, made later in the reader's thread.

    Calling it queues a copy of the tensor ``x`` (the writer's source is reused
    once appended); :meth:`flush` makes the queued calls in order, in the
    calling thread, so state that the reader's forward passes use (e.g. running
    observation statistics) never changes under them.
    """

    def __init__(self, update):
        self._update = update
        self._pending = []
        self._lock = threading.Lock()

    def __call__(self, x) -> None:
        with self._lock:
            self._pending.append(x.clone())

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for x in pending:
            self._update(x)
