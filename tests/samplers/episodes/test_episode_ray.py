"""RayEpisodeSampler: the serial sampler's episodes from Ray actors; faults named.

One local Ray instance (2 CPUs) serves the module (~12 s to start on 2 busy cores, so the
tests are marked slow). The actors import rlpyt and the test helpers through
``PYTHONPATH`` in Ray's runtime env: this checkout first, then this directory.
"""

import os
import pickle
import time

import psutil
import pytest
import torch
from episode_helpers import (
    LookaheadAgent,
    RaisingAgent,
    RandomPickAgent,
    assert_same_episodes,
)

from rlpyt.envs.gym import gym_make
from rlpyt.models.planning import PlanningMlpModel
from rlpyt.samplers.episodes import SerialEpisodeSampler
from rlpyt.samplers.parallel.errors import WorkerError

ray = pytest.importorskip("ray")
from rlpyt.samplers.episodes import RayEpisodeSampler  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HELPERS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(HELPERS_DIR)))
HANOI_3 = dict(id="rlpyt/Hanoi-v0", n_disks=3)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    assert not ray.is_initialized()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([REPO_DIR, HELPERS_DIR])}},
    )
    yield
    ray.shutdown()


def lookahead_agent():
    torch.manual_seed(0)
    return LookaheadAgent(ModelCls=PlanningMlpModel, model_kwargs=dict(heads=("value",)))


def gone(pids, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_ray_plays_the_serial_episodes_and_follows_the_weights():
    kwargs = dict(EnvCls=gym_make, env_kwargs=HANOI_3, n_envs=4, episode_time_limit=10)
    results = []
    for sampler in (SerialEpisodeSampler(**kwargs), RayEpisodeSampler(n_workers=2, **kwargs)):
        agent = lookahead_agent()
        sampler.initialize(agent, seed=3)
        try:
            first = sampler.obtain_samples(0)[0]
            with torch.no_grad():
                for p in agent.model.parameters():
                    p.add_(0.1)
            results.append((first, sampler.obtain_samples(1)[0]))
        finally:
            sampler.shutdown()
    (serial_0, serial_1), (ray_0, ray_1) = results
    assert_same_episodes(serial_0, ray_0)
    assert_same_episodes(serial_1, ray_1)
    assert any(a.action.tolist() != b.action.tolist() for a, b in zip(serial_0, serial_1))
    assert sampler.weights.n_puts == 1  # once for the changed weights, not per epoch or actor


def test_ray_resume_and_actor_error():
    kwargs = dict(EnvCls=gym_make, env_kwargs=dict(id="rlpyt/BitFlipper-v0", n_bits=4), n_envs=4)
    serial = SerialEpisodeSampler(**kwargs)
    serial.initialize(RandomPickAgent(), seed=8)
    expected = [serial.obtain_samples(itr)[0] for itr in range(2)]
    serial.shutdown()
    first = RayEpisodeSampler(n_workers=2, **kwargs)
    first.initialize(RandomPickAgent(), seed=8)
    state = pickle.loads(pickle.dumps(first.state_dict()))
    first.shutdown()
    resumed = RayEpisodeSampler(n_workers=2, **kwargs)
    resumed.initialize(RandomPickAgent(), seed=8)
    try:
        resumed.load_state_dict(state)
        assert_same_episodes(resumed.obtain_samples(0)[0], expected[0])
    finally:
        resumed.shutdown()

    failing = RayEpisodeSampler(
        EnvCls=gym_make, env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=2), n_envs=2, n_workers=2
    )
    failing.initialize(RaisingAgent(fail_rank=1, fail_at=0), seed=0)
    pids = failing.actor_pids
    with pytest.raises(WorkerError) as info:
        failing.obtain_samples(0)
    failing.shutdown()
    message = str(info.value)
    assert message.startswith(f"Ray actor 1 (pid {pids[1]}), itr 0: RuntimeError: planned")
    assert "worker traceback" in message
    assert gone(pids + first.actor_pids + resumed.actor_pids)
