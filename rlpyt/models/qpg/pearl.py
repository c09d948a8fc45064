"""PEARL's probabilistic context encoder (Rakelly et al. 2019, sec. 4.1).

Each context transition ``c_n = (s, a, r[, s'])`` is encoded independently by an MLP
into a Gaussian factor ``N(mu_n, sigma_n^2)`` over the latent task variable z
(``sigma_n^2 = softplus(.)``, floored at ``min_variance``); the posterior over the
whole context is their product (paper eq. 4, up to normalisation)::

    sigma^2 = 1 / sum_n (1 / sigma_n^2)        mu = sigma^2 * sum_n (mu_n / sigma_n^2)

which does not depend on the order of the transitions. The prior is ``N(0, I)``;
the KL term of the encoder's loss is ``KL(N(mu, sigma^2) || N(0, I))`` summed over
the latent dimensions (:func:`kl_to_standard_normal`).

Low-rank precision factors (``precision_rank=K > 0``, not in the paper). A diagonal
factor can only say "z_i is near m_i" along the latent axes. A transition often pins the
task down along some *other* direction: on the point robot, ``r = -|s' - g|`` says
``|g|^2 - 2 s'.g = r^2 - |s'|^2``, one linear constraint on the features ``(g, |g|^2)``
whose direction depends on ``s'``. So each factor may also carry K vectors ``u_nk``
(rows of ``U_n``, ``[K, L]``) and have the precision
``Lambda_n = diag(1 / sigma_n^2) + U_n^T U_n``; the product is still Gaussian::

    Lambda = sum_n Lambda_n        mu = Lambda^-1 sum_n Lambda_n mu_n

(:func:`product_of_low_rank_gaussians`, computed in float64 through the Cholesky factor of
``Lambda``), still independent of the order of the transitions, and ``K = 0`` is the
diagonal case above. :class:`LatentGaussian` holds either kind; :func:`latent_rsample` and
:func:`latent_kl` work on both.
"""

from collections import namedtuple

import torch
import torch.nn.functional as F

from rlpyt.models.mlp import MlpModel
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = [
    "ContextEncoderModel",
    "LatentGaussian",
    "product_of_gaussians",
    "product_of_low_rank_gaussians",
    "kl_to_standard_normal",
    "latent_kl",
    "latent_rsample",
]

LatentGaussian = namedtuple("LatentGaussian", ["mean", "variance", "precision_tril"])
"""q(z | c): ``mean`` and marginal ``variance`` ``[..., L]``; ``precision_tril`` ``[..., L, L]``
is the lower Cholesky factor of the precision, or None when the covariance is diagonal."""


def product_of_gaussians(means: torch.Tensor, variances: torch.Tensor, dim: int = -2):
    """``(mean, variance)`` of the normalised product of the diagonal Gaussians along ``dim``.

    ``means``, ``variances``: ``[..., N, L]`` (``dim=-2``: the N factors); returns two
    ``[..., L]`` tensors (module docstring).
    """
    precision = torch.reciprocal(variances).sum(dim=dim)
    variance = torch.reciprocal(precision)
    mean = variance * (means / variances).sum(dim=dim)
    return mean, variance


def product_of_low_rank_gaussians(means, variances, factors) -> LatentGaussian:
    """The normalised product of the factors ``N(mu_n, Lambda_n^-1)`` along the N axis.

    ``means``, ``variances``: ``[..., N, L]``; ``factors``: ``[..., N, K, L]`` (``U_n``);
    ``Lambda_n = diag(1 / variances_n) + U_n^T U_n`` (module docstring). Returns a
    :class:`LatentGaussian` ``[..., L]`` in the dtype of ``means``.
    """
    dtype = means.dtype
    mu, factors = means.double(), factors.double()
    diag_precision = torch.reciprocal(variances.double())  # [..., N, L]
    precision = torch.diag_embed(diag_precision.sum(dim=-2))
    precision = precision + torch.einsum("...nkl,...nkj->...lj", factors, factors)
    projected = torch.einsum("...nkl,...nl->...nk", factors, mu)  # U_n mu_n
    information = (diag_precision * mu).sum(dim=-2)
    information = information + torch.einsum("...nkl,...nk->...l", factors, projected)
    tril = torch.linalg.cholesky(precision)
    mean = torch.cholesky_solve(information.unsqueeze(-1), tril).squeeze(-1)
    variance = torch.cholesky_inverse(tril).diagonal(dim1=-2, dim2=-1)
    return LatentGaussian(mean.to(dtype), variance.to(dtype), tril.to(dtype))


