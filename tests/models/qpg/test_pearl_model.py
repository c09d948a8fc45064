"""PEARL's context encoder: product of Gaussians (closed form, order-free) and the KL term."""

import torch

from rlpyt.models.qpg.pearl import ContextEncoderModel, kl_to_standard_normal, product_of_gaussians


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
