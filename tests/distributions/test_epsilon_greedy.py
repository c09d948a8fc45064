"""EpsilonGreedy / CategoricalEpsilonGreedy: action frequencies, vector epsilon, seeding, atoms."""

import pytest
import torch

from rlpyt.distributions.epsilon_greedy import CategoricalEpsilonGreedy, EpsilonGreedy

torch.set_num_threads(1)

A = 4
N = 200_000  # draws: the binomial std of a share is <= 0.0011, tolerances are 5 sigma


def _gen(seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _q_with_greedy(greedy: int, n: int = N) -> torch.Tensor:
    q = torch.zeros(n, A)
    q[:, greedy] = 1.0
    return q


def test_greedy_share_is_one_minus_eps_plus_eps_over_A():
    eps = 0.3
    dist = EpsilonGreedy(dim=A, epsilon=eps, generator=_gen(1))
    action = dist.sample(_q_with_greedy(2))
    assert action.shape == (N,) and action.dtype == torch.long
    share = torch.bincount(action, minlength=A).double() / N
    # Greedy: 1 - 0.3 + 0.3 / 4 = 0.775; each other action: 0.3 / 4 = 0.075.
    assert share[2].item() == pytest.approx(0.775, abs=0.005)
    for a in (0, 1, 3):
        assert share[a].item() == pytest.approx(0.075, abs=0.003)


def test_eps_zero_is_argmax_and_eps_one_is_uniform():
    q = torch.randn(1000, A, generator=_gen(2))
    assert torch.equal(EpsilonGreedy(dim=A, epsilon=0.0).sample(q), q.argmax(-1))
    uniform = EpsilonGreedy(dim=A, epsilon=1.0, generator=_gen(3)).sample(_q_with_greedy(0))
    share = torch.bincount(uniform, minlength=A).double() / N
    assert torch.allclose(share, torch.full((A,), 0.25, dtype=torch.double), atol=0.005)


def test_leading_dims_kept():
    dist = EpsilonGreedy(dim=A, epsilon=0.5, generator=_gen())
    assert dist.sample(torch.zeros(A)).shape == ()
    assert dist.sample(torch.zeros(3, A)).shape == (3,)
    assert dist.sample(torch.zeros(5, 3, A)).shape == (5, 3)


def test_vector_epsilon_is_per_env():
    dist = EpsilonGreedy(dim=A, generator=_gen(4))
    dist.set_epsilon(torch.tensor([0.0, 1.0, 0.5]))
    q = torch.zeros(20_000, 3, A)
    q[..., 1] = 1.0  # greedy action 1 everywhere
    action = dist.sample(q)  # [T, B] with a [B] epsilon
    assert action.shape == (20_000, 3)
    assert torch.all(action[:, 0] == 1)  # eps 0: always greedy
    share_greedy = (action == 1).double().mean(0)
    assert share_greedy[1].item() == pytest.approx(0.25, abs=0.02)  # eps 1: uniform
    assert share_greedy[2].item() == pytest.approx(0.625, abs=0.02)  # 1 - 0.5 + 0.5 / 4


def test_vector_epsilon_length_mismatch_names_the_fix():
    dist = EpsilonGreedy(dim=A)
    dist.set_epsilon(torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="collector_initialize"):
        dist.sample(torch.zeros(3, A))
    with pytest.raises(ValueError, match="2 per-env values"):
        dist.sample(torch.zeros(A))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_bad_scalar_epsilon_rejected(bad):
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(dim=A, epsilon=bad)


def test_bad_vector_epsilon_rejected():
    dist = EpsilonGreedy(dim=A)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dist.set_epsilon(torch.tensor([0.5, 1.2]))
    with pytest.raises(ValueError, match=r"\[B\]"):
        dist.set_epsilon(torch.zeros(2, 2))


def test_same_generator_seed_same_actions_other_seed_differs():
    q = torch.randn(500, A, generator=_gen(5))
    a1 = EpsilonGreedy(dim=A, epsilon=0.5, generator=_gen(7)).sample(q)
    a2 = EpsilonGreedy(dim=A, epsilon=0.5, generator=_gen(7)).sample(q)
    a3 = EpsilonGreedy(dim=A, epsilon=0.5, generator=_gen(8)).sample(q)
    assert torch.equal(a1, a2)
    assert not torch.equal(a1, a3)


def test_without_generator_the_global_torch_rng_is_used():
    q = torch.randn(500, A, generator=_gen(6))
    dist = EpsilonGreedy(dim=A, epsilon=0.5)
    torch.manual_seed(11)
    a1 = dist.sample(q)
    torch.manual_seed(11)
    assert torch.equal(dist.sample(q), a1)


def test_onehot_helpers_from_discrete_mixin():
    dist = EpsilonGreedy(dim=3)
    assert torch.equal(dist.to_onehot(torch.tensor([2, 0])), torch.tensor([[0.0, 0, 1], [1, 0, 0]]))


def test_categorical_expectation_and_greedy_action():
    z = torch.tensor([-1.0, 0.0, 1.0])
    dist = CategoricalEpsilonGreedy(dim=2, z=z, epsilon=0.0)
    # Action 0 has the most likely atom (0 with p=1) but expectation 0; action 1 is
    # bimodal with expectation -0.25 + 0.75 = 0.5: the greedy action is 1, not the mode's.
    p = torch.tensor([[[0.0, 1.0, 0.0], [0.25, 0.0, 0.75]]])
    assert torch.equal(dist.expectation(p), torch.tensor([[0.0, 0.5]]))
    assert dist.sample(p).tolist() == [1]
    assert dist.n_atoms == 3


def test_categorical_set_z_changes_the_expectation():
    dist = CategoricalEpsilonGreedy(dim=1, z=torch.tensor([0.0, 1.0]), epsilon=0.0)
    p = torch.tensor([[0.5, 0.5]])
    assert dist.expectation(p).tolist() == [0.5]
    dist.set_z(torch.tensor([-4.0, 8.0]))
    assert dist.expectation(p).tolist() == [2.0]
    with pytest.raises(ValueError, match="n_atoms"):
        dist.set_z(torch.tensor([1.0]))


def test_categorical_epsilon_draws_uniformly():
    dist = CategoricalEpsilonGreedy(
        dim=A, z=torch.linspace(-1, 1, 5), epsilon=0.3, generator=_gen(9)
    )
    p = torch.zeros(N, A, 5)
    p[..., 2] = 1.0  # every action: expectation 0 ...
    p[:, 3] = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0])  # ... but action 3: 1
    share = torch.bincount(dist.sample(p), minlength=A).double() / N
    assert share[3].item() == pytest.approx(0.775, abs=0.005)
