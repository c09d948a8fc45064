"""FAULTS.md D6: a runner asked for a GPU on a machine without CUDA refuses at start.

The refusal comes before the sampler starts anything (no worker process, no env).
"""

import pytest
import torch
from faulty_envs import FaultyEnv, wait_no_worker_children

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.pg.a2c import A2C
from rlpyt.runners.async_rl import AsyncRl
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def _sampler(SamplerCls):
    return SamplerCls(EnvCls=FaultyEnv, env_kwargs=dict(fault="none"), batch_T=4, batch_B=2)


def test_minibatch_runner_refuses_cuda_idx_without_cuda_before_workers_start(no_cuda):
    sampler = _sampler(CpuSampler)
    runner = MinibatchRl(
        algo=A2C(), agent=MlpFfAgent(), sampler=sampler, n_steps=8, affinity=dict(cuda_idx=0)
    )
    with pytest.raises(
        RuntimeError, match=r"cuda_idx=0 asks for a GPU, but CUDA is not available.*cuda_idx=None"
    ):
        runner.train()
    assert sampler.workers == []
    assert wait_no_worker_children() == []


def test_async_runner_refuses_cuda_idx_without_cuda_before_the_sampler_starts(no_cuda):
    sampler = _sampler(AsyncCpuSampler)
    runner = AsyncRl(
        algo=DQN(min_steps_learn=8, replay_size=100, batch_size=4),
        agent=DqnMlpAgent(),
        sampler=sampler,
        n_steps=8,
        affinity=dict(cuda_idx=1),
    )
    with pytest.raises(RuntimeError, match=r"AsyncRl: affinity cuda_idx=1 .*not available"):
        runner.train()
    assert wait_no_worker_children() == []


def test_cuda_idx_beyond_the_devices_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    runner = MinibatchRl(
        algo=A2C(),
        agent=MlpFfAgent(),
        sampler=_sampler(CpuSampler),
        n_steps=8,
        affinity=dict(cuda_idx=3),
    )
    with pytest.raises(RuntimeError, match=r"cuda_idx=3, but this machine has 1 CUDA device"):
        runner.train()
