"""The CPU-parallel sampler gives the serial sampler's samples, split over worker processes."""

import os
import warnings

import numpy as np
import pytest
from faulty_envs import SyncRecordingAgent as RecordingAgent
from faulty_envs import process_alive
from probe_envs import SAMPLE_FIELDS as FIELDS
from probe_envs import CountingEnv, ObsAgent, assert_same_batches, obtain_batches

from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector, CpuWaitResetCollector
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.gpu.alternating_sampler import AlternatingSampler
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler

AFFINITY = dict(workers_cpus=[0, 1])


def collect(SamplerCls, n_itr=3, agent=None, affinity=None, seed=0, track=None, **kwargs):
    """Batches (numpy copies, by field) and completed (Return, Length) of ``n_itr`` itrs."""
    kwargs.setdefault("max_decorrelation_steps", 0)
    kwargs.setdefault("env_kwargs", dict(lengths=(3, 5), time_limit=True))
    sampler = SamplerCls(EnvCls=CountingEnv, **kwargs)
    sampler.initialize(agent or ObsAgent(), affinity=affinity, seed=seed, bootstrap_value=True)
    if track is not None:
        track.track(sampler)
    try:
        batches, completed = obtain_batches(sampler, n_itr, FIELDS)
    finally:
        sampler.shutdown()
    return batches, completed, sampler


@pytest.mark.timeout(60)
@pytest.mark.parametrize("collector", [CpuResetCollector, CpuWaitResetCollector])
def test_parallel_samples_equal_serial_samples(no_leftovers, collector):
    kw = dict(batch_T=7, batch_B=4, CollectorCls=collector)
    serial, serial_done, _ = collect(SerialSampler, **kw)
    parallel, parallel_done, sampler = collect(
        CpuSampler, affinity=AFFINITY, track=no_leftovers, **kw
    )
    assert sampler.n_worker == 2
    assert sampler.mid_batch_reset == collector.mid_batch_reset
    assert_same_batches(serial, parallel)
    assert serial_done == parallel_done
    assert any(serial_done)  # episodes of length 3 and 5 end within 3 batches of 7 steps


@pytest.mark.timeout(60)
def test_parallel_with_decorrelation_is_reproducible(no_leftovers):
    kw = dict(batch_T=5, batch_B=4, max_decorrelation_steps=20, affinity=AFFINITY)
    kw["track"] = no_leftovers
    kw["env_kwargs"] = dict(lengths=(30,))
    a, _, s1 = collect(CpuSampler, seed=3, **kw)
    b, _, s2 = collect(CpuSampler, seed=3, **kw)
    c, _, s3 = collect(CpuSampler, seed=4, **kw)
    assert_same_batches(a, b)
    assert not np.array_equal(a[0]["observation"], c[0]["observation"])
    assert len(set(a[0]["observation"][0, :, 0].tolist())) > 1  # envs start at different steps


@pytest.mark.timeout(60)
def test_wait_reset_in_parallel(no_leftovers):
    batches, completed, sampler = collect(
        CpuSampler,
        n_itr=2,
        affinity=AFFINITY,
        track=no_leftovers,
        batch_T=5,
        batch_B=4,
        CollectorCls=CpuWaitResetCollector,
        env_kwargs=dict(lengths=(2, 4)),
        agent=ObsAgent(fixed_action=0),
    )
    assert not sampler.mid_batch_reset
    first, second = batches
    for b in range(4):  # every env, in both workers
        # Episode 0 (length 2), then the env waits: zeros, flagged done, to the end of the batch.
        np.testing.assert_array_equal(first["done"][:, b], [False, True, True, True, True])
        np.testing.assert_array_equal(first["reward"][:, b], [1, 1, 0, 0, 0])
        np.testing.assert_array_equal(first["observation"][:, b, 0], [0, 1, 0, 0, 0])
        # Reset between batches; episode 1 has length 4; the inputs start null.
        np.testing.assert_array_equal(second["observation"][:, b, 0], [0, 1, 2, 3, 0])
        np.testing.assert_array_equal(second["done"][:, b], [False, False, False, True, True])
        assert second["prev_action"][0, b] == 0 and second["prev_reward"][0, b] == 0
    assert completed == [[(2.0, 2)] * 4, [(4.0, 4)] * 4]


