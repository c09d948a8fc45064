"""RaySampler: CpuSampler's samples from Ray actors; dead actors reported or restarted.

One local Ray instance (2 CPUs) serves the whole module. The test helpers (the envs
of tests/ and the agents and envs of ray_probe_agents) reach the actors by import:
``PYTHONPATH`` in Ray's runtime env holds tests/ and this directory.
"""

import glob
import os
import re
import time
import warnings

import numpy as np
import psutil
import pytest
import torch
from faulty_envs import FaultyEnv
from probe_envs import SAMPLE_FIELDS as FIELDS
from probe_envs import CountingEnv, assert_same_batches, obtain_batches
from ray_probe_agents import ActorCtorFaultEnv, DieOnceEnv, LearnerCopyAgent, LinearAgent, ObsAgent

from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.utils.seed import derive_seed

ray = pytest.importorskip("ray")
from ray.exceptions import RayActorError  # noqa: E402

from rlpyt.samplers.ray import RaySampler  # noqa: E402
from rlpyt.samplers.ray.weights import WeightsBroadcast  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPERS_DIR = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    assert not ray.is_initialized()
    path = os.pathsep.join([TESTS_DIR, HELPERS_DIR])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


def _gone(pids, timeout=10.0) -> list:
    """The pids among ``pids`` still running (not zombies) after up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _live_sampler_actors(timeout=10.0) -> list:
    """Ray's table of actors (GCS, no dashboard needed): SamplerActors not dead."""
    deadline = time.monotonic() + timeout
    while True:
        live = [
            (actor_id, info["State"])
            for actor_id, info in ray._private.state.actors().items()
            if info["ActorClassName"] == "SamplerActor" and info["State"] != "DEAD"
        ]
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.1)


def assert_nothing_left(pids, handles):
    """No actor process, no live SamplerActor (by Ray's table and by handle), no shared memory."""
    pids = [pid for pid in pids if pid is not None]
    assert not _gone(pids)
    assert not _live_sampler_actors()
    for handle in handles:
        with pytest.raises(RayActorError):
            ray.get(handle.start.remote(), timeout=10)
    segments = [glob.glob(f"/dev/shm/rlpyt_{pid}_*") for pid in [os.getpid(), *pids]]
    assert not any(segments), segments


def collect(SamplerCls, n_itr=3, agent=None, seed=0, evaluate=False, **kwargs):
    """Batches (numpy copies, by field), completed (Return, Length) and the sampler.

    With ``evaluate``, ``sampler.eval_results`` holds the sorted (Return, Length)
    of an evaluation after the batches.
    """
    kwargs.setdefault("max_decorrelation_steps", 0)
    kwargs.setdefault("env_kwargs", dict(lengths=(3, 5), time_limit=True))
    kwargs.setdefault("EnvCls", CountingEnv)
    affinity = kwargs.pop("affinity", None)
    sampler = SamplerCls(**kwargs)
    sampler.initialize(agent or ObsAgent(), affinity=affinity, seed=seed, bootstrap_value=True)
    sampler.handles = list(sampler.pool.actors) if SamplerCls is RaySampler else []
    try:
        batches, completed = obtain_batches(sampler, n_itr, FIELDS)
        if evaluate:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # episodes cut by eval_max_steps
                infos = sampler.evaluate_agent(n_itr)
            sampler.eval_results = sorted((info.Return, info.Length) for info in infos)
    finally:
        sampler.shutdown()
    return batches, completed, sampler


@pytest.mark.timeout(120)
def test_ray_samples_and_evaluation_equal_cpu_sampler_ones():
    kw = dict(
        batch_T=7,
        batch_B=4,
        max_decorrelation_steps=6,
        eval_n_envs=2,
        eval_max_steps=40,
        eval_env_kwargs=dict(lengths=(2, 3)),
    )
    runs = {}
    for name, SamplerCls, extra in (
        ("cpu", CpuSampler, dict(affinity=dict(workers_cpus=[0, 1]))),
        ("ray", RaySampler, dict(n_workers=2)),
    ):
        batches, done, sampler = collect(SamplerCls, evaluate=True, **kw, **extra)
        runs[name] = batches, done, sampler.eval_results
    sampler_pids = sampler.actor_pids
    assert sampler.n_worker == 0 and len(sampler_pids) == 2  # shut down
    assert sampler.n_restarts == 0
    assert_same_batches(runs["cpu"][0], runs["ray"][0])
    assert runs["cpu"][1] == runs["ray"][1]
    assert any(runs["ray"][1])
    # Decorrelation put the envs out of phase (so the check covers the seeding rule).
    assert len(set(runs["ray"][0][0]["observation"][0, :, 0].tolist())) > 1
    assert runs["cpu"][2] == runs["ray"][2]
    assert len(runs["ray"][2]) >= 4
    assert_nothing_left(sampler_pids, sampler.handles)


