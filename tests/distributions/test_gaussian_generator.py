"""Gaussian draws from an owned generator (agents' exploration streams)."""

import torch

from rlpyt.distributions.gaussian import DistInfo, DistInfoStd, Gaussian


def test_sampling_uses_the_given_generator_and_leaves_the_global_rng_alone():
    mean = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    info = DistInfoStd(mean=mean, log_std=torch.zeros(2, 2))
    dist = Gaussian(dim=2, generator=torch.Generator().manual_seed(7))
    global_state = torch.get_rng_state()
    sample = dist.sample(info)
    assert torch.equal(torch.get_rng_state(), global_state)
    normal = torch.randn(2, 2, generator=torch.Generator().manual_seed(7))
    assert torch.equal(sample, mean + normal)
    # The next draw continues the generator's stream.
    stream = torch.Generator().manual_seed(7)
    torch.randn(2, 2, generator=stream)
    assert torch.equal(dist.sample(info), mean + torch.randn(2, 2, generator=stream))


def test_set_generator_with_squash_and_back_to_the_global_rng():
    mean = torch.tensor([0.3, -0.2, 1.0])
    dist = Gaussian(dim=3, squash=0.5, std=1.0)
    dist.set_generator(torch.Generator().manual_seed(3))
    action, logli = dist.sample_loglikelihood(DistInfo(mean=mean))
    u = mean + torch.randn(3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(action, 0.5 * torch.tanh(u))
    assert torch.equal(logli, dist.log_likelihood(u, DistInfo(mean=mean)))
    dist.set_generator(None)
    torch.manual_seed(4)
    expected = 0.5 * torch.tanh(mean + torch.randn(3))
    torch.manual_seed(4)
    assert torch.equal(dist.sample(DistInfo(mean=mean)), expected)
