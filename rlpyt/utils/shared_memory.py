"""Numpy arrays in POSIX shared memory that worker processes can attach to.

One :class:`multiprocessing.shared_memory.SharedMemory` segment holds any number
of arrays. Segments are named ``rlpyt_<owner pid>_<random>`` so that a later run
can recognise, and sweep, segments left behind by a process that was killed.

* Under ``fork`` a child simply inherits the mapping.
* Under ``spawn``/``forkserver`` a :class:`SharedArray` (or any view of one)
  pickles as a reference (segment name, offset, shape, strides, dtype); the
  child attaches to the same memory instead of receiving a copy.
* The owner unlinks its segments in :func:`release_shared_memory`, when the
  segment is garbage collected, or at interpreter exit; children never unlink.
"""

import atexit
import os
import secrets
import weakref
from multiprocessing import shared_memory

import numpy as np

__all__ = [
    "SharedArray",
    "allocate_shared_arrays",
    "release_shared_memory",
    "sweep_stale_shared_memory",
    "SHM_PREFIX",
    "SHM_DIR",
]

SHM_PREFIX = "rlpyt_"
SHM_DIR = "/dev/shm"
_ALIGN = 64  # bytes; keeps every array cache-line aligned inside its segment

# Segments created by this process, by name (weak: unlinked when unreferenced).
_OWNED: "weakref.WeakValueDictionary[str, _Segment]" = weakref.WeakValueDictionary()
# Segments this process attached to (unpickled references), by name.
_ATTACHED: "weakref.WeakValueDictionary[str, _Segment]" = weakref.WeakValueDictionary()


def _unlink(shm: shared_memory.SharedMemory, owner_pid: int) -> None:
    # Runs from a finalizer: after a fork the child holds a copy of the owner's
    # finalizers, and must not unlink memory that the owner still uses.
    if os.getpid() != owner_pid:
        return
    try:
        shm.unlink()
    except FileNotFoundError:
        pass


class _Segment:
    """One shared-memory segment; the owner's copy unlinks it when finalized."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool):
        self.shm = shm
        self.name = shm.name
        self.address = np.frombuffer(shm.buf, dtype=np.uint8).ctypes.data
        self.size = shm.size
        self._finalizer = None
        if owner:
            self._finalizer = weakref.finalize(self, _unlink, shm, os.getpid())

    def unlink(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # idempotent: finalize objects run at most once

    def __reduce__(self):
        return _attach_segment, (self.name,)


def _open_existing(name: str) -> shared_memory.SharedMemory:
    try:  # Python >= 3.13: do not let this process's resource tracker own it
        return shared_memory.SharedMemory(name=name, track=False)
    except TypeError:
        # Before 3.13 attaching registers with the resource tracker. Our workers
        # are children of the owner and share its tracker, so this is harmless.
        return shared_memory.SharedMemory(name=name)


def _attach_segment(name: str) -> _Segment:
    seg = _OWNED.get(name) or _ATTACHED.get(name)
    if seg is None:
        try:
            shm = _open_existing(name)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"shared memory segment {name!r} no longer exists: its owner released it "
                "(or exited) before this process attached"
            ) from None
        seg = _Segment(shm, owner=False)
        _ATTACHED[name] = seg
    return seg


def _rebuild(segment: _Segment, offset: int, shape, strides, dtype) -> "SharedArray":
    arr = np.ndarray(shape, dtype=dtype, buffer=segment.shm.buf, offset=offset, strides=strides)
    arr = arr.view(SharedArray)
    arr._segment = segment
    return arr


class SharedArray(np.ndarray):
    """An ndarray living in a shared-memory segment; pickles by reference.

    Views (slices, reshapes) stay SharedArrays and pickle by reference too; a
    new array computed from one (``a + 1``) is ordinary memory and pickles by
    value as usual.
    """

    _segment: _Segment | None = None

    def __array_finalize__(self, obj):
        # numpy hands any array here: only shared ones have a segment.
        seg = getattr(obj, "_segment", None)
        if seg is not None and self.nbytes > 0:
            start = self.__array_interface__["data"][0]
            if not seg.address <= start < seg.address + seg.size:
                seg = None  # fresh memory (a ufunc result), not a view of ours
        self._segment = seg

    def __reduce__(self):
        seg = self._segment
        if seg is None:
            return np.ndarray.__reduce__(self.view(np.ndarray))
        offset = self.__array_interface__["data"][0] - seg.address
        return _rebuild, (seg, offset, self.shape, self.strides, self.dtype.str)

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        # Results of ufuncs and reductions are new memory: plain ndarrays.
        out = np.asarray(obj)
        if return_scalar and out.ndim == 0:
            return out[()]
        return out


def allocate_shared_arrays(specs: list[tuple[tuple[int, ...], np.dtype]]) -> list[SharedArray]:
    """Zero-filled SharedArrays of the given (shape, dtype), all in one segment."""
    offsets, total = [], 0
    for shape, dtype in specs:
        offsets.append(total)
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        total += -(-nbytes // _ALIGN) * _ALIGN
    name = f"{SHM_PREFIX}{os.getpid()}_{secrets.token_hex(6)}"
    shm = shared_memory.SharedMemory(name=name, create=True, size=max(total, 1))
    segment = _Segment(shm, owner=True)
    _OWNED[name] = segment
    # New POSIX segments are zero-filled by the kernel: no memset needed.
    return [
        _rebuild(segment, offset, shape, None, np.dtype(dtype).str)
        for (shape, dtype), offset in zip(specs, offsets)
    ]


def release_shared_memory(buffer_) -> None:
    """Unlink the segments behind every SharedArray in ``buffer_`` (owner only).

    ``buffer_`` may be an array or a (nested) tuple/namedtuple of arrays. The
    memory stays valid in processes that still map it; the name is gone from
    ``/dev/shm`` at once. Calling it again, or from a non-owner, does nothing.
    """
    if buffer_ is None:
        return
    if isinstance(buffer_, np.ndarray):
        # Any array: only shared ones have a segment.
        seg = getattr(buffer_, "_segment", None)
        if seg is not None:
            seg.unlink()
        return
    if isinstance(buffer_, tuple | list):
        for b in buffer_:
            release_shared_memory(b)


def _release_all_owned() -> None:
    for seg in list(_OWNED.values()):
        seg.unlink()


atexit.register(_release_all_owned)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def sweep_stale_shared_memory(directory: str = SHM_DIR) -> list[str]:
    """Unlink ``rlpyt_<pid>_*`` segments whose owner process is gone.

    A run killed with SIGKILL cannot clean up after itself; the next start calls
    this. Returns the names removed. Does nothing where ``directory`` is absent.
    """
    removed = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    for name in names:
        if not name.startswith(SHM_PREFIX):
            continue
        pid_text = name[len(SHM_PREFIX) :].split("_", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        try:
            os.unlink(os.path.join(directory, name))
            removed.append(name)
        except OSError:
            pass
    return removed
