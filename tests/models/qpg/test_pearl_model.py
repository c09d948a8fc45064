"""PEARL's context encoder: product of Gaussians (closed form, order-free) and the KL term."""

import pytest
import torch

from rlpyt.models.qpg.pearl import (
    ContextEncoderModel,
    LatentGaussian,
    kl_to_standard_normal,
    latent_kl,
    latent_rsample,
    product_of_gaussians,
    product_of_low_rank_gaussians,
)


def test_product_of_gaussians_closed_form():
    means = torch.tensor([[1.0, -2.0], [3.0, 0.0], [-1.0, 4.0]], dtype=torch.float64)
    variances = torch.tensor([[1.0, 4.0], [0.5, 2.0], [2.0, 1.0]], dtype=torch.float64)
    mean, variance = product_of_gaussians(means, variances)
    # Dimension 0: precisions 1, 2, 0.5 -> 3.5; weighted means 1 + 6 - 0.5 = 6.5.
    # Dimension 1: precisions 0.25, 0.5, 1 -> 1.75; weighted means -0.5 + 0 + 4 = 3.5.
    torch.testing.assert_close(variance, torch.tensor([1 / 3.5, 1 / 1.75], dtype=torch.float64))
    torch.testing.assert_close(mean, torch.tensor([6.5 / 3.5, 3.5 / 1.75], dtype=torch.float64))
    # One factor: itself.
    one_mean, one_var = product_of_gaussians(means[:1], variances[:1])
    torch.testing.assert_close(one_mean, means[0])
    torch.testing.assert_close(one_var, variances[0])


def test_product_matches_density_product():
    """The normalised product of the densities, evaluated on a grid, is the returned Gaussian."""
    means = torch.tensor([[0.3], [-0.7], [1.1]], dtype=torch.float64)
    variances = torch.tensor([[0.4], [0.9], [0.25]], dtype=torch.float64)
    mean, variance = product_of_gaussians(means, variances)
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    log_density = sum(
        torch.distributions.Normal(m, v.sqrt()).log_prob(x)
        for m, v in zip(means[:, 0], variances[:, 0])
    )
    density = torch.exp(log_density - log_density.max())
    density = density / torch.trapezoid(density, x)
    expected = torch.distributions.Normal(mean[0], variance[0].sqrt()).log_prob(x).exp()
    torch.testing.assert_close(density, expected, atol=1e-6, rtol=1e-4)


def test_encoder_posterior_is_permutation_invariant():
    torch.manual_seed(0)
    encoder = ContextEncoderModel(context_size=5, latent_size=3, hidden_sizes=[16])
    context = torch.randn(2, 7, 5)  # [tasks, N, C]
    mean, variance = product_of_gaussians(*encoder(context))
    perm = torch.randperm(7)
    mean_p, variance_p = product_of_gaussians(*encoder(context[:, perm]))
    torch.testing.assert_close(mean, mean_p)
    torch.testing.assert_close(variance, variance_p)
    assert mean.shape == (2, 3) and bool((variance > 0).all())


def test_kl_against_torch_distributions():
    torch.manual_seed(1)
    mean = torch.randn(4, 5, dtype=torch.float64)
    variance = torch.rand(4, 5, dtype=torch.float64) + 0.1
    q = torch.distributions.Normal(mean, variance.sqrt())
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(kl_to_standard_normal(mean, variance), expected)
    assert float(kl_to_standard_normal(torch.zeros(5), torch.ones(5))) == 0.0


# -- low-rank precision factors ----------------------------------------------------------


def _low_rank_case(seed=0, n=3, k=2, size=4):
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(n, size, generator=gen, dtype=torch.float64)
    variances = torch.rand(n, size, generator=gen, dtype=torch.float64) + 0.2
    factors = torch.randn(n, k, size, generator=gen, dtype=torch.float64)
    return means, variances, factors


