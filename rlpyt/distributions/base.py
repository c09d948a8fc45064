"""The distribution interface.

A distribution object holds no parameters of its own: the model outputs them
each step as a *dist info* namedarraytuple (e.g. ``DistInfo(prob)`` or
``DistInfoStd(mean, log_std)``), so the same object serves sampling (``[B]``
leading dims) and training (``[T, B]``). Every method keeps the leading dims of
its inputs and reduces over the event dims (the last one).
"""

import torch

from rlpyt.utils.tensor import valid_mean

__all__ = ["Distribution"]


class Distribution:
    """Base class; subclasses implement the math for one family."""

    @property
    def dim(self) -> int:
        """Number of action choices (categorical) or action dimensions (Gaussian)."""
        raise NotImplementedError

    def sample(self, dist_info) -> torch.Tensor:
        """Draw one action per leading index."""
        raise NotImplementedError

    def kl(self, old_dist_info, new_dist_info) -> torch.Tensor:
        """KL(old || new), one value per leading index."""
        raise NotImplementedError

    def log_likelihood(self, x, dist_info) -> torch.Tensor:
        """log p(x) under ``dist_info``, one value per leading index."""
        raise NotImplementedError

    def entropy(self, dist_info) -> torch.Tensor:
        """Entropy, one value per leading index."""
        raise NotImplementedError

    def likelihood_ratio(self, x, old_dist_info, new_dist_info) -> torch.Tensor:
        """p_new(x) / p_old(x), through log-likelihoods so tiny probabilities stay exact."""
        logli_new = self.log_likelihood(x, new_dist_info)
        logli_old = self.log_likelihood(x, old_dist_info)
        return torch.exp(logli_new - logli_old)

    def perplexity(self, dist_info) -> torch.Tensor:
        """exp(entropy): the effective number of equally likely actions."""
        return torch.exp(self.entropy(dist_info))

    def mean_kl(self, old_dist_info, new_dist_info, valid=None) -> torch.Tensor:
        return valid_mean(self.kl(old_dist_info, new_dist_info), valid)

    def mean_entropy(self, dist_info, valid=None) -> torch.Tensor:
        return valid_mean(self.entropy(dist_info), valid)

    def mean_perplexity(self, dist_info, valid=None) -> torch.Tensor:
        return valid_mean(self.perplexity(dist_info), valid)
