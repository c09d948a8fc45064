"""The GPU sampler (workers step envs, the master acts for all envs at once).

Its samples must equal the serial sampler's for a deterministic agent, and its
faults must read as the CPU sampler's and leave nothing behind.
"""

import re
import time

import numpy as np
import probe_envs
import pytest
import torch
from faulty_envs import (
    FaultyEnv,
    process_alive,
    worker_pids,
)
from probe_envs import CountingEnv, ObsInfo, obtain_batches

from rlpyt.agents.base import AgentStep
from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector, CpuWaitResetCollector
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.samplers.parallel.gpu.alternating_sampler import AlternatingSampler
from rlpyt.samplers.parallel.gpu.collectors import GpuResetCollector, GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler

AFFINITY = dict(workers_cpus=[0, 1])  # two workers


class ObsAgent(probe_envs.ObsAgent):
    """``probe_envs.ObsAgent`` whose value is 10 * observation[0] + prev_reward, so that
    V(final observation) of a time-limit cut also checks the reward passed with it."""

    def value(self, observation, prev_action, prev_reward):
        return super().value(observation, prev_action, prev_reward) + prev_reward


FIELDS = {
    "observation": lambda s: s.env.observation,
    "action": lambda s: s.agent.action,
    "reward": lambda s: s.env.reward,
    "done": lambda s: s.env.done,
    "timeout": lambda s: s.env.env_info.timeout,
    "prev_action": lambda s: s.agent.prev_action,
    "prev_reward": lambda s: s.env.prev_reward,
    "value": lambda s: s.agent.agent_info.value,
    "bootstrap_value": lambda s: s.agent.bootstrap_value,
    "timeout_value": lambda s: s.agent.timeout_value,
}


def collect(SamplerCls, CollectorCls, time_limit, n_itr=3, affinity=None, tracker=None, **kw):
    """Numpy copies (by field) of ``n_itr`` batches, and the completed (Return, Length)."""
    kw.setdefault("env_kwargs", dict(lengths=(3, 5), time_limit=time_limit))
    kw.setdefault("batch_B", 4)
    kw.setdefault("max_decorrelation_steps", 0)
    sampler = SamplerCls(EnvCls=CountingEnv, batch_T=7, CollectorCls=CollectorCls, **kw)
    sampler.initialize(ObsAgent(), affinity=affinity, seed=0, bootstrap_value=True)
    if tracker is not None:
        tracker.track(sampler)
    try:
        batches, completed = obtain_batches(sampler, n_itr, FIELDS)
    finally:
        sampler.shutdown()
    return batches, completed, sampler


# -- equivalence with the serial sampler --------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("time_limit", [False, True], ids=["terminal", "time-limit"])
@pytest.mark.parametrize(
    "gpu_collector, cpu_collector",
    [(GpuResetCollector, CpuResetCollector), (GpuWaitResetCollector, CpuWaitResetCollector)],
    ids=["reset", "wait-reset"],
)
@pytest.mark.parametrize("SamplerCls", [GpuSampler, AlternatingSampler])
def test_gpu_samples_equal_serial_samples(
    leaks, gpu_collector, cpu_collector, time_limit, SamplerCls
):
    serial, serial_done, _ = collect(SerialSampler, cpu_collector, time_limit)
    gpu, gpu_done, sampler = collect(
        SamplerCls, gpu_collector, time_limit, affinity=AFFINITY, tracker=leaks
    )
    assert sampler.n_worker == 2
    assert sampler.mid_batch_reset == cpu_collector.mid_batch_reset
    for itr, (s, g) in enumerate(zip(serial, gpu, strict=True)):
        for key in FIELDS:
            np.testing.assert_array_equal(g[key], s[key], err_msg=f"{key} differs at itr {itr}")
    assert gpu_done == serial_done
    # The comparison is not vacuous: episodes end, and time limits give values.
    first = serial[0]
    assert first["done"].any()
    assert first["timeout"].any() == time_limit
    assert (first["timeout_value"] != 0).any() == time_limit
    # (Wait-reset: all envs end within every batch, so they bootstrap from zeros.)
    assert (first["bootstrap_value"] != 0).any() == cpu_collector.mid_batch_reset


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "gpu_collector, cpu_collector",
    [(GpuResetCollector, CpuResetCollector), (GpuWaitResetCollector, CpuWaitResetCollector)],
    ids=["reset", "wait-reset"],
)
def test_gpu_with_decorrelation_and_uneven_split_equals_serial(leaks, gpu_collector, cpu_collector):
    kw = dict(
        batch_B=3,  # 2 + 1 envs over the two workers
        max_decorrelation_steps=20,
        env_kwargs=dict(lengths=(4, 9), time_limit=True),
    )
    serial, serial_done, _ = collect(SerialSampler, cpu_collector, True, **kw)
    with pytest.warns(UserWarning, match="evenly"):
        gpu, gpu_done, sampler = collect(
            GpuSampler, gpu_collector, True, affinity=AFFINITY, tracker=leaks, **kw
        )
    assert sampler.n_worker == 2
    for itr, (s, g) in enumerate(zip(serial, gpu, strict=True)):
        for key in FIELDS:
            np.testing.assert_array_equal(g[key], s[key], err_msg=f"{key} differs at itr {itr}")
    assert gpu_done == serial_done
    # Decorrelated: the envs start at different points of their episodes.
    assert len(set(serial[0]["observation"][0, :, 0].tolist())) > 1


