"""CpuEpisodeSampler: the serial sampler's episodes from worker processes; faults named."""

import pickle

import pytest
import torch
from episode_helpers import (
    ExitingAgent,
    LookaheadAgent,
    RaisingAgent,
    RandomPickAgent,
    ScriptedAgent,
    assert_same_episodes,
)

from rlpyt.envs.gym import gym_make
from rlpyt.envs.model import CloneStateUnsupportedError
from rlpyt.models.planning import PlanningMlpModel
from rlpyt.samplers.episodes import CpuEpisodeSampler, SerialEpisodeSampler
from rlpyt.samplers.parallel.errors import WorkerError

HANOI_3 = dict(id="rlpyt/Hanoi-v0", n_disks=3)
BITS_4 = dict(id="rlpyt/BitFlipper-v0", n_bits=4)


def lookahead_agent():
    torch.manual_seed(0)
    return LookaheadAgent(ModelCls=PlanningMlpModel, model_kwargs=dict(heads=("value",)))


def play_two_epochs(sampler, agent, no_leftovers):
    """Epoch 0, then the master's weights change, then epoch 1 (the workers must follow)."""
    sampler.initialize(agent, seed=3)
    no_leftovers.track(sampler)
    first = sampler.obtain_samples(0)[0]
    with torch.no_grad():
        for p in agent.model.parameters():
            p.add_(0.1)
    return first, sampler.obtain_samples(1)[0]


@pytest.mark.timeout(60)
def test_parallel_plays_the_serial_episodes(no_leftovers):
    kwargs = dict(EnvCls=gym_make, env_kwargs=HANOI_3, n_envs=4, episode_time_limit=10)
    serial = play_two_epochs(SerialEpisodeSampler(**kwargs), lookahead_agent(), no_leftovers)
    parallel = play_two_epochs(
        CpuEpisodeSampler(n_workers=2, **kwargs), lookahead_agent(), no_leftovers
    )
    for a, b in zip(serial, parallel, strict=True):
        assert_same_episodes(a, b)
    assert [e.env_rank for e in parallel[0]] == [0, 1, 2, 3]
    # The new weights changed the play (else the test could not see stale weights).
    assert any(a.action.tolist() != b.action.tolist() for a, b in zip(*serial, strict=True))


@pytest.mark.timeout(60)
def test_random_agent_same_episodes_and_resume_across_processes(no_leftovers):
    """Env and agent generators give the serial episodes; a restored parallel sampler
    continues as the uninterrupted one."""
    kwargs = dict(EnvCls=gym_make, env_kwargs=BITS_4, n_envs=4)
    serial = SerialEpisodeSampler(**kwargs)
    serial.initialize(RandomPickAgent(), seed=8)
    no_leftovers.track(serial)
    expected = [serial.obtain_samples(itr)[0] for itr in range(3)]

    first = CpuEpisodeSampler(n_workers=2, **kwargs)
    first.initialize(RandomPickAgent(), seed=8)
    no_leftovers.track(first)
    assert_same_episodes(first.obtain_samples(0)[0], expected[0])
    state = pickle.loads(pickle.dumps(first.state_dict()))
    first.shutdown()
    resumed = CpuEpisodeSampler(n_workers=2, **kwargs)
    resumed.initialize(RandomPickAgent(), seed=8)
    no_leftovers.track(resumed)
    resumed.load_state_dict(state)
    for itr in (1, 2):
        assert_same_episodes(resumed.obtain_samples(itr)[0], expected[itr])


@pytest.mark.slow  # ~10 s on 2 busy cores: each spawned worker imports torch
@pytest.mark.timeout(60)
def test_spawned_workers(no_leftovers):
    sampler = CpuEpisodeSampler(
        EnvCls=gym_make, env_kwargs=BITS_4, n_envs=2, n_workers=2, start_method="spawn"
    )
    sampler.initialize(RandomPickAgent(), seed=1)
    no_leftovers.track(sampler)
    episodes, traj_infos = sampler.obtain_samples(0)
    assert [e.env_rank for e in episodes] == [0, 1] and len(traj_infos) == 2


def test_more_workers_than_envs_is_refused():
    with pytest.raises(ValueError, match="n_workers=3 exceeds n_envs=2"):
        CpuEpisodeSampler(EnvCls=gym_make, env_kwargs=BITS_4, n_envs=2, n_workers=3)
    with pytest.raises(ValueError, match="n_envs must be >= 1"):
        CpuEpisodeSampler(EnvCls=gym_make, env_kwargs=BITS_4, n_envs=0)


def test_env_without_clone_state_is_named_before_workers_start(no_leftovers):
    sampler = CpuEpisodeSampler(
        EnvCls=gym_make, env_kwargs=dict(id="Blackjack-v1"), n_envs=2, n_workers=2
    )
    no_leftovers.track(sampler)
    with pytest.raises(CloneStateUnsupportedError, match=r"BlackjackEnv\(Blackjack-v1\)"):
        sampler.initialize(ScriptedAgent(), seed=0)
    assert sampler.workers == []


def test_unpicklable_agent_is_named_before_workers_start(no_leftovers):
    agent = ScriptedAgent()
    agent.hook = lambda: None
    sampler = CpuEpisodeSampler(EnvCls=gym_make, env_kwargs=BITS_4, n_envs=2, n_workers=2)
    no_leftovers.track(sampler)
    with pytest.raises(TypeError, match="agent=.*ScriptedAgent.* cannot be pickled"):
        sampler.initialize(agent, seed=0)
    assert sampler.workers == []


@pytest.mark.timeout(60)
def test_worker_that_raises_is_named_and_every_worker_stops(no_leftovers):
    sampler = CpuEpisodeSampler(
        EnvCls=gym_make, env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=2), n_envs=4, n_workers=2
    )
    sampler.initialize(RaisingAgent(fail_rank=3, fail_at=1), seed=0)
    no_leftovers.track(sampler)
    pids = [p.pid for p in sampler.workers]
    with pytest.raises(WorkerError) as info:
        sampler.obtain_samples(0)
    message = str(info.value)
    assert message.startswith(f"worker 1 (pid {pids[1]}), itr 0: RuntimeError: planned failure")
    assert "worker traceback" in message and "in search" in message
    assert not any(p.is_alive() for p in sampler.workers)  # stopped before the raise


@pytest.mark.timeout(60)
def test_worker_that_dies_is_named(no_leftovers):
    sampler = CpuEpisodeSampler(
        EnvCls=gym_make, env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=2), n_envs=2, n_workers=2
    )
    sampler.initialize(ExitingAgent(exit_rank=0), seed=0)
    no_leftovers.track(sampler)
    pid = sampler.workers[0].pid
    with pytest.raises(
        WorkerError, match=rf"worker 0 \(pid {pid}\) exited with code 3 during itr 0"
    ):
        sampler.obtain_samples(0)
    with pytest.raises(RuntimeError, match="after shutdown"):
        sampler.obtain_samples(1)