def kl_to_standard_normal(mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, diag variance) || N(0, I))`` ``[...]``, summed over the last dim."""
    return 0.5 * (variance + mean**2 - 1.0 - torch.log(variance)).sum(dim=-1)


def latent_kl(posterior: LatentGaussian) -> torch.Tensor:
    """``KL(q || N(0, I))`` ``[...]`` of a :class:`LatentGaussian` of either kind."""
    if posterior.precision_tril is None:
        return kl_to_standard_normal(posterior.mean, posterior.variance)
    # log det Sigma = -2 sum log diag(L) for the precision's factor L.
    log_det_precision = 2.0 * torch.log(torch.diagonal(posterior.precision_tril, dim1=-2, dim2=-1))
    trace = posterior.variance.sum(dim=-1)
    size = posterior.mean.shape[-1]
    return 0.5 * (trace + (posterior.mean**2).sum(dim=-1) - size + log_det_precision.sum(dim=-1))


def latent_rsample(posterior: LatentGaussian, generator=None) -> torch.Tensor:
    """Reparameterised draw ``[..., L]`` (gradients reach the mean and the covariance):
    ``mean + sqrt(variance) * eps``, or ``mean + L^-T eps`` for a precision factor L."""
    mean = posterior.mean
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    if posterior.precision_tril is None:
        return mean + posterior.variance.sqrt() * eps
    tril_t = posterior.precision_tril.transpose(-2, -1)
    return mean + torch.linalg.solve_triangular(tril_t, eps.unsqueeze(-1), upper=True).squeeze(-1)


class ContextEncoderModel(torch.nn.Module):
    """Per-transition Gaussian factors over z.

    ``forward(context)`` with ``context`` ``[..., N, context_size]`` returns
    ``(means, variances)``, each ``[..., N, latent_size]``, plus ``factors``
    ``[..., N, precision_rank, latent_size]`` when ``precision_rank > 0``;
    :meth:`posterior` combines them into a :class:`LatentGaussian`.

    Args:
        context_size: features of one transition (``obs + action + 1``, plus ``obs``
            when the next observation is in the context).
        latent_size: dimensions of z (5 in the paper).
        hidden_sizes: the MLP's hidden layers (paper: three of 200).
        min_variance: floor of each factor's variance (keeps the product finite; the
            original fork left it unconstrained and exited on NaN).
        precision_rank: K low-rank precision vectors per factor (module docstring);
            0, the paper's diagonal factors, by default.
    """

    def __init__(
        self,
        context_size: int,
        latent_size: int,
        hidden_sizes=(200, 200, 200),
        min_variance: float = 1e-7,
        precision_rank: int = 0,
    ):
        super().__init__()
        self.context_size = require_int_at_least("context_size", context_size, 1)
        self.latent_size = require_int_at_least("latent_size", latent_size, 1)
        require_positive("min_variance", min_variance)
        self.min_variance = float(min_variance)
        self.precision_rank = require_int_at_least("precision_rank", precision_rank, 0)
        output_size = (2 + self.precision_rank) * latent_size
        self.mlp = MlpModel(context_size, list(hidden_sizes), output_size=output_size)

    def forward(self, context: torch.Tensor):
        if context.shape[-1] != self.context_size:
            raise ValueError(
                f"ContextEncoderModel: context has {context.shape[-1]} features per transition, "
                f"expected {self.context_size}"
            )
        out = self.mlp(context.to(torch.float32))
        mean, raw_variance = (
            out[..., : self.latent_size],
            out[..., self.latent_size : 2 * self.latent_size],
        )
        variance = F.softplus(raw_variance).clamp_min(self.min_variance)
        if self.precision_rank == 0:
            return mean, variance
        factors = out[..., 2 * self.latent_size :].unflatten(
            -1, (self.precision_rank, self.latent_size)
        )
        return mean, variance, factors

    def posterior(self, context: torch.Tensor) -> LatentGaussian:
        """q(z | context ``[..., N, context_size]``) ``[..., latent_size]``."""
        outputs = self(context)
        if self.precision_rank == 0:
            return LatentGaussian(*product_of_gaussians(*outputs, dim=-2), None)
        return product_of_low_rank_gaussians(*outputs)