@pytest.mark.timeout(60)
def test_gpu_reset_collector_exact_first_batch(leaks):
    """Spelled out: env 0 and env 3 (one per worker) over the first batch, time limits on."""
    batches, completed, _ = collect(
        GpuSampler, GpuResetCollector, True, n_itr=1, affinity=AFFINITY, tracker=leaks
    )
    b = batches[0]
    for env in (0, 3):
        # Episodes of length 3 then 5; action = obs % 3, reward = action + 1.
        np.testing.assert_array_equal(b["observation"][:, env, 0], [0, 1, 2, 0, 1, 2, 3])
        np.testing.assert_array_equal(b["action"][:, env], [0, 1, 2, 0, 1, 2, 0])
        np.testing.assert_array_equal(b["reward"][:, env], [1, 2, 3, 1, 2, 3, 1])
        np.testing.assert_array_equal(b["done"][:, env], [0, 0, 1, 0, 0, 0, 0])
        np.testing.assert_array_equal(b["timeout"][:, env], [0, 0, 1, 0, 0, 0, 0])
        # The buffer aliases prev_action[t + 1] to action[t] (and prev_reward to reward):
        # the reset masking after a done is applied when the batch is re-read.
        np.testing.assert_array_equal(b["prev_action"][:, env], [0, 0, 1, 2, 0, 1, 2])
        np.testing.assert_array_equal(b["prev_reward"][:, env], [0, 1, 2, 3, 1, 2, 3])
        np.testing.assert_array_equal(b["value"][:, env], [0, 10, 20, 0, 10, 20, 30])
        # V(final obs 3) + the reward 3 given with it, at the time-limit step only.
        np.testing.assert_array_equal(b["timeout_value"][:, env], [0, 0, 33, 0, 0, 0, 0])
        # After step 7: obs 4, prev_reward 1.
        np.testing.assert_array_equal(b["bootstrap_value"][:, env], [41])
    assert completed == [[(6.0, 3)] * 4]


# -- faults: the same errors as the CPU sampler, nothing left behind ------------------------

T, B = 8, 4  # the fault at env step 17 hits at itr 2


def _fault_sampler(SamplerCls, fault, **kwargs):
    return SamplerCls(
        EnvCls=FaultyEnv,
        env_kwargs=dict(fault=fault, at_step=17),
        batch_T=T,
        batch_B=B,
        max_decorrelation_steps=0,
        **kwargs,
    )


