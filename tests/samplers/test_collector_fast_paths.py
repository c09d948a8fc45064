"""The collector's batched writes and sampling shortcuts give what the plain code gave."""

from collections import namedtuple

import numpy as np
import pytest
import torch

from rlpyt.distributions.categorical import Categorical, DistInfo
from rlpyt.samplers.collections import TrajInfo
from rlpyt.samplers.collectors import traj_info_reads_agent_info, write_env_infos
from rlpyt.utils.buffer import buffer_from_example
from rlpyt.utils.collections import namedarraytuple

Inner = namedtuple("Inner", ["lives", "score"])
Info = namedtuple("Info", ["timeout", "inner"])


def test_write_env_infos_matches_per_env_writes():
    example = namedarraytuple("Info", ["timeout", "inner"])(
        np.zeros((), bool), namedarraytuple("Inner", ["lives", "score"])(np.zeros((), int), 0.0)
    )
    batched = buffer_from_example(example, (3, 4))
    per_env = buffer_from_example(example, (3, 4))
    infos = [Info(b % 2 == 0, Inner(b, 0.5 * b)) for b in range(4)]
    write_env_infos(batched, 1, infos)
    for b, info in enumerate(infos):
        per_env[1, b] = info
    for got, want in zip(
        (batched.timeout, batched.inner.lives, batched.inner.score),
        (per_env.timeout, per_env.inner.lives, per_env.inner.score),
    ):
        np.testing.assert_array_equal(got, want)
    assert batched.inner.score[1, 3] == 1.5 and not batched.timeout[0].any()


def test_write_env_infos_mismatch_still_raises():
    buf = buffer_from_example(namedarraytuple("Info", ["timeout"])(np.zeros((), bool)), (2, 2))
    Other = namedtuple("Other", ["game_score"])
    with pytest.raises(ValueError, match="fields differ"):
        write_env_infos(buf, 0, [Other(1.0), Other(2.0)])


def test_base_traj_info_ignores_agent_info():
    class WithAgentInfo(TrajInfo):
        def step(self, observation, action, reward, done, agent_info, env_info):
            super().step(observation, action, reward, done, agent_info, env_info)

    assert not traj_info_reads_agent_info(TrajInfo)
    assert traj_info_reads_agent_info(WithAgentInfo)

    class Discounted(TrajInfo):
        _discount = 0.5  # a class attribute, as the sampler sets it

    info = Discounted()
    for r in (1.0, 0.0, 2.0):
        info.step(None, None, np.float32(r), False, None, None)
    assert (info.Length, info.Return, info.NonzeroRewards) == (3, 3.0, 2)
    assert info.DiscountedReturn == 1.0 + 0.25 * 2.0


@pytest.mark.parametrize("shape", [(8, 2), (5, 3, 6), (2,)])
def test_categorical_sample_is_multinomial_draw_for_draw(shape):
    g = torch.Generator().manual_seed(0)
    prob = torch.softmax(3 * torch.randn(shape, generator=g), dim=-1)
    prob[..., 0] = 0.0  # a zero-probability action is never drawn
    prob = prob / prob.sum(-1, keepdim=True)
    dist = Categorical(dim=shape[-1])
    for seed in range(20):
        torch.manual_seed(seed)
        expected = torch.multinomial(prob.reshape(-1, shape[-1]), 1).view(shape[:-1])
        after_expected = torch.rand(3)
        torch.manual_seed(seed)
        got = dist.sample(DistInfo(prob=prob))
        assert torch.equal(got, expected) and got.dtype == torch.long
        assert torch.equal(torch.rand(3), after_expected)  # same random numbers consumed
        assert not (got == 0).any()


def test_categorical_onehot_rows():
    dist = Categorical(dim=3)
    idx = torch.tensor([[0, 2], [1, 1]])
    onehot = dist.to_onehot(idx)
    assert onehot.dtype == torch.float and onehot.shape == (2, 2, 3)
    assert torch.equal(onehot.argmax(-1), idx) and torch.equal(onehot.sum(-1), torch.ones(2, 2))
    assert dist.to_onehot(idx.int(), dtype=torch.long).dtype == torch.long
