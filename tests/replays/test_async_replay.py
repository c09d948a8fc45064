"""The read-write lock and the async replay wrapper: no torn reads under a concurrent writer."""

import multiprocessing as mp
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_helpers import example, make_batch

from rlpyt.replays.async_ import AsyncReplayBuffer, RWLock
from rlpyt.replays.non_sequence.uniform import UniformReplayBuffer
from rlpyt.utils.shared_memory import allocate_shared_arrays, release_shared_memory

pytestmark = pytest.mark.timeout(60)

CTX = mp.get_context("fork")


def _writer(lock, array, n_versions, started):
    """Write version k into every element, one element at a time (a slow, tearable write)."""
    started.set()
    for k in range(1, n_versions + 1):
        with lock.write():
            for i in range(array.shape[0]):
                array[i] = k
        time.sleep(0.0005)


def _read_versions(lock, array, writer, use_lock=True):
    """Snapshots of ``array`` read while ``writer`` runs (under the read lock if asked)."""
    snapshots = []
    while writer.is_alive():
        if use_lock:
            with lock.read():
                snapshots.append(array.copy())
        else:
            snapshots.append(array.copy())
    return snapshots


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(size=st.integers(min_value=64, max_value=2048), n_versions=st.integers(20, 60))
def test_no_torn_reads_under_a_concurrent_writer_process(size, n_versions):
    lock = RWLock(CTX, timeout=10.0)
    (array,) = allocate_shared_arrays([((size,), np.int64)])
    started = CTX.Event()
    writer = CTX.Process(target=_writer, args=(lock, array, n_versions, started))
    try:
        writer.start()
        assert started.wait(10.0)
        snapshots = _read_versions(lock, array, writer)
        writer.join(10.0)
        assert writer.exitcode == 0
    finally:
        if writer.is_alive():
            writer.kill()
        release_shared_memory(array)
    versions = [int(s[0]) for s in snapshots]
    torn = [v for v, s in zip(versions, snapshots) if not np.all(s == v)]
    assert torn == []
    assert versions == sorted(versions)  # the writer's order, never older after newer
    assert versions and versions[-1] >= 1


def test_without_the_lock_the_same_reader_does_see_torn_reads():
    """The property test above can fail: unlocked reads of the slow writer are torn."""
    lock = RWLock(CTX, timeout=10.0)
    (array,) = allocate_shared_arrays([((20_000,), np.int64)])
    started = CTX.Event()
    writer = CTX.Process(target=_writer, args=(lock, array, 200, started))
    try:
        writer.start()
        assert started.wait(10.0)
        snapshots = _read_versions(lock, array, writer, use_lock=False)
        writer.join(10.0)
    finally:
        if writer.is_alive():
            writer.kill()
        release_shared_memory(array)
    assert any(not np.all(s == s[0]) for s in snapshots)


def test_readers_share_and_writers_exclude():
    lock = RWLock(CTX, timeout=0.3, name="test")
    lock.acquire_read()
    lock.acquire_read()  # a second reader does not wait for the first
    with pytest.raises(TimeoutError, match="test lock: could not acquire for writing within 0.3 s"):
        lock.acquire_write()
    lock.release_read()
    lock.release_read()
    with lock.write():
        got = []
        thread = threading.Thread(target=lambda: got.append(_try(lock.acquire_read)))
        thread.start()
        thread.join()
    assert isinstance(got[0], TimeoutError)
    assert "a writer holds it" in str(got[0])
    with lock.read():  # free again after the failed attempt
        pass
    with pytest.raises(RuntimeError, match="release_read without acquire_read"):
        lock.release_read()
    with pytest.raises(ValueError, match="timeout must be > 0"):
        RWLock(CTX, timeout=0)


def _try(fn):
    try:
        fn()
    except Exception as err:  # noqa: BLE001
        return err
    return None


def test_async_replay_samples_whole_transitions_while_a_thread_appends():
    B, T = 4, 16
    replay = AsyncReplayBuffer(
        UniformReplayBuffer(example=example(), size=T * B * 4, B=B, n_step_return=1, seed=3)
    )
    rewards = [lambda g: float(g)] * B
    replay.append_samples(make_batch(0, T, rewards))
    stop = threading.Event()
    n_appended = []

    def append_loop():
        g = T
        while not stop.is_set() and g < 200 * T:
            replay.append_samples(make_batch(g, T, rewards))
            g += T
        n_appended.append(g // T)

    writer = threading.Thread(target=append_loop)
    writer.start()
    try:
        for _ in range(300):
            batch = replay.sample_batch(32)
            obs = batch.agent_inputs.observation.numpy()
            g, b = obs[:, 0], obs[:, 1]
            np.testing.assert_array_equal(batch.action.numpy(), 10 * g + b + 1)
            np.testing.assert_array_equal(batch.return_.numpy(), g)
    finally:
        stop.set()
        writer.join(10.0)
    assert n_appended and n_appended[0] > 1
    assert replay.size == replay.replay_buffer.size  # other attributes pass through
    state = replay.state_dict()
    assert state["storage"]["t"] == replay.storage.t
    with pytest.raises(TypeError, match="not another AsyncReplayBuffer"):
        AsyncReplayBuffer(replay)


def _ring_steps(replay):
    """Global step of every stored row, oldest first (the ring read from the cursor)."""
    storage = replay.replay_buffer.storage
    if storage.action is None:  # allocated at the first append
        return np.zeros((0, 0), dtype=np.int64)
    rows = storage.n_rows_written
    start = storage.t if storage.full else 0
    order = (start + np.arange(rows)) % storage.T
    return (storage.action[order] - 1) // 10  # actions are 10 * g + b + 1


def test_fifo_order_is_kept_when_the_ring_wraps_under_a_concurrent_writer():
    """FAULTS.md F4: the oldest steps are overwritten first, even mid-batch, mid-sample."""
    B, T, ring_T = 4, 16, 40  # 40 slots per env: the cursor wraps in the middle of a batch
    replay = AsyncReplayBuffer(
        UniformReplayBuffer(example=example(), size=ring_T * B, B=B, n_step_return=1, seed=5)
    )
    rewards = [lambda g: float(g)] * B
    n_batches = 40
    done = threading.Event()

    def append_loop():
        for k in range(n_batches):
            replay.append_samples(make_batch(k * T, T, rewards))
        done.set()

    writer = threading.Thread(target=append_loop)
    writer.start()
    checks = 0
    try:
        while not done.is_set() or checks == 0:
            with replay.rw_lock.read():  # the reader's view: one consistent ring
                steps = _ring_steps(replay)
            if len(steps):
                # Every env holds consecutive steps, the newest ones, oldest at the cursor.
                expected = steps[0, 0] + np.arange(len(steps))
                for b in range(B):
                    np.testing.assert_array_equal(steps[:, b], expected)
                checks += 1
    finally:
        writer.join(10.0)
    steps = _ring_steps(replay)
    np.testing.assert_array_equal(steps[:, 0], np.arange(n_batches * T - ring_T, n_batches * T))
    assert replay.replay_buffer.storage.full and checks > 0
