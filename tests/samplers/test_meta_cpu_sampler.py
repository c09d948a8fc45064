"""MetaCpuSampler: the serial meta sampler's data from worker processes, for any number of
workers; faults named with the worker's traceback; no process left behind."""

import os

import numpy as np
import pytest
import torch
from faulty_envs import wait_no_worker_children

from rlpyt.agents.qpg.pearl_agent import PearlAgent
from rlpyt.envs.meta import meta_make
from rlpyt.samplers.meta import MetaCpuSampler, MetaSerialSampler
from rlpyt.samplers.parallel.errors import WorkerError

SMALL = dict(
    n_train_tasks=4, n_test_tasks=3, num_initial_steps=20, num_tasks_sample=3,
    num_steps_prior=20, num_steps_posterior=40, num_extra_rl_steps_posterior=20,
    embedding_batch_size=8, num_steps_per_eval=60, num_exp_traj_eval=1,
)  # fmt: skip


def small_agent():
    torch.manual_seed(0)
    return PearlAgent(hidden_sizes=[16, 16], encoder_hidden_sizes=[16], latent_size=3)


class FaultyTaskEnv:
    """The point robot, whose ``set_task`` (never called in the master) fails on purpose:
    ``"raise"`` raises, ``"exit"`` ends the process with code 3."""

    def __init__(self, fault):
        self.env = meta_make("point-robot")
        self.fault = fault

    def set_task(self, task):
        if self.fault == "exit":
            os._exit(3)
        raise RuntimeError("planned failure in set_task")

    def __getattr__(self, name):
        if name.startswith("__") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)


@pytest.fixture
def one_thread():
    """One torch thread in the master, as in the workers: no thread-dependent rounding."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def two_iterations(sampler):
    """Iterations 0 and 1 (the master's weights change in between, as training would change
    them) with the runner's modes; every sample, statistic and meta-test return."""
    agent = small_agent()
    sampler.initialize(agent, seed=5)
    out = []
    for itr in range(2):
        agent.sample_mode(itr)
        samples, infos = sampler.obtain_samples(itr)
        agent.eval_mode(itr)
        out.append((samples, infos, sampler.meta_test(itr), sampler.meta_test(itr, train=True)))
        with torch.no_grad():
            for p in list(agent.model.parameters()) + list(agent.encoder.parameters()):
                p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(itr)))
    return out, sampler.env_steps


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n_workers", [2, 3])
def test_identical_to_serial_whatever_the_number_of_workers(no_leftovers, one_thread, n_workers):
    # Worker 0 of 2 runs items 0 and 2, of 3 items 0 and 3: each item's data must not
    # depend on what its process ran before. The master's weights change after
    # iteration 0: iteration 1 matches only if the workers act with the new ones.
    serial = MetaSerialSampler(EnvCls=meta_make, env_kwargs=dict(name="point-robot"), **SMALL)
    expected, expected_steps = two_iterations(serial)
    serial.shutdown()
    sampler = MetaCpuSampler(
        EnvCls=meta_make, env_kwargs=dict(name="point-robot"), n_workers=n_workers, **SMALL
    )
    no_leftovers.track(sampler)
    got, steps = two_iterations(sampler)
    assert len(sampler.workers) == n_workers
    assert steps == expected_steps == 4 * 20 + 2 * 3 * 80
    for (samples, infos, test, train), (e_samples, e_infos, e_test, e_train) in zip(got, expected):
        assert [(s.task, s.to_encoder, s.clear_encoder) for s in samples] == [
            (s.task, s.to_encoder, s.clear_encoder) for s in e_samples
        ]
        for s, e in zip(samples, e_samples, strict=True):
            for field, a, b in zip(s.transitions._fields, s.transitions, e.transitions):
                np.testing.assert_array_equal(a, b, err_msg=field)
        assert [dict(i) for i in infos] == [dict(i) for i in e_infos]
        for a, b in zip(test + train, e_test + e_train):
            np.testing.assert_array_equal(a, b)
    assert got[0][2][0].shape == (3, 3)  # 3 test tasks, 60 // 20 trajectories


@pytest.mark.parametrize(
    "n_workers, error, match",
    [
        (0, ValueError, "n_workers must be >= 1"),
        (1.5, TypeError, "n_workers must be an integer"),
        (True, TypeError, "n_workers must be an integer"),
        (5, ValueError, r"n_workers=5 exceeds 4, the most tasks"),
    ],
)
def test_bad_workers_refused_before_any_process(n_workers, error, match):
    with pytest.raises(error, match=match):
        MetaCpuSampler(EnvCls=meta_make, env_kwargs=dict(name="point-robot"),
                       n_workers=n_workers, **SMALL)  # fmt: skip
    sampler = MetaCpuSampler(
        EnvCls=meta_make, env_kwargs=dict(name="point-robot"), n_workers=2, **SMALL
    )
    with pytest.raises(ValueError, match="affinity gives 1 workers_cpus for 2 workers"):
        sampler.initialize(small_agent(), affinity=dict(workers_cpus=[0]), seed=0)
    assert sampler.workers == [] and wait_no_worker_children(timeout=0.5) == []


@pytest.mark.timeout(60)
def test_worker_error_is_named_with_its_traceback_and_every_worker_stops(no_leftovers):
    sampler = MetaCpuSampler(EnvCls=FaultyTaskEnv, env_kwargs=dict(fault="raise"), n_workers=2,
                             **SMALL)  # fmt: skip
    sampler.initialize(small_agent(), seed=0)
    no_leftovers.track(sampler)
    pids = [p.pid for p in sampler.workers]
    with pytest.raises(WorkerError) as info:
        sampler.obtain_samples(0)
    message = str(info.value)
    assert message.startswith(
        f"worker 0 (pid {pids[0]}), itr 0: RuntimeError: planned failure in set_task"
    ) or message.startswith(
        f"worker 1 (pid {pids[1]}), itr 0: RuntimeError: planned failure in set_task"
    ), message
    assert "worker traceback" in message and "in set_task" in message, message
    assert not any(p.is_alive() for p in sampler.workers)  # stopped before the raise
    assert wait_no_worker_children() == []
    with pytest.raises(RuntimeError, match="after shutdown"):
        sampler.meta_test(0)
    sampler.shutdown()  # idempotent


@pytest.mark.timeout(60)
def test_worker_death_during_meta_test_is_named(no_leftovers):
    sampler = MetaCpuSampler(EnvCls=FaultyTaskEnv, env_kwargs=dict(fault="exit"), n_workers=2,
                             **SMALL)  # fmt: skip
    sampler.initialize(small_agent(), seed=0)
    no_leftovers.track(sampler)
    pids = {p.pid for p in sampler.workers}
    with pytest.raises(WorkerError, match=r"exited with code 3 during meta-test at itr 7") as info:
        sampler.meta_test(7)
    assert any(f"(pid {pid})" in str(info.value) for pid in pids)
    assert wait_no_worker_children() == []
