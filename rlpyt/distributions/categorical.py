"""Categorical distribution over ``dim`` discrete actions, parameterised by probabilities."""

import torch

from rlpyt.distributions.base import Distribution
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.tensor import from_onehot, select_at_indexes

__all__ = ["Categorical", "DistInfo", "DiscreteMixin"]

DistInfo = namedarraytuple("DistInfo", ["prob"])  # prob: [..., dim], sums to 1


def _safe_log(p: torch.Tensor) -> torch.Tensor:
    # log(0) would give -inf and 0 * -inf = NaN in entropy/KL; clamping at the
    # smallest normal number gives exact logs for every representable nonzero p.
    return torch.log(p.clamp(min=torch.finfo(p.dtype).tiny))


class DiscreteMixin:
    """Index <-> one-hot conversions for a discrete space of ``dim`` values."""

    def __init__(self, dim: int, dtype=torch.long, onehot_dtype=torch.float):
        self._dim = int(dim)
        self.dtype = dtype
        self.onehot_dtype = onehot_dtype
        self._eyes = {}  # (dtype, device) -> identity matrix whose rows are the one-hots

    @property
    def dim(self) -> int:
        return self._dim

    def to_onehot(self, indexes: torch.Tensor, dtype=None) -> torch.Tensor:
        """``[...]`` integer indexes -> ``[..., dim]`` one-hot (``onehot_dtype`` by default).

        Rows of a cached identity matrix: one ``index_select`` instead of
        ``zeros`` + ``scatter_`` (3 us instead of 10 us per sampling step; advanced
        indexing ``eye[indexes]`` takes twice as long as ``index_select``).
        """
        dtype = dtype or self.onehot_dtype
        key = (dtype, indexes.device)
        eye = self._eyes.get(key)
        if eye is None:
            eye = self._eyes[key] = torch.eye(self._dim, dtype=dtype, device=indexes.device)
        if indexes.dtype != torch.long:
            indexes = indexes.long()
        if indexes.dim() == 1:  # [B]: the sampling step
            return eye.index_select(0, indexes)
        return eye.index_select(0, indexes.reshape(-1)).view(*indexes.shape, self._dim)

    def from_onehot(self, onehot: torch.Tensor, dtype=None) -> torch.Tensor:
        """``[..., dim]`` one-hot -> ``[...]`` indexes (``dtype`` by default)."""
        return from_onehot(onehot, dtype=dtype or self.dtype)


class Categorical(DiscreteMixin, Distribution):
    """Categorical distribution; dist info is ``DistInfo(prob)`` with prob ``[..., dim]``.

    Actions are integer indexes ``[...]`` of ``dtype`` (long by default).
    """

    def sample(self, dist_info) -> torch.Tensor:
        """One action per leading index, drawn with probabilities ``prob``.

        ``argmax(prob / q)`` with ``q ~ Exp(1)`` (the exponential race) is what
        ``torch.multinomial(prob, 1)`` computes, drawing the same numbers from
        the same generator, so the samples are identical; it skips
        multinomial's argument checks (three reductions and host syncs), which
        took two thirds of its time at sampling batch sizes. ``prob`` comes
        from a softmax, so those checks could not fail for finite logits.
        """
        p = dist_info.prob
        sample = torch.div(p, torch.empty_like(p).exponential_()).argmax(dim=-1)
        return sample if sample.dtype == self.dtype else sample.to(self.dtype)

    def log_likelihood(self, indexes, dist_info) -> torch.Tensor:
        return _safe_log(select_at_indexes(indexes, dist_info.prob))

    def kl(self, old_dist_info, new_dist_info) -> torch.Tensor:
        p, q = old_dist_info.prob, new_dist_info.prob
        return torch.sum(p * (_safe_log(p) - _safe_log(q)), dim=-1)

    def entropy(self, dist_info) -> torch.Tensor:
        p = dist_info.prob
        return -torch.sum(p * _safe_log(p), dim=-1)
