"""Tensor helpers for the ``[T, B]`` leading-dims convention.

Models accept inputs with no leading dims (one observation), ``[B]`` or
``[T, B]``. :func:`infer_leading_dims` folds them into one batch dimension and
:func:`restore_leading_dims` puts them back on the outputs.
"""

import torch

__all__ = [
    "infer_leading_dims",
    "restore_leading_dims",
    "valid_mean",
    "select_at_indexes",
    "to_onehot",
    "from_onehot",
]


def infer_leading_dims(tensor: torch.Tensor, dim: int):
    """Leading dims of ``tensor`` whose trailing (data) part has ``dim`` dims.

    Returns ``(lead_dim, T, B, shape)``: ``lead_dim`` in {0, 1, 2}; ``T`` and
    ``B`` are 1 where absent; ``shape`` is the trailing data shape.
    """
    lead_dim = tensor.dim() - dim
    if lead_dim not in (0, 1, 2):
        raise ValueError(
            f"expected 0, 1 or 2 leading dims before {dim} data dims, "
            f"got a tensor of shape {tuple(tensor.shape)}"
        )
    T, B = 1, 1
    if lead_dim == 2:
        T, B = tensor.shape[:2]
    elif lead_dim == 1:
        B = tensor.shape[0]
    shape = tuple(tensor.shape[lead_dim:])
    return lead_dim, T, B, shape


def restore_leading_dims(tensors, lead_dim: int, T: int = 1, B: int = 1):
    """Reshape outputs of shape ``[T*B, ...]`` back to ``lead_dim`` leading dims.

    ``tensors`` is a tensor or a tuple/list of tensors (returned as a tuple);
    ``None`` entries pass through.
    """
    is_seq = isinstance(tensors, tuple | list)
    seq = tensors if is_seq else (tensors,)
    if lead_dim == 2:
        out = tuple(None if t is None else t.view((T, B) + t.shape[1:]) for t in seq)
    elif lead_dim == 1:
        out = tuple(seq)
    elif lead_dim == 0:
        for t in seq:
            if t is not None and t.shape[0] != 1:
                raise ValueError(f"lead_dim 0 needs a leading dim of 1, got {tuple(t.shape)}")
        out = tuple(None if t is None else t.squeeze(0) for t in seq)
    else:
        raise ValueError(f"lead_dim must be 0, 1 or 2, got {lead_dim}")
    return out if is_seq else out[0]


def valid_mean(tensor: torch.Tensor, valid: torch.Tensor | None = None, dim=None) -> torch.Tensor:
    """Mean of ``tensor`` over entries where ``valid`` is nonzero.

    ``valid`` has the leading shape of ``tensor`` (trailing dims broadcast).
    With no valid entry the mean is 0, never NaN.
    """
    if valid is None:
        return tensor.mean() if dim is None else tensor.mean(dim=dim)
    valid = valid.to(tensor.dtype)
    while valid.dim() < tensor.dim():
        valid = valid.unsqueeze(-1)
    valid = valid.expand_as(tensor)
    if dim is None:
        return (tensor * valid).sum() / valid.sum().clamp(min=1)
    return (tensor * valid).sum(dim=dim) / valid.sum(dim=dim).clamp(min=1)


def select_at_indexes(indexes: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    """``out[...] = tensor[..., indexes[...]]``: pick one entry per leading index.

    ``indexes`` has the leading dims ``[...]``; ``tensor`` has ``[..., N, *rest]``.
    Typically picks the Q-value (or log-prob) of the taken action.
    """
    dim = indexes.dim()
    if tuple(tensor.shape[:dim]) != tuple(indexes.shape):
        raise ValueError(
            f"select_at_indexes: indexes shape {tuple(indexes.shape)} does not match "
            f"the leading dims of tensor shape {tuple(tensor.shape)}"
        )
    idx = indexes.long().reshape(indexes.shape + (1,) * (tensor.dim() - dim))
    idx = idx.expand(tuple(indexes.shape) + (1,) + tuple(tensor.shape[dim + 1 :]))
    return tensor.gather(dim, idx).squeeze(dim)


def to_onehot(indexes: torch.Tensor, num: int, dtype=None) -> torch.Tensor:
    """One-hot encoding along a new last dimension of size ``num``."""
    if dtype is None:
        dtype = indexes.dtype
    onehot = torch.zeros(indexes.shape + (num,), dtype=dtype, device=indexes.device)
    onehot.scatter_(-1, indexes.long().unsqueeze(-1), 1)
    return onehot


def from_onehot(onehot: torch.Tensor, dim: int = -1, dtype=None) -> torch.Tensor:
    """Index of the (first) maximum along ``dim``: inverse of :func:`to_onehot`."""
    indexes = torch.argmax(onehot, dim=dim)
    if dtype is not None:
        indexes = indexes.to(dtype)
    return indexes