def _evaluate(SamplerCls, affinity=None, track=None, eval_n_envs=2, **kwargs):
    sampler = SamplerCls(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(2, 20)),
        batch_T=2,
        batch_B=2,
        max_decorrelation_steps=0,
        eval_n_envs=eval_n_envs,
        eval_max_steps=100 * eval_n_envs,
        **kwargs,
    )
    sampler.initialize(ObsAgent(fixed_action=0), affinity=affinity, seed=0)
    if track is not None:
        track.track(sampler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unfinished episodes are warned about
            infos = sampler.evaluate_agent(0)
            sampler.obtain_samples(0)  # training sampling still works after an evaluation
            infos_again = sampler.evaluate_agent(1)
    finally:
        sampler.shutdown()
    return infos, infos_again, sampler


@pytest.mark.timeout(60)
@pytest.mark.parametrize("SamplerCls", [CpuSampler, GpuSampler, AlternatingSampler])
def test_eval_in_parallel_reports_complete_episodes_like_serial(no_leftovers, SamplerCls):
    serial, _, _ = _evaluate(SerialSampler)
    parallel, parallel_again, sampler = _evaluate(SamplerCls, affinity=AFFINITY, track=no_leftovers)
    # Action 0 gives reward 1 per step: Return == Length, lengths alternate 2 and 20.
    assert all(info.Return == info.Length and info.Length in (2, 20) for info in parallel)
    key = sorted((info.Return, info.Length) for info in serial)
    assert sorted((info.Return, info.Length) for info in parallel) == key
    # 100 steps per env: 2, 20, 2, 20, 2, 20, 2, 20, 2 complete; the last 20 does not.
    assert len(parallel) == 18
    assert len(parallel_again) == 18


@pytest.mark.timeout(60)
@pytest.mark.parametrize("SamplerCls", [CpuSampler, GpuSampler, AlternatingSampler])
def test_eval_with_fewer_eval_envs_than_workers(no_leftovers, SamplerCls):
    """One eval env, two workers: only the worker holding it evaluates."""
    infos, infos_again, _ = _evaluate(
        SamplerCls, affinity=AFFINITY, track=no_leftovers, eval_n_envs=1
    )
    # 100 steps of one env: 2, 20, 2, 20, 2, 20, 2, 20, 2 complete.
    assert [info.Length for info in infos] == [2, 20] * 4 + [2]
    assert [info.Length for info in infos_again] == [2, 20] * 4 + [2]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("SamplerCls", [CpuSampler, GpuSampler])
def test_eval_in_parallel_max_trajectories_not_biased_to_short_episodes(no_leftovers, SamplerCls):
    infos, _, sampler = _evaluate(
        SamplerCls, affinity=AFFINITY, track=no_leftovers, eval_max_trajectories=4
    )
    # Four episodes started (two per env: lengths 2 then 20); all must be reported.
    assert sorted(info.Return for info in infos) == [2.0, 2.0, 20.0, 20.0]


@pytest.mark.timeout(60)
def test_uneven_env_split_warns_and_still_matches_serial(no_leftovers):
    kw = dict(batch_T=6, batch_B=3)
    serial, serial_done, _ = collect(SerialSampler, **kw)
    with pytest.warns(UserWarning, match=r"(?i)batch_B=3|3 envs|uneven|evenly"):
        parallel, parallel_done, sampler = collect(
            CpuSampler, affinity=AFFINITY, track=no_leftovers, **kw
        )
    assert sampler.n_worker == 2
    assert_same_batches(serial, parallel)
    assert serial_done == parallel_done


@pytest.mark.timeout(60)
def test_more_workers_than_envs_clamps_with_a_warning(no_leftovers):
    with pytest.warns(UserWarning, match=r"(?i)worker"):
        batches, _, sampler = collect(
            CpuSampler,
            n_itr=1,
            affinity=AFFINITY,
            track=no_leftovers,
            batch_T=4,
            batch_B=1,
            env_kwargs=dict(lengths=(3,)),
            agent=ObsAgent(fixed_action=0),
        )
    assert sampler.n_worker == 1
    np.testing.assert_array_equal(batches[0]["observation"][:, 0, 0], [0, 1, 2, 0])


@pytest.mark.timeout(60)
def test_default_workers_one_per_available_core_clamped_to_batch_B(no_leftovers):
    sampler = CpuSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3,)),
        batch_T=2,
        batch_B=4,
        max_decorrelation_steps=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an uneven split on an odd core count
        sampler.initialize(RecordingAgent(), seed=0)
    no_leftovers.track(sampler)
    try:
        assert sampler.n_worker == min(len(os.sched_getaffinity(0)), 4)
        assert len(sampler.workers) == sampler.n_worker
        assert all(w.is_alive() for w in sampler.workers)
        sampler.obtain_samples(0)
    finally:
        sampler.shutdown()
    assert not any(process_alive(w) for w in sampler.workers)


@pytest.mark.timeout(60)
def test_refused_cpu_pinning_warns_once_and_continues():
    worker = pytest.importorskip("rlpyt.samplers.parallel.worker")
    set_cpu_affinity = getattr(worker, "set_cpu_affinity", None)
    if set_cpu_affinity is None:
        pytest.skip("rlpyt.samplers.parallel.worker.set_cpu_affinity does not exist")
    before = os.sched_getaffinity(0)
    with pytest.warns(UserWarning) as record:
        set_cpu_affinity([999])  # no such cpu: the OS refuses, as in a restricted container
    assert len(record) == 1, [str(w.message) for w in record]
    assert "999" in str(record[0].message)
    assert os.sched_getaffinity(0) == before  # left unpinned


def test_worker_cpus_take_affinity_entries_of_one_or_several_cpus():
    sampler = CpuSampler(EnvCls=CountingEnv, env_kwargs=dict(lengths=(3,)), batch_T=2, batch_B=2)
    assert sampler._worker_cpus(dict(workers_cpus=[0, [1, 3]])) == [[0], [1, 3]]
    assert sampler._worker_cpus(dict(workers_cpus=[0, 1], set_affinity=False)) == [None, None]
    assert sampler._worker_cpus({}) == [None, None]  # no workers_cpus: unpinned


@pytest.mark.timeout(60)
def test_cpu_sampler_runs_with_a_launcher_affinity():
    from rlpyt.utils.launching.affinity import make_affinity

    cpus = sorted(os.sched_getaffinity(0))[:2]
    affinity = make_affinity(run_slot=0, n_cpu_core=len(cpus), n_gpu=0, cpu_per_run=len(cpus))
    assert affinity["workers_cpus"] == cpus
    sampler = CpuSampler(EnvCls=CountingEnv, env_kwargs=dict(lengths=(3,)), batch_T=2, batch_B=2)
    sampler.initialize(ObsAgent(), affinity=affinity, seed=0)
    try:
        samples, _ = sampler.obtain_samples(0)
    finally:
        sampler.shutdown()
    assert samples.env.observation.shape[:2] == (2, 2)
