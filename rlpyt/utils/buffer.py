"""Build and transform (nested) buffers of arrays.

A *buffer* is an array (numpy or torch), ``None``, or a namedtuple/tuple of
buffers. Buffers are built once from an *example* (one environment step, one
agent step) with extra leading dimensions, typically ``[T, B]``; nothing on the
sampling hot path allocates afterwards.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rlpyt.utils.collections import is_namedtuple, namedarraytuple_like
from rlpyt.utils.shared_memory import allocate_shared_arrays

__all__ = [
    "buffer_from_example",
    "build_array",
    "np_mp_array",
    "torchify_buffer",
    "numpify_buffer",
    "buffer_to",
    "buffer_method",
    "buffer_func",
    "get_leading_dims",
]


def _as_dims(leading_dims) -> tuple[int, ...]:
    if isinstance(leading_dims, int | np.integer):
        return (int(leading_dims),)
    return tuple(int(d) for d in leading_dims)


def _example_array(example, path: str) -> np.ndarray:
    if isinstance(example, torch.Tensor):
        example = example.detach().cpu().numpy()
    a = np.asarray(example)
    if a.dtype == object or a.dtype.kind in "USV":
        raise TypeError(
            f"buffer example {path or 'value'} has dtype {a.dtype} "
            f"({type(example).__name__}): only numeric and bool arrays can be buffered"
        )
    return a


def _collect_specs(example, leading_dims, path, specs):
    """Walk the example; append (shape, dtype) for each leaf, return a skeleton."""
    if example is None:
        return None
    if isinstance(example, tuple):
        # Field names of a namedtuple (a plain tuple has none).
        skeleton = tuple(
            _collect_specs(v, leading_dims, f"{path}.{name}" if path else name, specs)
            for name, v in zip(getattr(example, "_fields", range(len(example))), example)
        )
        if is_namedtuple(example):
            return namedarraytuple_like(example)(*skeleton)
        return skeleton
    a = _example_array(example, path)
    specs.append((leading_dims + a.shape, a.dtype))
    return len(specs) - 1


def _fill_skeleton(skeleton, arrays):
    if skeleton is None:
        return None
    if isinstance(skeleton, tuple):
        contents = tuple(_fill_skeleton(s, arrays) for s in skeleton)
        return type(skeleton)(*contents) if is_namedtuple(skeleton) else contents
    return arrays[skeleton]


def buffer_from_example(example: Any, leading_dims, share_memory: bool = False):
    """Zero-filled buffer shaped like ``example`` with ``leading_dims`` in front.

    Namedtuples in the example become namedarraytuples (same name and fields),
    plain tuples stay tuples, ``None`` stays ``None``. With ``share_memory`` all
    arrays live in one shared-memory segment (see :mod:`rlpyt.utils.shared_memory`).
    """
    leading_dims = _as_dims(leading_dims)
    specs: list = []
    skeleton = _collect_specs(example, leading_dims, "", specs)
    if share_memory:
        arrays = allocate_shared_arrays(specs)
    else:
        arrays = [np.zeros(shape, dtype=dtype) for shape, dtype in specs]
    return _fill_skeleton(skeleton, arrays)


def build_array(example, leading_dims, share_memory: bool = False) -> np.ndarray:
    """Zero-filled array of ``leading_dims + shape(example)`` and example's dtype."""
    a = _example_array(example, "")
    shape = _as_dims(leading_dims) + a.shape
    if share_memory:
        return np_mp_array(shape, a.dtype)
    return np.zeros(shape, dtype=a.dtype)


def np_mp_array(shape, dtype) -> np.ndarray:
    """A zero-filled shared-memory array (the original's name, kept for porting)."""
    return allocate_shared_arrays([(_as_dims(shape), np.dtype(dtype))])[0]


def _map(buffer_, leaf_fn):
    if buffer_ is None:
        return None
    if isinstance(buffer_, tuple):
        contents = tuple(_map(b, leaf_fn) for b in buffer_)
        return buffer_._make(contents) if is_namedtuple(buffer_) else contents
    return leaf_fn(buffer_)


def _torchify_leaf(x):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    return x


def _numpify_leaf(x):
    if isinstance(x, torch.Tensor):
        return x.numpy() if x.device.type == "cpu" else x.cpu().numpy()
    return x


def torchify_buffer(buffer_):
    """Numpy arrays to torch tensors sharing the same memory (no copy)."""
    return _map(buffer_, _torchify_leaf)


def numpify_buffer(buffer_):
    """Torch tensors to numpy arrays (sharing memory for CPU tensors)."""
    if type(buffer_) is torch.Tensor:  # one tensor (e.g. a step's actions): no tree walk
        return _numpify_leaf(buffer_)
    return _map(buffer_, _numpify_leaf)


def buffer_to(buffer_, device=None):
    """Move every tensor to ``device`` (non-tensors are left as they are)."""
    if device is None:
        return buffer_
    return _map(buffer_, lambda x: x.to(device) if isinstance(x, torch.Tensor) else x)


def buffer_method(buffer_, method_name: str, *args, **kwargs):
    """Call ``leaf.method_name(*args, **kwargs)`` on every leaf."""
    # A method of every leaf (array or tensor), by name.
    return _map(buffer_, lambda x: getattr(x, method_name)(*args, **kwargs))


def buffer_func(buffer_, func: Callable, *args, **kwargs):
    """Apply ``func(leaf, *args, **kwargs)`` to every leaf."""
    return _map(buffer_, lambda x: func(x, *args, **kwargs))


def _leaves(buffer_, path=""):
    if buffer_ is None:
        return
    if isinstance(buffer_, tuple):
        # Field names of a namedtuple (a plain tuple has none).
        names = getattr(buffer_, "_fields", range(len(buffer_)))
        for name, b in zip(names, buffer_):
            yield from _leaves(b, f"{path}.{name}" if path else str(name))
        return
    yield path, buffer_


def get_leading_dims(buffer_, n_dim: int = 1) -> tuple[int, ...]:
    """The first ``n_dim`` dimensions, which every leaf must share."""
    dims, first = None, None
    for path, leaf in _leaves(buffer_):
        leaf_dims = tuple(leaf.shape[:n_dim])
        if len(leaf_dims) < n_dim:
            raise ValueError(
                f"buffer field {path} has shape {tuple(leaf.shape)}, fewer than {n_dim} dims"
            )
        if dims is None:
            dims, first = leaf_dims, path
        elif leaf_dims != dims:
            raise ValueError(f"leading dims differ: {first} has {dims}, {path} has {leaf_dims}")
    if dims is None:
        raise ValueError("get_leading_dims: buffer holds no arrays")
    return dims
