"""Distribution math against torch.distributions, sampling statistics, and edge cases."""

import math

import pytest
import torch
from torch.distributions import Normal, TanhTransform, TransformedDistribution
from torch.distributions import kl_divergence as torch_kl
from torch.distributions.transforms import AffineTransform

from rlpyt.distributions.categorical import Categorical, DistInfo
from rlpyt.distributions.gaussian import DistInfo as GaussDistInfo
from rlpyt.distributions.gaussian import DistInfoStd, Gaussian


def _probs(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(*shape, generator=g) * 2, dim=-1)


# -- Categorical --------------------------------------------------------------


def test_categorical_matches_torch():
    p, q = _probs(3, 4, 5, seed=0), _probs(3, 4, 5, seed=1)
    x = torch.randint(0, 5, (3, 4))
    dist = Categorical(dim=5)
    ref_p, ref_q = (
        torch.distributions.Categorical(probs=p),
        torch.distributions.Categorical(probs=q),
    )
    torch.testing.assert_close(dist.log_likelihood(x, DistInfo(p)), ref_p.log_prob(x))
    torch.testing.assert_close(dist.entropy(DistInfo(p)), ref_p.entropy())
    torch.testing.assert_close(dist.kl(DistInfo(p), DistInfo(q)), torch_kl(ref_p, ref_q))
    torch.testing.assert_close(dist.perplexity(DistInfo(p)), torch.exp(ref_p.entropy()))
    assert dist.dim == 5


def test_categorical_likelihood_ratio_exact_for_tiny_probs():
    dist = Categorical(dim=3)
    # Probabilities far below any additive epsilon still give the exact ratio.
    old = DistInfo(prob=torch.tensor([1e-30, 0.5, 0.5]).expand(3, 3))
    new = DistInfo(prob=torch.tensor([3e-30, 0.25, 0.75]).expand(3, 3))
    ratio = dist.likelihood_ratio(torch.tensor([0, 1, 2]), old, new)
    torch.testing.assert_close(ratio, torch.tensor([3.0, 0.5, 1.5]))


def test_categorical_zero_probability_is_finite():
    dist = Categorical(dim=3)
    p = DistInfo(prob=torch.tensor([0.0, 0.5, 0.5]))
    q = DistInfo(prob=torch.tensor([0.2, 0.0, 0.8]))
    assert dist.entropy(p).item() == pytest.approx(math.log(2))
    assert torch.isfinite(dist.kl(p, q))  # huge (q has a zero where p does not), not NaN
    assert dist.kl(q, p).isfinite()
    assert dist.kl(p, p).item() == pytest.approx(0.0)


def test_categorical_sampling_frequencies_and_shapes():
    torch.manual_seed(0)
    probs = torch.tensor([0.1, 0.2, 0.7])
    dist = Categorical(dim=3)
    samples = dist.sample(DistInfo(prob=probs.expand(100, 200, 3)))
    assert samples.shape == (100, 200) and samples.dtype == torch.long
    freq = torch.bincount(samples.flatten(), minlength=3).float() / samples.numel()
    torch.testing.assert_close(freq, probs, atol=0.01, rtol=0)
    single = dist.sample(DistInfo(prob=probs))
    assert single.shape == () and 0 <= single.item() < 3


def test_categorical_means_with_valid_and_onehot():
    dist = Categorical(dim=4)
    p = _probs(2, 3, 4)
    valid = torch.tensor([[1, 1, 0], [0, 1, 0]])
    ent = dist.entropy(DistInfo(p))
    expected = (ent[0, 0] + ent[0, 1] + ent[1, 1]) / 3
    torch.testing.assert_close(dist.mean_entropy(DistInfo(p), valid), expected)
    torch.testing.assert_close(dist.mean_entropy(DistInfo(p)), ent.mean())
    perp = torch.exp(ent)
    torch.testing.assert_close(
        dist.mean_perplexity(DistInfo(p), valid), (perp[0, 0] + perp[0, 1] + perp[1, 1]) / 3
    )
    assert dist.mean_kl(DistInfo(p), DistInfo(p), valid).item() == pytest.approx(0.0, abs=1e-7)
    uniform = DistInfo(prob=torch.full((4,), 0.25))
    assert dist.perplexity(uniform).item() == pytest.approx(4.0)
    idx = torch.tensor([[0, 3], [2, 1]])
    onehot = dist.to_onehot(idx)
    assert onehot.shape == (2, 2, 4) and onehot.dtype == torch.float
    assert torch.equal(dist.from_onehot(onehot), idx)


# -- Gaussian -----------------------------------------------------------------


