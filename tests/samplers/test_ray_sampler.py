"""RaySampler: CpuSampler's samples from Ray actors; dead actors reported or restarted.

One local Ray instance (2 CPUs) serves the whole module. The test helpers (the envs
of tests/ and the agents and env below) reach the actors by import: ``PYTHONPATH`` in
Ray's runtime env holds tests/ and this directory.
"""

import os
import re
import time
import warnings

import numpy as np
import psutil
import pytest
import torch
from faulty_envs import FaultyEnv
from probe_envs import CountingEnv

from rlpyt.agents.base import AgentStep
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.seed import derive_seed

ray = pytest.importorskip("ray")
from rlpyt.samplers.ray.sampler import RaySampler  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPERS_DIR = os.path.dirname(os.path.abspath(__file__))
ObsInfo = namedarraytuple("ObsInfo", ["value"])

FIELDS = {
    "observation": lambda s: s.env.observation,
    "reward": lambda s: s.env.reward,
    "done": lambda s: s.env.done,
    "prev_reward": lambda s: s.env.prev_reward,
    "timeout": lambda s: s.env.env_info.timeout,
    "action": lambda s: s.agent.action,
    "prev_action": lambda s: s.agent.prev_action,
    "value": lambda s: s.agent.agent_info.value,
    "bootstrap_value": lambda s: s.agent.bootstrap_value,
}


class ObsAgent:
    """Deterministic: action = int(observation[0]) % 3 (or ``fixed_action``); value = 10 * obs."""

    recurrent = False

    def __init__(self, fixed_action=None):
        self.fixed_action = fixed_action

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        self.env_spaces = env_spaces

    def reset(self):
        pass

    def reset_one(self, idx):
        pass

    def sample_mode(self, itr):
        pass

    def eval_mode(self, itr):
        pass

    def sync_shared_memory(self):
        pass

    def step(self, observation, prev_action, prev_reward):
        obs = observation[..., 0]
        if self.fixed_action is None:
            action = obs.long() % 3
        else:
            action = torch.full_like(obs, self.fixed_action, dtype=torch.long)
        return AgentStep(action=action, agent_info=ObsInfo(value=10.0 * obs))

    def value(self, observation, prev_action, prev_reward):
        return 10.0 * observation[..., 0]


class LinearAgent(ObsAgent):
    """A one-weight model in shared memory: action = int(w * observation[0]) % 3 (w = 0)."""

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        self.env_spaces = env_spaces
        self.model = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(self.model.weight)
        self.shared_model = None
        if share_memory:
            self.model.share_memory()
            self.shared_model = self.model

    def step(self, observation, prev_action, prev_reward):
        with torch.no_grad():
            scaled = self.model(observation)[..., 0]
        action = scaled.long() % 3
        return AgentStep(action=action, agent_info=ObsInfo(value=10.0 * observation[..., 0]))


class DieOnceEnv(CountingEnv):
    """A CountingEnv whose process exits at its ``at_step``-th step, once (a marker file).

    Only the env seeded with ``die_seed`` dies (so the test knows which actor).
    """

    def __init__(self, marker, at_step, length, die_seed):
        super().__init__(lengths=(length,))
        self.marker, self.at_step, self.die_seed = marker, at_step, die_seed
        self.n_steps, self.seeded = 0, None

    def seed(self, seed=None):
        super().seed(seed)
        self.seeded = seed

    def step(self, action):
        self.n_steps += 1
        if (
            self.n_steps == self.at_step
            and self.seeded == self.die_seed
            and not os.path.exists(self.marker)
        ):
            open(self.marker, "w").close()
            os._exit(3)
        return super().step(action)


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
    batches, completed = [], []
    try:
        for itr in range(n_itr):
            samples, infos = sampler.obtain_samples(itr)
            batches.append({k: f(samples).numpy().copy() for k, f in FIELDS.items()})
            completed.append(sorted((info.Return, info.Length) for info in infos))
        if evaluate:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # episodes cut by eval_max_steps
                infos = sampler.evaluate_agent(n_itr)
            sampler.eval_results = sorted((info.Return, info.Length) for info in infos)
    finally:
        sampler.shutdown()
    return batches, completed, sampler


def assert_same_batches(a, b):
    for itr, (x, y) in enumerate(zip(a, b, strict=True)):
        for key in FIELDS:
            np.testing.assert_array_equal(x[key], y[key], err_msg=f"{key} differs at itr {itr}")


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
    assert not _gone(sampler_pids)


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
    pids = sampler.actor_pids
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
    assert not _gone(pids)
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
    pids = sampler.actor_pids
    sampler.obtain_samples(0)
    with pytest.raises(WorkerError) as info:
        sampler.obtain_samples(1)
    message = str(info.value)
    assert message.startswith(f"Ray actor 1 (pid {pids[1]}, envs [1]) died during itr 1")
    assert "(max_restarts=0: set it to restart dead actors): ActorDiedError" in message
    assert sampler._closed
    assert not _gone(pids)


@pytest.mark.timeout(120)
def test_weights_broadcast_and_dead_actor_restarted_once_then_reported(tmp_path):
    """Weights go out only when changed, also to a restarted actor; a death past the limit."""
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
    first_pids = sampler.actor_pids
    try:
        # action = int(w * observation) % 3 with w = 0: always action 0, reward 1.
        samples, _ = sampler.obtain_samples(0)
        np.testing.assert_array_equal(samples.env.reward.numpy(), np.ones((3, 2)))
        assert sampler._weights_version == 0  # nothing changed: nothing broadcast
        with torch.no_grad():
            agent.model.weight.fill_(1.0)  # in place, as an optimizer step
        with pytest.warns(
            UserWarning,
            match=r"Ray actor 0 \(pid \d+\) died before or during itr 1: restarted as pid "
            r"\d+ \(restart 1 of max_restarts=1\)",
        ):
            samples, _ = sampler.obtain_samples(1)
        assert os.path.exists(marker)  # env 0 died at its step 5, in itr 1
        assert sampler._weights_version == 1
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
        assert sampler._weights_version == 1 and sampler._sent_version == [1, 1]
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
    assert not _gone(first_pids + sampler.actor_pids)


@pytest.mark.timeout(120)
def test_bad_arguments_are_rejected_before_ray_starts():
    with pytest.raises(ValueError, match="max_restarts"):
        RaySampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=1, batch_B=1, max_restarts=-1)
    with pytest.raises(ValueError, match="batch_timeout must be > 0"):
        RaySampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=1, batch_B=1, batch_timeout=0)