def _sgd_step_to_weight_one(agent):
    """One optimizer step on LinearAgent's model: w = 0 -> 1 (d(-w)/dw = -1, lr 1)."""
    optimizer = torch.optim.SGD(agent.model.parameters(), lr=1.0)
    optimizer.zero_grad()
    (-agent.model(torch.ones(1, 1)).sum()).backward()
    optimizer.step()


@pytest.mark.parametrize("AgentCls", [LinearAgent, LearnerCopyAgent])
def test_weights_broadcast_puts_only_after_a_change(AgentCls):
    """Shared model or separate learner copy (GPU learner): puts count optimizer steps."""
    agent = AgentCls()
    agent.initialize(None, share_memory=True)
    weights, puts = WeightsBroadcast(agent), []
    assert not weights.update(puts.append)
    agent.sync_shared_memory()  # copies the learner model (bumps the shared copy's counters)
    assert not weights.update(puts.append) and weights.version == 0 and not puts
    _sgd_step_to_weight_one(agent)
    assert weights.update(puts.append) and not weights.update(puts.append)
    assert weights.version == 1 and weights.n_puts == 1
    assert [{k: v.tolist() for k, v in put.items()} for put in puts] == [{"model.weight": [[1.0]]}]
    assert agent.shared_model.weight.item() == 1.0  # synced before the put


@pytest.mark.timeout(180)  # Ray start-up on a loaded 2-core machine; the pool waits up to 120 s
def test_actor_start_up_error_names_the_env_and_leaves_nothing():
    sampler = RaySampler(
        EnvCls=ActorCtorFaultEnv,
        env_kwargs=dict(master_pid=os.getpid()),
        batch_T=2,
        batch_B=1,
        max_decorrelation_steps=0,
        n_workers=1,
    )
    with pytest.raises(WorkerError) as info:
        sampler.initialize(ObsAgent(), seed=0)
    message = str(info.value)
    assert re.match(
        r"Ray actor 0 \(pid \d+\), .*start-up.*InjectedFault: injected constructor fault",
        message,
        flags=re.DOTALL,
    ), message
    assert sampler._closed and sampler.n_worker == 0
    assert_nothing_left(sampler.actor_pids, [])


@pytest.mark.timeout(180)  # as above
def test_more_actor_cpus_than_the_cluster_has_are_refused():
    sampler = RaySampler(
        EnvCls=CountingEnv, env_kwargs={}, batch_T=1, batch_B=3, max_decorrelation_steps=0,
        n_workers=3,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"3 Ray actors of num_cpus=1 need 3 CPUs, but the Ray "
                       r"cluster has 2: lower n_workers"):  # fmt: skip
        sampler.initialize(ObsAgent(), seed=0)
    assert sampler._closed and sampler.n_worker == 0


@pytest.mark.timeout(120)
def test_env_error_names_actor_and_env_and_shuts_down():
    sampler = RaySampler(
        EnvCls=FaultyEnv,
        env_kwargs=dict(fault="raise", at_step=4),
        batch_T=3,
        batch_B=2,
        max_decorrelation_steps=0,
        n_workers=2,
    )
    sampler.initialize(ObsAgent(), seed=0)
    pids, handles = sampler.actor_pids, list(sampler.pool.actors)
    sampler.obtain_samples(0)
    with pytest.raises(WorkerError) as info:
        sampler.obtain_samples(1)
    message = str(info.value)
    # Both actors' envs fail at their step 4: whichever answers first is reported.
    assert re.match(
        r"Ray actor (\d) \(pid \d+\), env \1 \(FaultyEnv\), itr 1: InjectedFault: "
        r"injected step fault at step 4",
        message,
    ), message
    assert "worker traceback" in message
    assert sampler._closed
    assert_nothing_left(pids, handles)
    with pytest.raises(RuntimeError, match="after shutdown"):
        sampler.obtain_samples(2)
    sampler.shutdown()  # idempotent


