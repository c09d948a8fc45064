import multiprocessing as mp
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from collections import namedtuple

import numpy as np
import pytest
import torch

from rlpyt.utils.buffer import (
    buffer_from_example,
    buffer_func,
    buffer_method,
    buffer_to,
    build_array,
    get_leading_dims,
    np_mp_array,
    numpify_buffer,
    torchify_buffer,
)
from rlpyt.utils.collections import is_namedarraytuple
from rlpyt.utils.shared_memory import (
    SHM_DIR,
    SHM_PREFIX,
    SharedArray,
    release_shared_memory,
    sweep_stale_shared_memory,
)

Obs = namedtuple("Obs", ["image", "vec"])
Step = namedtuple("Step", ["observation", "reward", "done", "info"])


def example():
    return Step(
        observation=Obs(image=np.zeros((2, 3), np.uint8), vec=np.zeros(4, np.float32)),
        reward=np.float32(1.5),
        done=False,
        info=None,
    )


def our_segments():
    return {n for n in os.listdir(SHM_DIR) if n.startswith(f"{SHM_PREFIX}{os.getpid()}_")}


@pytest.mark.parametrize("share_memory", [False, True])
def test_buffer_from_example_shapes_dtypes_zero(share_memory):
    buf = buffer_from_example(example(), (5, 2), share_memory=share_memory)
    assert is_namedarraytuple(buf) and is_namedarraytuple(buf.observation)
    assert type(buf).__name__ == "Step" and buf._fields == Step._fields
    assert buf.observation.image.shape == (5, 2, 2, 3) and buf.observation.image.dtype == np.uint8
    assert buf.observation.vec.shape == (5, 2, 4) and buf.observation.vec.dtype == np.float32
    assert buf.reward.shape == (5, 2) and buf.reward.dtype == np.float32
    assert buf.done.shape == (5, 2) and buf.done.dtype == np.bool_
    assert buf.info is None
    assert not buf.observation.image.any() and not buf.reward.any()
    assert isinstance(buf.reward, SharedArray) == share_memory
    release_shared_memory(buf)


def test_int_leading_dims_and_plain_tuple():
    buf = buffer_from_example((np.zeros(2), 3), 7)
    assert type(buf) is tuple and buf[0].shape == (7, 2) and buf[1].shape == (7,)
    assert buf[1].dtype == np.asarray(3).dtype


def test_example_of_torch_tensor():
    buf = buffer_from_example(torch.zeros(3, dtype=torch.float16), (2,))
    assert buf.shape == (2, 3) and buf.dtype == np.float16


def test_non_numeric_example_is_refused_with_its_path():
    bad = Step(observation=Obs(image="pixels", vec=np.zeros(2)), reward=0.0, done=False, info=None)
    with pytest.raises(TypeError, match=r"observation\.image"):
        buffer_from_example(bad, (2,))
    with pytest.raises(TypeError, match="object"):
        build_array({"a": 1}, (2,))


def test_build_array_and_np_mp_array():
    a = build_array(np.zeros((3,), np.int16), (4, 5))
    assert a.shape == (4, 5, 3) and a.dtype == np.int16 and not isinstance(a, SharedArray)
    s = build_array(1.0, (2,), share_memory=True)
    assert isinstance(s, SharedArray) and s.shape == (2,) and s.dtype == np.float64
    m = np_mp_array((3, 2), "int32")
    assert isinstance(m, SharedArray) and m.shape == (3, 2) and not m.any()
    release_shared_memory((s, m))


def test_torchify_shares_memory_and_numpify_back():
    buf = buffer_from_example(example(), (3,), share_memory=True)
    t = torchify_buffer(buf)
    assert isinstance(t.observation.vec, torch.Tensor) and t.info is None
    t.observation.vec[1, 2] = 9.0
    assert buf.observation.vec[1, 2] == 9.0
    t.done[0] = True
    assert buf.done[0]
    n = numpify_buffer(t)
    n.reward[2] = 4.0
    assert buf.reward[2] == 4.0
    release_shared_memory(buf)


def test_buffer_to_method_func():
    t = torchify_buffer(buffer_from_example(example(), (2,)))
    moved = buffer_to(t, "cpu")
    assert moved.observation.vec.device.type == "cpu"
    assert buffer_to(t, None) is t
    floats = buffer_method(t.observation, "float")
    assert floats.image.dtype == torch.float32
    shapes = buffer_func(t.observation, lambda x, k: x.shape[0] * k, 10)
    assert shapes == type(t.observation)(20, 20)


