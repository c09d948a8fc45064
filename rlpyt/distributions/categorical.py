"""Categorical distribution over ``dim`` discrete actions, parameterised by probabilities."""

import torch

from rlpyt.distributions.base import Distribution
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.tensor import from_onehot, select_at_indexes, to_onehot

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

    @property
    def dim(self) -> int:
        return self._dim

    def to_onehot(self, indexes: torch.Tensor, dtype=None) -> torch.Tensor:
        """``[...]`` integer indexes -> ``[..., dim]`` one-hot (``onehot_dtype`` by default)."""
        return to_onehot(indexes, self._dim, dtype=dtype or self.onehot_dtype)

    def from_onehot(self, onehot: torch.Tensor, dtype=None) -> torch.Tensor:
        """``[..., dim]`` one-hot -> ``[...]`` indexes (``dtype`` by default)."""
        return from_onehot(onehot, dtype=dtype or self.dtype)


class Categorical(DiscreteMixin, Distribution):
    """Categorical distribution; dist info is ``DistInfo(prob)`` with prob ``[..., dim]``.

    Actions are integer indexes ``[...]`` of ``dtype`` (long by default).
    """

    def sample(self, dist_info) -> torch.Tensor:
        p = dist_info.prob
        sample = torch.multinomial(p.reshape(-1, self._dim), num_samples=1)
        return sample.view(p.shape[:-1]).to(self.dtype)

    def log_likelihood(self, indexes, dist_info) -> torch.Tensor:
        return _safe_log(select_at_indexes(indexes, dist_info.prob))

    def kl(self, old_dist_info, new_dist_info) -> torch.Tensor:
        p, q = old_dist_info.prob, new_dist_info.prob
        return torch.sum(p * (_safe_log(p) - _safe_log(q)), dim=-1)

    def entropy(self, dist_info) -> torch.Tensor:
        p = dist_info.prob
        return -torch.sum(p * _safe_log(p), dim=-1)