@pytest.mark.timeout(120)
def test_dead_actor_is_reported_when_no_restarts(tmp_path):
    die_seed = derive_seed(0, "env", 1)  # env 1, in actor 1
    sampler = RaySampler(
        EnvCls=DieOnceEnv,
        env_kwargs=dict(marker=str(tmp_path / "died"), at_step=5, length=9, die_seed=die_seed),
        batch_T=3,
        batch_B=2,
        max_decorrelation_steps=0,
        n_workers=2,
    )
    sampler.initialize(ObsAgent(), seed=0)
    pids, handles = sampler.actor_pids, list(sampler.pool.actors)
    sampler.obtain_samples(0)
    with pytest.raises(WorkerError) as info:
        sampler.obtain_samples(1)
    message = str(info.value)
    assert message.startswith(f"Ray actor 1 (pid {pids[1]}, envs [1]) died during itr 1")
    assert "(max_restarts=0: set it to restart dead actors): ActorDiedError" in message
    assert sampler._closed and sampler.n_worker == 0
    assert_nothing_left(pids, handles)


@pytest.mark.timeout(120)
def test_weights_broadcast_and_dead_actor_restarted_once_then_reported(tmp_path, monkeypatch):
    """Weights put only after an optimizer step, sent to a restarted actor; a death past the limit."""
    marker = str(tmp_path / "died")
    sampler = RaySampler(
        EnvCls=DieOnceEnv,
        env_kwargs=dict(marker=marker, at_step=5, length=100, die_seed=derive_seed(0, "env", 0)),
        batch_T=3,
        batch_B=2,
        max_decorrelation_steps=0,
        n_workers=2,
        max_restarts=1,
    )
    agent = LinearAgent()
    sampler.initialize(agent, seed=0)
    first_pids, handles = sampler.actor_pids, list(sampler.pool.actors)
    puts, ray_put = [], ray.put

    def counting_put(value, **kwargs):
        puts.append(value)
        return ray_put(value, **kwargs)

    monkeypatch.setattr(ray, "put", counting_put)
    try:
        # action = int(w * observation) % 3 with w = 0: always action 0, reward 1.
        samples, _ = sampler.obtain_samples(0)
        np.testing.assert_array_equal(samples.env.reward.numpy(), np.ones((3, 2)))
        assert not puts and sampler.weights.version == 0  # nothing changed: nothing put
        _sgd_step_to_weight_one(agent)
        with pytest.warns(
            UserWarning,
            match=r"Ray actor 0 \(pid \d+\) died before or during itr 1: restarted as pid "
            r"\d+ \(restart 1 of max_restarts=1\)",
        ):
            samples, _ = sampler.obtain_samples(1)
        assert os.path.exists(marker)  # env 0 died at its step 5, in itr 1
        assert len(puts) == 1 and sampler.weights.version == 1
        assert sampler.n_restarts == 1
        assert sampler.actor_pids[0] != first_pids[0]
        assert sampler.actor_pids[1] == first_pids[1]
        # Actor 0 started over: its column holds steps 0-2 of a fresh episode; actor 1
        # continued: steps 3-5. Both act with w = 1 (action = observation % 3): the
        # restarted actor got the weights again.
        np.testing.assert_array_equal(
            samples.env.observation.numpy()[:, :, 0], [[0, 3], [1, 4], [2, 5]]
        )
        np.testing.assert_array_equal(samples.env.reward.numpy(), [[1, 1], [2, 2], [3, 3]])
        samples, _ = sampler.obtain_samples(2)
        assert len(puts) == 1 and sampler.pool.sent_version == [1, 1]  # no step: no put
        np.testing.assert_array_equal(
            samples.env.observation.numpy()[:, :, 0], [[3, 6], [4, 7], [5, 8]]
        )
        # A second death (killed between batches) is beyond max_restarts=1: an error.
        os.kill(sampler.actor_pids[1], 9)
        with pytest.raises(WorkerError, match=r"Ray actor 1 \(pid \d+, envs \[1\]\) died"):
            sampler.obtain_samples(3)
        assert sampler._closed
    finally:
        sampler.shutdown()
    assert_nothing_left(first_pids + sampler.actor_pids, handles)


@pytest.mark.timeout(120)
def test_bad_arguments_are_rejected_before_ray_starts():
    with pytest.raises(ValueError, match="max_restarts"):
        RaySampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=1, batch_B=1, max_restarts=-1)
    with pytest.raises(ValueError, match="batch_timeout must be > 0"):
        RaySampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=1, batch_B=1, batch_timeout=0)