def test_get_leading_dims():
    buf = buffer_from_example(example(), (5, 2))
    assert get_leading_dims(buf, 2) == (5, 2)
    assert get_leading_dims(buf) == (5,)
    broken = buf._replace(reward=np.zeros(3))
    with pytest.raises(ValueError, match="reward"):
        get_leading_dims(broken, 2)
    with pytest.raises(ValueError, match="no arrays"):
        get_leading_dims(Step(None, None, None, None))


def test_views_pickle_by_reference_and_new_arrays_by_value():
    buf = buffer_from_example(example(), (4, 2), share_memory=True)
    view = buf.observation.vec[1:3, 1]
    assert isinstance(view, SharedArray)
    back = pickle.loads(pickle.dumps(view))
    back[0, 0] = 5.0  # same process: attaches to the same memory
    assert buf.observation.vec[1, 1, 0] == 5.0
    fresh = buf.observation.vec + 1  # ufunc result: ordinary memory
    assert type(fresh) is np.ndarray
    copy = pickle.loads(pickle.dumps(buf.observation.vec.copy()))
    copy[:] = -1
    assert buf.observation.vec.min() == 0.0
    assert isinstance(buf.reward.sum(), np.floating)
    release_shared_memory(buf)


def _write_in_child(buf, view):
    buf.observation.image[0, 0, 1, 2] = 200
    buf.reward[3, 1] = 2.5
    view[:] = 7  # a view pickles with its offset and strides


@pytest.mark.timeout(60)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_shared_memory_visible_in_child(method):
    buf = buffer_from_example(example(), (4, 2), share_memory=True)
    view = buf.observation.vec[:, 1, ::2]  # non-contiguous view
    ctx = mp.get_context(method)
    p = ctx.Process(target=_write_in_child, args=(buf, view))
    p.start()
    p.join(timeout=30)
    assert p.exitcode == 0
    assert buf.observation.image[0, 0, 1, 2] == 200
    assert buf.reward[3, 1] == 2.5
    np.testing.assert_array_equal(buf.observation.vec[:, 1], np.tile([7, 0, 7, 0], (4, 1)))
    assert not buf.observation.vec[:, 0].any()
    release_shared_memory(buf)


def test_release_unlinks_and_is_idempotent():
    before = our_segments()
    buf = buffer_from_example(example(), (3,), share_memory=True)
    created = our_segments() - before
    assert len(created) == 1  # one segment for the whole buffer
    release_shared_memory(buf)
    release_shared_memory(buf)
    assert our_segments() == before
    buf.reward[0] = 1.0  # still mapped here, only the name is gone
    assert buf.reward[0] == 1.0


def test_garbage_collection_unlinks():
    before = our_segments()
    buf = buffer_from_example(example(), (3,), share_memory=True)
    assert our_segments() != before
    del buf
    import gc

    gc.collect()
    assert our_segments() == before


def test_exit_unlinks_and_fork_child_does_not():
    code = textwrap.dedent(
        """
        import os, sys, numpy as np
        from rlpyt.utils.buffer import buffer_from_example
        buf = buffer_from_example(np.zeros(3), (2,), share_memory=True)
        pid = os.fork()
        if pid == 0:
            del buf
            import gc; gc.collect()
            sys.exit(0)  # runs atexit in the child: must not unlink the parent's memory
        os.waitpid(pid, 0)
        seg = buf._segment.name
        print(seg, os.path.exists("/dev/shm/" + seg))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    name, existed = out.stdout.split()
    assert existed == "True"
    assert not os.path.exists(os.path.join(SHM_DIR, name))  # gone after the parent exited


def test_sweep_removes_segments_of_dead_owners(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead_pid = proc.pid
    stale = tmp_path / f"{SHM_PREFIX}{dead_pid}_deadbeef"
    live = tmp_path / f"{SHM_PREFIX}{os.getpid()}_cafe"
    other = tmp_path / "someone_else"
    for f in (stale, live, other):
        f.write_bytes(b"x")
    removed = sweep_stale_shared_memory(str(tmp_path))
    assert removed == [stale.name]
    assert not stale.exists() and live.exists() and other.exists()
    assert sweep_stale_shared_memory(str(tmp_path / "missing")) == []


def test_killed_owner_is_swept():
    code = "import numpy as np, time; from rlpyt.utils.buffer import np_mp_array; a = np_mp_array((8,), 'f4'); print(a._segment.name, flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        name = proc.stdout.readline().strip()
        assert os.path.exists(os.path.join(SHM_DIR, name))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    # Python's resource tracker may already have removed it; the sweep must leave nothing.
    sweep_stale_shared_memory()
    assert not os.path.exists(os.path.join(SHM_DIR, name))
