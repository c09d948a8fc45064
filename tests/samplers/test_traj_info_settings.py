"""TrajInfo settings (the runner's traj_info_kwargs, e.g. the discount) belong to one sampler.

They are bound in the sampler's TrajInfoFactory, never set on the TrajInfo class, so two
samplers in one process keep their own discounts, and spawned workers get them with the
factory.
"""

import pickle

import pytest
from probe_envs import CountingEnv, ObsAgent
from test_parallel_sampler import AFFINITY

from rlpyt.samplers.collections import TrajInfo, TrajInfoFactory
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler


def discounted_returns(sampler, discount):
    """DiscountedReturn of the episodes (length 3, reward 1 per step) of one batch."""
    sampler.initialize(ObsAgent(fixed_action=0), seed=1, traj_info_kwargs=dict(discount=discount))
    try:
        _, traj_infos = sampler.obtain_samples(0)
    finally:
        sampler.shutdown()
    assert traj_infos
    return {info.DiscountedReturn for info in traj_infos}


def make(SamplerCls, **kwargs):
    return SamplerCls(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3,)),
        batch_T=7,
        batch_B=2,
        max_decorrelation_steps=0,
        **kwargs,
    )


def test_two_samplers_keep_their_own_discount():
    first, second = make(SerialSampler), make(SerialSampler)
    assert discounted_returns(first, 0.5) == {1 + 0.5 + 0.25}
    assert discounted_returns(second, 0.9) == {1 + 0.9 + 0.81}
    assert TrajInfo._discount == 1.0  # the class is never changed
    assert discounted_returns(make(SerialSampler), 1.0) == {3.0}


@pytest.mark.timeout(120)
def test_spawned_workers_get_the_discount():
    sampler = make(CpuSampler, start_method="spawn")
    sampler.initialize(
        ObsAgent(fixed_action=0),
        affinity=AFFINITY,
        seed=1,
        traj_info_kwargs=dict(discount=0.5),
    )
    try:
        _, traj_infos = sampler.obtain_samples(0)
    finally:
        sampler.shutdown()
    assert traj_infos and {info.DiscountedReturn for info in traj_infos} == {1.75}
    assert TrajInfo._discount == 1.0


def test_factory_records_pickle_with_their_settings_but_do_not_log_them():
    info = pickle.loads(pickle.dumps(TrajInfoFactory(TrajInfo, dict(discount=0.5))))()
    info = pickle.loads(pickle.dumps(info))
    assert info._discount == 0.5 and "_discount" not in info  # an attribute, not a logged item
