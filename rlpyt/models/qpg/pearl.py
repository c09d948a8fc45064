"""PEARL's probabilistic context encoder (Rakelly et al. 2019, sec. 4.1).

Each context transition ``c_n = (s, a, r[, s'])`` is encoded independently by an MLP
into a Gaussian factor ``N(mu_n, sigma_n^2)`` over the latent task variable z
(``sigma_n^2 = softplus(.)``, floored at ``min_variance``); the posterior over the
whole context is their product (paper eq. 4, up to normalisation)::

    sigma^2 = 1 / sum_n (1 / sigma_n^2)        mu = sigma^2 * sum_n (mu_n / sigma_n^2)

which does not depend on the order of the transitions. The prior is ``N(0, I)``;
the KL term of the encoder's loss is ``KL(N(mu, sigma^2) || N(0, I))`` summed over
the latent dimensions (:func:`kl_to_standard_normal`).
"""

import torch
import torch.nn.functional as F

from rlpyt.models.mlp import MlpModel
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = ["ContextEncoderModel", "product_of_gaussians", "kl_to_standard_normal"]


def product_of_gaussians(means: torch.Tensor, variances: torch.Tensor, dim: int = -2):
    """``(mean, variance)`` of the normalised product of the diagonal Gaussians along ``dim``.

    ``means``, ``variances``: ``[..., N, L]`` (``dim=-2``: the N factors); returns two
    ``[..., L]`` tensors (module docstring).
    """
    precision = torch.reciprocal(variances).sum(dim=dim)
    variance = torch.reciprocal(precision)
    mean = variance * (means / variances).sum(dim=dim)
    return mean, variance


def kl_to_standard_normal(mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, diag variance) || N(0, I))`` ``[...]``, summed over the last dim."""
    return 0.5 * (variance + mean**2 - 1.0 - torch.log(variance)).sum(dim=-1)


class ContextEncoderModel(torch.nn.Module):
    """Per-transition Gaussian factors over z.

    ``forward(context)`` with ``context`` ``[..., N, context_size]`` returns
    ``(means, variances)``, each ``[..., N, latent_size]``; combine them with
    :func:`product_of_gaussians`.

    Args:
        context_size: features of one transition (``obs + action + 1``, plus ``obs``
            when the next observation is in the context).
        latent_size: dimensions of z (5 in the paper).
        hidden_sizes: the MLP's hidden layers (paper: three of 200).
        min_variance: floor of each factor's variance (keeps the product finite; the
            original fork left it unconstrained and exited on NaN).
    """

    def __init__(
        self,
        context_size: int,
        latent_size: int,
        hidden_sizes=(200, 200, 200),
        min_variance: float = 1e-7,
    ):
        super().__init__()
        self.context_size = require_int_at_least("context_size", context_size, 1)
        self.latent_size = require_int_at_least("latent_size", latent_size, 1)
        require_positive("min_variance", min_variance)
        self.min_variance = float(min_variance)
        self.mlp = MlpModel(context_size, list(hidden_sizes), output_size=2 * latent_size)

    def forward(self, context: torch.Tensor):
        if context.shape[-1] != self.context_size:
            raise ValueError(
                f"ContextEncoderModel: context has {context.shape[-1]} features per transition, "
                f"expected {self.context_size}"
            )
        mean, raw_variance = self.mlp(context.to(torch.float32)).split(self.latent_size, dim=-1)
        return mean, F.softplus(raw_variance).clamp_min(self.min_variance)