def _gauss_info(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return DistInfoStd(
        mean=torch.randn(*shape, generator=g), log_std=torch.randn(*shape, generator=g) * 0.5
    )


def test_gaussian_matches_torch():
    old, new = _gauss_info(3, 4, 2, seed=0), _gauss_info(3, 4, 2, seed=1)
    x = torch.randn(3, 4, 2)
    dist = Gaussian(dim=2)
    ref_old = Normal(old.mean, old.log_std.exp())
    ref_new = Normal(new.mean, new.log_std.exp())
    torch.testing.assert_close(dist.log_likelihood(x, old), ref_old.log_prob(x).sum(-1))
    torch.testing.assert_close(dist.entropy(old), ref_old.entropy().sum(-1))
    torch.testing.assert_close(dist.kl(old, new), torch_kl(ref_old, ref_new).sum(-1))
    torch.testing.assert_close(
        dist.likelihood_ratio(x, old, new),
        torch.exp(ref_new.log_prob(x).sum(-1) - ref_old.log_prob(x).sum(-1)),
        rtol=1e-5,
        atol=0,
    )
    torch.testing.assert_close(dist.perplexity(old), torch.exp(ref_old.entropy().sum(-1)))
    assert dist.mean_kl(old, old).item() == pytest.approx(0.0, abs=1e-6)


def test_gaussian_fixed_std_and_bounds():
    mean = torch.randn(5, 3)
    x = torch.randn(5, 3)
    dist = Gaussian(dim=3, std=0.3)
    ref = Normal(mean, 0.3)
    torch.testing.assert_close(dist.log_likelihood(x, GaussDistInfo(mean)), ref.log_prob(x).sum(-1))
    torch.testing.assert_close(dist.entropy(GaussDistInfo(mean)), ref.entropy().sum(-1))
    dist.set_std(None)
    with pytest.raises(ValueError, match="log_std"):
        dist.log_likelihood(x, GaussDistInfo(mean))
    # min_std/max_std clamp a learned std.
    bounded = Gaussian(dim=3, min_std=0.5, max_std=2.0)
    info = DistInfoStd(mean=mean, log_std=torch.tensor([-5.0, 0.0, 5.0]).expand(5, 3))
    ref = Normal(mean, torch.tensor([0.5, 1.0, 2.0]))
    torch.testing.assert_close(bounded.log_likelihood(x, info), ref.log_prob(x).sum(-1))


def test_gaussian_sampling_clip_and_noise_clip():
    torch.manual_seed(0)
    info = DistInfoStd(
        mean=torch.tensor([1.0, -2.0]).expand(50_000, 2),
        log_std=torch.tensor([0.0, math.log(0.5)]).expand(50_000, 2),
    )
    s = Gaussian(dim=2).sample(info)
    assert s.shape == (50_000, 2)
    torch.testing.assert_close(s.mean(0), torch.tensor([1.0, -2.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(s.std(0), torch.tensor([1.0, 0.5]), atol=0.02, rtol=0)
    clipped = Gaussian(dim=2, clip=1.5).sample(info)
    assert clipped.abs().max() <= 1.5 and (clipped == 1.5).any()
    noise_clipped = Gaussian(dim=2, noise_clip=0.1).sample(info)
    assert (noise_clipped - info.mean).abs().max() <= 0.1 + 1e-6
    with pytest.raises(ValueError, match="clip or squash"):
        Gaussian(dim=2, clip=1.0, squash=1.0)


def test_gaussian_sample_is_reparameterised():
    mean = torch.zeros(4, 2, requires_grad=True)
    log_std = torch.zeros(4, 2, requires_grad=True)
    Gaussian(dim=2).sample(DistInfoStd(mean, log_std)).sum().backward()
    assert torch.equal(mean.grad, torch.ones(4, 2))
    assert log_std.grad.abs().sum() > 0


@pytest.mark.parametrize("squash", [1.0, 2.0])
def test_squashed_log_likelihood_matches_transformed_distribution(squash):
    info = _gauss_info(6, 3, seed=2)
    u = torch.linspace(-3, 3, 18).reshape(6, 3)  # pre-squash values, moderate
    dist = Gaussian(dim=3, squash=squash)
    transforms = [TanhTransform()] + ([AffineTransform(0.0, squash)] if squash != 1 else [])
    ref = TransformedDistribution(Normal(info.mean, info.log_std.exp()), transforms)
    y = squash * torch.tanh(u)
    torch.testing.assert_close(
        dist.log_likelihood(u, info), ref.log_prob(y).sum(-1), atol=1e-4, rtol=1e-4
    )


def test_squashed_sample_loglikelihood_consistent_and_stable():
    torch.manual_seed(0)
    info = _gauss_info(1000, 2, seed=3)
    dist = Gaussian(dim=2, squash=1.0)
    sample, logli = dist.sample_loglikelihood(info)
    assert sample.abs().max() <= 1.0
    moderate = sample.abs().max(-1).values < 0.99
    u = torch.atanh(sample[moderate].double()).float()
    sub = DistInfoStd(info.mean[moderate], info.log_std[moderate])
    torch.testing.assert_close(logli[moderate], dist.log_likelihood(u, sub), atol=1e-3, rtol=1e-4)
    # Far in the tails 1 - tanh(u)^2 underflows to 0 in float32; the log stays finite.
    far = DistInfoStd(mean=torch.tensor([[30.0, -30.0]]), log_std=torch.zeros(1, 2))
    assert torch.isfinite(dist.log_likelihood(torch.tensor([[30.0, -30.0]]), far)).all()
    with pytest.raises(NotImplementedError):
        dist.entropy(info)
    # Without squash, sample_loglikelihood is a plain sample and its log density.
    plain = Gaussian(dim=2)
    s, ll = plain.sample_loglikelihood(info)
    torch.testing.assert_close(ll, plain.log_likelihood(s, info))
