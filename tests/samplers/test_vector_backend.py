"""The gym_vector env backend (rlpyt.envs.vector) gives the per-env path's samples, exactly.

The same seeded CartPole run (time limit 15, so episodes end by termination and by
truncation; a PG agent with value bootstrapping) through ``EnvCls=partial(gym_make, id)``
and through ``EnvCls=GymVectorEnvs(id)`` (native numpy CartPole, one call per step).
"""

import itertools
import pickle
from functools import partial

import numpy as np
import pytest
import torch

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.cli.build import make_env_factory
from rlpyt.cli.configs import default_config
from rlpyt.envs.gym import gym_make
from rlpyt.envs.vector import GymVectorBatch, GymVectorEnvs
from rlpyt.samplers.env_batch import GuardedEnvBatch
from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector, CpuWaitResetCollector
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.buffer import buffer_method
from rlpyt.utils.seed import get_rng_state, set_rng_state

KWARGS = dict(max_episode_steps=15)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny MLPs: more threads only contend (30x slower on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sampler(EnvCls, Cls=SerialSampler, collector=CpuResetCollector, **kw):
    return Cls(
        EnvCls=EnvCls,
        env_kwargs=KWARGS,
        batch_T=16,
        batch_B=4,
        CollectorCls=collector,
        max_decorrelation_steps=10,
        **kw,
    )


def _run(sampler, n_itr, **init):
    torch.manual_seed(0)
    sampler.initialize(MlpFfAgent(), seed=7, bootstrap_value=True, final_observation=True, **init)
    batches, trajs = [], []
    for itr in range(n_itr):
        samples, completed = sampler.obtain_samples(itr)
        batches.append(buffer_method(samples, "clone"))
        trajs += [(t.Length, t.Return, t.DiscountedReturn) for t in completed]
    return batches, trajs


def _leaves(tree):
    for leaf in tree:
        if isinstance(leaf, tuple):
            yield from _leaves(leaf)
        else:
            yield leaf


def _assert_identical(batches_a, batches_b):
    for a, b in zip(batches_a, batches_b, strict=True):
        for field, x, y in zip(a.env._fields, a.env, b.env):
            if field == "final_observation":  # meaningful only where timeout (see EnvSamplesFo)
                x, y = x[a.env.env_info.timeout], y[b.env.env_info.timeout]
            for u, v in zip(_leaves([x]), _leaves([y])):
                assert torch.equal(u, v), field
        for field, x, y in zip(a.agent._fields, a.agent, b.agent):
            for u, v in zip(_leaves([x]), _leaves([y])):
                assert torch.equal(u, v), field


@pytest.mark.parametrize("collector", [CpuResetCollector, CpuWaitResetCollector])
def test_serial_sampler_gives_identical_samples(collector):
    per_env = _sampler(
        partial(gym_make, "CartPole-v1"), collector=collector, eval_n_envs=2, eval_max_steps=400
    )
    batched = _sampler(
        GymVectorEnvs("CartPole-v1"), collector=collector, eval_n_envs=2, eval_max_steps=400
    )
    a, trajs_a = _run(per_env, 6)
    b, trajs_b = _run(batched, 6)
    assert isinstance(batched.collector.envs, GuardedEnvBatch)
    assert batched.collector.envs.env.native  # the numpy CartPole, not SyncVectorEnv
    _assert_identical(a, b)
    assert trajs_a == trajs_b and len(trajs_a) > 10
    timeouts = sum(int(x.env.env_info.timeout.sum()) for x in a)
    dones = sum(int(x.env.done.sum()) for x in a)
    assert 0 < timeouts < dones  # both kinds of episode end were compared
    torch.manual_seed(1)  # the agent's actions: both evaluations from the same stream
    eval_a = [(t.Length, t.Return) for t in per_env.evaluate_agent(0)]
    torch.manual_seed(1)
    eval_b = [(t.Length, t.Return) for t in batched.evaluate_agent(0)]
    assert eval_a == eval_b and eval_a
    per_env.shutdown()
    batched.shutdown()


def test_cpu_sampler_workers_step_their_slice_identically(leaks):
    per_env = leaks.track(_sampler(partial(gym_make, "CartPole-v1"), Cls=CpuSampler))
    batched = leaks.track(_sampler(GymVectorEnvs("CartPole-v1"), Cls=CpuSampler))
    affinity = dict(workers_cpus=[0, 1])
    a, trajs_a = _run(per_env, 4, affinity=affinity)
    b, trajs_b = _run(batched, 4, affinity=affinity)
    _assert_identical(a, b)
    assert trajs_a == trajs_b and trajs_a
    state = batched.state_dict()  # the workers' batches pickle (exact resume)
    assert state is not None
    per_env.shutdown()
    batched.shutdown()


def test_snapshot_resumes_the_batch_exactly():
    whole = _sampler(GymVectorEnvs("CartPole-v1"))
    batches, _ = _run(whole, 4)
    first = _sampler(GymVectorEnvs("CartPole-v1"))
    _run(first, 2)
    state, rng = pickle.loads(pickle.dumps(first.state_dict())), get_rng_state()
    resumed = _sampler(GymVectorEnvs("CartPole-v1"))
    _run(resumed, 0)
    resumed.load_state_dict(state)
    set_rng_state(rng)
    rest = [buffer_method(resumed.obtain_samples(itr)[0], "clone") for itr in (2, 3)]
    _assert_identical(batches[2:], rest)
    for sampler in (whole, first, resumed):
        sampler.shutdown()


def test_native_cartpole_step_equals_gymnasiums_vector_step():
    """rlpyt's CartPole step (no autoreset) against CartPoleVectorEnv.step on the same
    states and actions, over whole episodes, both integrators, and both ways of computing
    (a Python loop for few envs, numpy arrays for many): identical values."""
    import gymnasium

    from rlpyt.envs.vector import _CARTPOLE_LOOP_MAX_ENVS, _cartpole_step

    n_many = _CARTPOLE_LOOP_MAX_ENVS + 1
    for integrator, n in itertools.product(("euler", "semi-implicit euler"), (6, n_many)):
        ours, theirs = (
            gymnasium.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
            for _ in range(2)
        )
        ours.reset(seed=5)
        theirs.reset(seed=5)
        ours, theirs = ours.unwrapped, theirs.unwrapped
        ours.kinematics_integrator = theirs.kinematics_integrator = integrator
        rng = np.random.default_rng(0)
        for _ in range(60):  # some envs terminate; neither side resets them here
            action = rng.integers(0, 2, size=n)
            theirs.prev_done[:] = False  # no NEXT_STEP autoreset on gymnasium's side
            expected = theirs.step(action)
            got = _cartpole_step(ours, action)
            for e, g in zip(expected[:4], got[:4]):
                np.testing.assert_array_equal(g, e)
            np.testing.assert_array_equal(ours.state, theirs.state)


@pytest.mark.parametrize("n", [2, 30])  # the Python loop and the numpy arrays
def test_native_cartpole_refuses_actions_outside_0_1(n):
    from rlpyt.envs.vector import _CARTPOLE_LOOP_MAX_ENVS

    assert (n > _CARTPOLE_LOOP_MAX_ENVS) == (n == 30)
    batch = GymVectorBatch("CartPole-v1", list(range(n)))
    batch.reset(np.arange(n))
    state, steps = batch.vec.unwrapped.state.copy(), batch.vec.unwrapped.steps.copy()
    action = np.ones(n, dtype=np.int64)
    action[-1] = 2
    with pytest.raises(ValueError, match=r"CartPoleVectorEnv\(CartPole-v1\).*0 or 1"):
        batch.step(action)
    # Refused before anything moved.
    np.testing.assert_array_equal(batch.vec.unwrapped.state, state)
    np.testing.assert_array_equal(batch.vec.unwrapped.steps, steps)
    batch.close()


def test_sync_vector_env_for_ids_without_a_native_one():
    """Acrobot has no vector entry point: gymnasium's SyncVectorEnv, autoreset DISABLED."""
    seeds = [3, 4]
    batch = GymVectorBatch("Acrobot-v1", seeds, max_episode_steps=5)
    envs = [gym_make("Acrobot-v1", max_episode_steps=5) for _ in seeds]
    for env, seed in zip(envs, seeds):
        env.seed(seed)
    assert not batch.native
    np.testing.assert_array_equal(batch.reset([0, 1]), [env.reset() for env in envs])
    for t in range(5):
        step = batch.step(np.array([t % 3, 2]), active=np.array([True, t < 3]))
        for b in range(2 if t < 3 else 1):
            o, r, d, info = envs[b].step(np.array([t % 3, 2])[b])
            np.testing.assert_array_equal(step.observation[b], o)
            assert (step.reward[b], step.done[b], step.env_info.timeout[b]) == (r, d, info.timeout)
    assert step.done[0] and step.env_info.timeout[0]  # the time limit of 5 steps
    batch.close()


def test_nan_reward_names_the_env():
    class NanBatch(GymVectorBatch):
        def step(self, action, active=None):
            result = super().step(action, active)
            result.reward[1] = np.nan
            return result

    guarded = GuardedEnvBatch(NanBatch("CartPole-v1", [0, 1]), env_ranks=[4, 5])
    guarded.reset([0, 1])
    with pytest.raises(Exception, match=r"env 5 .*non-finite.*reward is nan"):
        guarded.step(np.array([0, 1]))


def test_finite_check_names_the_env_and_ignores_overflowing_sums():
    """The check sums first: a sum that overflows (all values finite) passes, a NaN or
    inf in one env's observation names that env, and waiting envs are not checked."""

    class Overwrite(GymVectorBatch):
        obs_value = None

        def step(self, action, active=None):
            result = super().step(action, active)
            if self.obs_value is not None:
                result.observation[:] = 0.0
                result.observation[self.obs_env] = self.obs_value
            return result

    inner = Overwrite("CartPole-v1", [0, 1, 2])
    guarded = GuardedEnvBatch(inner, env_ranks=[7, 8, 9])
    guarded.reset([0, 1, 2])
    inner.obs_value, inner.obs_env = 3e38, slice(None)  # finite; the sum is inf
    guarded.step(np.array([0, 1, 0]))
    for bad in (np.nan, np.inf):
        inner.obs_value, inner.obs_env = bad, 2
        with pytest.raises(Exception, match=r"env 9 .*non-finite.*observation holds NaN"):
            guarded.step(np.array([0, 1, 0]))
    guarded.step(np.array([0, 1, 0]), active=np.array([True, True, False]))


def test_cli_backend_default_and_refusals():
    config = default_config("ppo", "CartPole-v1")
    assert config["env"]["backend"] == "gym_vector"  # shown in --print-config
    assert isinstance(make_env_factory(config["env"])[0], GymVectorEnvs)
    assert default_config("ppo", "Pendulum-v1")["env"]["backend"] == "python"
    for backend, message in [
        ("numpy", r"env.backend must be one of envpool, gym_vector, python; got 'numpy'"),
        ("envpool", r"env.backend=.envpool. supports Atari games \(AtariEnv\) and gymnasium"),
    ]:
        with pytest.raises(ValueError, match=message):
            make_env_factory(dict(config["env"], backend=backend))
    with pytest.raises(ValueError, match=r"gym_vector.*Atari game"):
        make_env_factory({"id": "pong", "kwargs": {}, "backend": "gym_vector"})


def test_env_error_in_a_worker_batch_names_the_batch(leaks):
    class Broken(GymVectorEnvs):
        def make_batch(self, seeds, **kwargs):
            raise RuntimeError("no pool today")

    sampler = leaks.track(_sampler(Broken("CartPole-v1"), Cls=CpuSampler))
    with pytest.raises(WorkerError, match="no pool today"):
        sampler.initialize(MlpFfAgent(), seed=1, affinity=dict(workers_cpus=[0]))
