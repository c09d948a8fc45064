"""Final observations of time-limit-cut episodes reach the samples (replay algorithms need them).

With ``final_observation=True`` every sampler writes, at each ``(t, b)`` where a time
limit cut the episode, the observation the env returned there (the one the reset then
replaced). ``CountingEnv`` observes the step count, so a cut episode of length L has
final observation L, while the next stored observation is 0 (the new episode's first).
"""

import numpy as np
import pytest
from probe_envs import CountingEnv, ObsAgent
from test_parallel_sampler import AFFINITY

from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector, CpuWaitResetCollector
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.gpu.collectors import GpuResetCollector, GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler

CASES = [
    (SerialSampler, CpuResetCollector),
    (SerialSampler, CpuWaitResetCollector),
    (CpuSampler, CpuResetCollector),
    (CpuSampler, CpuWaitResetCollector),
    (GpuSampler, GpuResetCollector),
    (GpuSampler, GpuWaitResetCollector),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("SamplerCls", "CollectorCls"), CASES)
def test_final_observation_at_every_timeout(SamplerCls, CollectorCls):
    sampler = SamplerCls(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3, 5), time_limit=True),
        batch_T=7,
        batch_B=2,
        max_decorrelation_steps=0,
        CollectorCls=CollectorCls,
    )
    affinity = None if SamplerCls is SerialSampler else AFFINITY
    sampler.initialize(ObsAgent(), affinity=affinity, seed=0, final_observation=True)
    n_cut = 0
    try:
        for itr in range(3):
            samples, _ = sampler.obtain_samples(itr)
            timeout = samples.env.env_info.timeout.numpy()
            done = samples.env.done.numpy()
            obs = samples.env.observation.numpy()[..., 0]
            final = samples.env.final_observation.numpy()[..., 0]
            # Each cut episode's final observation is its length: one past the last stored one.
            for t, b in zip(*np.nonzero(timeout), strict=True):
                assert final[t, b] == obs[t, b] + 1, (itr, t, b)
                assert final[t, b] in (3, 5)
                n_cut += 1
            assert (timeout <= done).all()
    finally:
        sampler.shutdown()
    assert n_cut >= 4


def test_no_final_observation_unless_asked():
    sampler = SerialSampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=2, batch_B=1)
    sampler.initialize(ObsAgent(), seed=0)
    try:
        samples, _ = sampler.obtain_samples(0)
        assert "final_observation" not in samples.env._fields
    finally:
        sampler.shutdown()