def test_low_rank_product_closed_form():
    """Against the explicit precisions Lambda_n = diag(1 / var_n) + U_n^T U_n."""
    means, variances, factors = _low_rank_case()
    posterior = product_of_low_rank_gaussians(means, variances, factors)
    precisions = [torch.diag(1 / v) + u.T @ u for v, u in zip(variances, factors)]
    precision = sum(precisions)
    mean = torch.linalg.solve(precision, sum(p @ m for p, m in zip(precisions, means)))
    torch.testing.assert_close(posterior.mean, mean)
    torch.testing.assert_close(posterior.variance, torch.linalg.inv(precision).diagonal())
    torch.testing.assert_close(posterior.precision_tril @ posterior.precision_tril.T, precision)
    # Zero low-rank vectors: the diagonal product exactly.
    diagonal = product_of_low_rank_gaussians(means, variances, torch.zeros_like(factors))
    expected_mean, expected_variance = product_of_gaussians(means, variances)
    torch.testing.assert_close(diagonal.mean, expected_mean)
    torch.testing.assert_close(diagonal.variance, expected_variance)


def test_low_rank_factor_pins_a_direction():
    """One factor that is sure along (1, 1) and vague elsewhere: the posterior's variance
    along (1, 1) is small, across it large; its mean keeps the factor's value along (1, 1)."""
    means = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    variances = torch.tensor([[100.0, 100.0]], dtype=torch.float64)
    factors = torch.tensor([[[10.0, 10.0]]], dtype=torch.float64)  # precision 200 along (1,1)/sqrt2
    posterior = product_of_low_rank_gaussians(means, variances, factors)
    tril = posterior.precision_tril
    covariance = torch.cholesky_inverse(tril)
    along = torch.tensor([1.0, 1.0], dtype=torch.float64) / 2**0.5
    across = torch.tensor([1.0, -1.0], dtype=torch.float64) / 2**0.5
    torch.testing.assert_close(
        along @ covariance @ along, torch.tensor(1 / 200.01, dtype=torch.float64)
    )
    torch.testing.assert_close(
        across @ covariance @ across, torch.tensor(100.0, dtype=torch.float64)
    )
    torch.testing.assert_close(posterior.mean, means[0])


def test_low_rank_kl_against_torch_distributions():
    means, variances, factors = _low_rank_case(seed=3, n=5, k=1, size=5)
    posterior = product_of_low_rank_gaussians(means, variances, factors)
    q = torch.distributions.MultivariateNormal(
        posterior.mean,
        scale_tril=torch.linalg.cholesky(torch.cholesky_inverse(posterior.precision_tril)),
    )
    p = torch.distributions.MultivariateNormal(
        torch.zeros(5, dtype=torch.float64), torch.eye(5, dtype=torch.float64)
    )
    torch.testing.assert_close(latent_kl(posterior), torch.distributions.kl_divergence(q, p))
    diagonal = LatentGaussian(means[0], variances[0], None)
    torch.testing.assert_close(latent_kl(diagonal), kl_to_standard_normal(means[0], variances[0]))


def test_low_rank_rsample_is_mean_plus_inverse_transpose_factor():
    """z = mean + L^-T eps for the precision's factor L, eps from the given generator;
    gradients reach the encoder outputs through the mean and the factor."""
    means, variances, factors = _low_rank_case(seed=4)
    factors.requires_grad_(True)
    posterior = product_of_low_rank_gaussians(means, variances, factors)
    z = latent_rsample(posterior, torch.Generator().manual_seed(7))
    eps = torch.randn(4, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    torch.testing.assert_close(posterior.precision_tril.T @ (z - posterior.mean), eps)
    (grad,) = torch.autograd.grad(z.sum(), factors)
    assert bool(grad.abs().sum() > 0)


def test_low_rank_encoder_posterior_is_permutation_invariant():
    torch.manual_seed(0)
    encoder = ContextEncoderModel(
        context_size=5, latent_size=3, hidden_sizes=[16], precision_rank=2
    )
    context = torch.randn(2, 7, 5)
    means, variances, factors = encoder(context)
    assert factors.shape == (2, 7, 2, 3)
    posterior = encoder.posterior(context)
    permuted = encoder.posterior(context[:, torch.randperm(7)])
    for a, b in zip(posterior, permuted):
        torch.testing.assert_close(a, b)
    assert posterior.mean.shape == (2, 3) and posterior.precision_tril.shape == (2, 3, 3)
    # Rank 0 is the paper's diagonal encoder.
    diagonal = ContextEncoderModel(context_size=5, latent_size=3, hidden_sizes=[16])
    assert len(diagonal(context)) == 2 and diagonal.posterior(context).precision_tril is None


def test_negative_precision_rank_is_refused():
    with pytest.raises(ValueError, match="precision_rank"):
        ContextEncoderModel(context_size=5, latent_size=3, precision_rank=-1)