def _error_of(SamplerCls, fault, leaks, **kwargs):
    """The WorkerError text (pids masked), the itr it surfaced at, and how long it took."""
    sampler = _fault_sampler(SamplerCls, fault, **kwargs)
    sampler.initialize(ObsAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    pids = worker_pids(sampler)
    assert len(pids) == 2
    with pytest.raises(WorkerError) as excinfo:
        for itr in range(6):
            start = time.monotonic()
            sampler.obtain_samples(itr)
    elapsed = time.monotonic() - start
    # The sampler shut down before raising: no worker left, use is a clear error.
    assert not any(process_alive(w) for w in sampler.workers)
    with pytest.raises(RuntimeError, match="shutdown"):
        sampler.obtain_samples(itr + 1)
    sampler.shutdown()  # idempotent after an error
    msg = str(excinfo.value)
    head = msg.split("\n", 1)[0]
    # Which worker reports first is a race: check the env is that worker's (worker w
    # holds envs 2w and 2w + 1), then mask the indices and the pid.
    m = re.match(r"worker (\d) \(pid (\d+)\)(, env (\d) )?", head)
    assert m and int(m.group(2)) == pids[int(m.group(1))], (head, pids)
    if m.group(4) is not None:
        assert int(m.group(4)) // 2 == int(m.group(1)), head
    head = re.sub(r"worker \d \(pid \d+\)", "worker W (pid N)", head)
    head = re.sub(r"\benv \d \(", "env E (", head)
    return head, msg, itr, elapsed


FAULT_CASES = [
    (
        "raise",
        {},
        r"worker W \(pid N\), env E \(FaultyEnv\), itr 2: "
        r"InjectedFault: injected step fault at step 17",
    ),
    ("exit", {}, r"worker W \(pid N\) exited with code 3 during itr 2"),
    ("segv", {}, r"worker W \(pid N\) died with signal SIGSEGV during itr 2"),
    (
        "hang",
        dict(batch_timeout=2.0),
        r"worker W \(pid N\), env E \(FaultyEnv\) in step\(\) at its step 17, did not "
        r"finish itr 2 within batch_timeout=2\.0 s",
    ),
    (
        "nan_reward",
        {},
        r"worker W \(pid N\), env E \(FaultyEnv\), itr 2: .*\breward is nan\b.*",
    ),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "fault, kwargs, pattern", FAULT_CASES, ids=[case[0] for case in FAULT_CASES]
)
def test_gpu_sampler_faults_read_as_cpu_sampler_faults(leaks, fault, kwargs, pattern):
    gpu_head, gpu_msg, gpu_itr, gpu_elapsed = _error_of(GpuSampler, fault, leaks, **kwargs)
    cpu_head, cpu_msg, cpu_itr, _ = _error_of(CpuSampler, fault, leaks, **kwargs)
    assert gpu_itr == cpu_itr == 2
    assert re.fullmatch(pattern, gpu_head), gpu_head
    assert re.fullmatch(pattern, cpu_head), cpu_head
    if fault in ("raise", "nan_reward"):
        # Reported by a worker: the same text, and the worker's traceback along.
        assert gpu_head == cpu_head
        assert "worker traceback:" in gpu_msg and "Traceback" in gpu_msg, gpu_msg
    if fault == "raise":
        assert "faulty_envs.py" in gpu_msg and "in step" in gpu_msg, gpu_msg
    if fault == "nan_reward":  # A5: env index, step and field
        assert "at its step 17" in gpu_msg, gpu_msg
    if fault == "hang":
        assert 1.9 <= gpu_elapsed < 8, f"timed out after {gpu_elapsed:.1f} s"
    else:
        assert gpu_elapsed < 3, f"the error took {gpu_elapsed:.1f} s to surface"


# -- start methods -------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_gpu_sampler_start_methods_collect_a_batch(leaks, start_method):
    sampler = GpuSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3,)),
        batch_T=5,
        batch_B=2,
        max_decorrelation_steps=0,
        start_method=start_method,
    )
    sampler.initialize(ObsAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    try:
        assert sampler.n_worker == 2
        samples, completed = sampler.obtain_samples(0)
        assert samples.env.observation[:, :, 0].tolist() == [[0, 0], [1, 1], [2, 2], [0, 0], [1, 1]]
        assert samples.agent.action.tolist() == [[0, 0], [1, 1], [2, 2], [0, 0], [1, 1]]
        assert samples.env.reward[:, 1].tolist() == [1, 2, 3, 1, 2]
        assert samples.env.done[:, 0].tolist() == [False, False, True, False, False]
        assert sorted((i.Return, i.Length) for i in completed) == [(6.0, 3), (6.0, 3)]
    finally:
        sampler.shutdown()


@pytest.mark.timeout(60)
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_sampler_with_agent_on_cuda(leaks):
    """The master's batched agent runs on the GPU; the samples still equal serial ones."""

    class CudaObsAgent(ObsAgent):
        def step(self, observation, prev_action, prev_reward):
            out = super().step(observation.cuda(), prev_action.cuda(), prev_reward.cuda())
            return AgentStep(
                action=out.action.cpu(), agent_info=ObsInfo(out.agent_info.value.cpu())
            )

        def value(self, observation, prev_action, prev_reward):
            return super().value(observation.cuda(), prev_action, prev_reward.cuda()).cpu()

    serial, _, _ = collect(SerialSampler, CpuResetCollector, True)
    sampler = GpuSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3, 5), time_limit=True),
        batch_T=7,
        batch_B=4,
        max_decorrelation_steps=0,
    )
    sampler.initialize(CudaObsAgent(), affinity=AFFINITY, seed=0, bootstrap_value=True)
    leaks.track(sampler)
    try:
        for itr in range(3):
            samples, _ = sampler.obtain_samples(itr)
            for key, f in FIELDS.items():
                np.testing.assert_array_equal(f(samples).numpy(), serial[itr][key], err_msg=key)
    finally:
        sampler.shutdown()


@pytest.mark.timeout(60)
def test_alternating_sampler_refuses_recurrent_agents_and_single_worker(leaks):
    from rlpyt.agents.pg.mlp import MlpLstmAgent

    sampler = AlternatingSampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=4, batch_B=4)
    with pytest.raises(ValueError, match="recurrent agent MlpLstmAgent"):
        sampler.initialize(MlpLstmAgent(), affinity=AFFINITY, seed=0)
    sampler = AlternatingSampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=4, batch_B=4)
    with pytest.raises(ValueError, match="at least 2 workers"):
        sampler.initialize(ObsAgent(), affinity=dict(workers_cpus=[0]), seed=0)
