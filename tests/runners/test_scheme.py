"""The Ray scheme (SchemeRl): every mode trains, lag and pre-emption, faults, no actor left.

One local Ray instance (2 CPUs) serves the module; actors reserve fractional CPUs. Debug
mode (``remote=False``) runs the same code without Ray, quickly.
"""

import math
import os
import time

import numpy as np
import psutil
import pytest
import torch

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.pg.appo import APPO
from rlpyt.algos.pg.impala import IMPALA
from rlpyt.envs.gym import gym_make
from rlpyt.runners.scheme import SchemeConfig, SchemeRl
from rlpyt.runners.scheme_collection import mark_shortened
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.buffer import torchify_buffer
from rlpyt.utils.seed import derive_seed

ray = pytest.importorskip("ray")

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS_DIR = os.path.dirname(HERE)
MODES = [
    (stage, collection, update)
    for stage in ("central", "decentralised")
    for collection in ("sync", "async")
    for update in ("sync", "async")
]
SEED = 3


@pytest.fixture(scope="module")
def local_ray():
    assert not ray.is_initialized()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([TESTS_DIR, HERE])}},
    )
    yield
    ray.shutdown()


def live_scheme_actors(timeout=10.0) -> list:
    """Ray's table of actors (GCS, no dashboard needed): scheme workers not dead."""
    names = ("CollectionWorker", "GradientWorker")
    deadline = time.monotonic() + timeout
    while True:
        live = [
            (actor_id, info["ActorClassName"], info["State"])
            for actor_id, info in ray._private.state.actors().items()
            if info["ActorClassName"] in names and info["State"] != "DEAD"
        ]
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.1)


def make_runner(n_updates=3, T=8, B_w=2, algo=None, EnvCls=gym_make, env_kwargs=None, **scheme):
    scheme.setdefault("collection_num_cpus", 0.2)
    scheme.setdefault("gradient_num_cpus", 0.2)
    config = SchemeConfig(**scheme)
    sampler = SerialSampler(
        EnvCls=EnvCls,
        env_kwargs=env_kwargs or dict(id="CartPole-v1"),
        batch_T=T,
        batch_B=B_w,
        max_decorrelation_steps=0,
    )
    batches = 1 if config.update_stage == "central" and config.update == "async" else None
    batches = batches or config.gradient_workers
    steps = n_updates * batches * (config.collection_workers // config.gradient_workers) * B_w * T
    return SchemeRl(
        algo or IMPALA(),
        MlpFfAgent(),
        sampler,
        n_steps=steps,
        scheme=config,
        seed=SEED,
        log_interval_steps=steps,
    )


# -- debug mode and configuration (fast) -------------------------------------------------


@pytest.mark.parametrize("stage,collection,update", MODES)
def test_debug_mode_runs_every_mode_for_3_updates(stage, collection, update):
    m = 2 if stage == "central" else 1
    runner = make_runner(
        collection_workers=2 * m,
        gradient_workers=m,
        update_stage=stage,
        collection=collection,
        update=update,
        remote=False,
    )
    assert runner.train() == 3
    assert runner.algo.update_counter == 3 and runner.algo.skipped_steps == 0
    gradients = 3 * m if update == "sync" and stage == "central" else 3
    assert sum(runner.staleness_histogram.values()) == gradients
    if collection == "sync" and update == "sync":
        assert set(runner.lag_histogram) == {0}
        assert set(runner.staleness_histogram) == {0}


@pytest.mark.parametrize("keep, calls", [(True, 2), (False, 0)])
def test_gradient_workers_keep_freed_memory_unless_told_not_to(monkeypatch, keep, calls):
    import rlpyt.runners.minibatch_rl as minibatch_rl
    import rlpyt.runners.scheme_workers as scheme_workers

    called = []
    monkeypatch.setattr(scheme_workers, "keep_freed_memory", lambda: called.append("gradient"))
    monkeypatch.setattr(minibatch_rl, "keep_freed_memory", lambda: called.append("driver"))
    runner = make_runner(
        n_updates=1, collection_workers=2, gradient_workers=2, remote=False, keep_freed_memory=keep
    )
    assert runner.train() == 1
    assert called.count("gradient") == calls  # one per gradient worker
    assert called.count("driver") == 1  # the runner's own process: affinity decides


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(collection_workers=3, gradient_workers=2), "multiple"),
        (dict(update_stage="central-ish"), "update_stage='central-ish'"),
        (dict(collection="later"), "collection='later'"),
        (dict(fraction_samples=0.0), "fraction_samples=0.0 must be in"),
        (dict(fraction_workers=0.5, collection="async"), "collection='sync' only"),
        (dict(update_stage="decentralised", gradient_workers=2, remote=False), "cannot all-reduce"),
        (dict(collection_num_cpus=-1), "collection_num_cpus=-1 must be >= 0"),
        (dict(placement_strategy="TIGHT"), "placement_strategy='TIGHT'"),
    ],
)
def test_bad_scheme_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SchemeConfig(**kwargs)


def test_algorithm_without_vtrace_interface_is_refused():
    sampler = SerialSampler(
        EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=4, batch_B=1
    )
    with pytest.raises(TypeError, match="IMPALA's loss_terms"):
        SchemeRl(A2C(), MlpFfAgent(), sampler, n_steps=8, scheme=SchemeConfig(remote=False))


# -- shortened rollouts: exact targets ---------------------------------------------------


def test_shortened_rollout_targets_equal_those_of_the_truncated_rollout():
    """A column cut at n bootstraps from its next observation's value: its V-trace targets
    for t < n equal those of the first n steps alone; later steps are masked out."""
    T, B, n = 6, 2, 3
    agent = MlpFfAgent()
    env = gym_make(id="CartPole-v1")
    agent.initialize(env.spaces)
    _, batch_np, _ = build_samples_buffer(agent, env, BatchSpec(T, B), bootstrap_value=True)
    rng = np.random.default_rng(0)
    batch_np.env.observation[:] = rng.normal(size=batch_np.env.observation.shape)
    batch_np.env.reward[:] = rng.uniform(size=(T, B))
    batch_np.agent.action[:] = rng.integers(2, size=(T, B))
    batch_np.env.done[:] = False
    batch_np.env.env_info.timeout[:] = False
    prob = rng.uniform(0.2, 0.8, size=(T, B))
    batch_np.agent.agent_info.dist_info.prob[:] = np.stack([prob, 1 - prob], axis=-1)
    bootstrap_n = np.float32(1.7)
    batch_np.env.reward[n:, 0] = 1e6  # left over from an earlier rollout: must not matter
    algo = IMPALA()
    algo.initialize(agent, n_itr=1, batch_spec=BatchSpec(T, B), mid_batch_reset=True)
    truncated = torchify_buffer(batch_np)[:n, 0:1]
    short_terms = None
    valid = torch.ones(T, B)
    mark_shortened(batch_np, valid.numpy(), slice(0, 1), n, bootstrap_n)
    assert valid[:, 0].tolist() == [1, 1, 1, 0, 0, 0] and valid[:, 1].tolist() == [1] * T
    samples = torchify_buffer(batch_np)
    with torch.no_grad():
        dist_info, value = agent(*algo.agent_inputs(samples))
        log_rho = agent.distribution.log_likelihood(samples.agent.action, dist_info) - (
            agent.distribution.log_likelihood(
                samples.agent.action, samples.agent.agent_info.dist_info
            )
        )
        vs, _ = algo.vtrace_targets(samples, log_rho, value)
        # The first n steps alone, bootstrapped from the value after them.
        alone = truncated._replace(
            agent=truncated.agent._replace(bootstrap_value=torch.tensor([[bootstrap_n]]))
        )
        vs_alone, _ = algo.vtrace_targets(alone, log_rho[:n, 0:1], value[:n, 0:1])
        short_terms = algo.loss_terms(samples, valid)
    torch.testing.assert_close(vs[:n, 0:1], vs_alone, rtol=1e-6, atol=1e-6)
    assert torch.isfinite(vs).all()
    assert torch.isfinite(short_terms.value_loss) and short_terms.value_loss < 1e6


# -- on Ray ------------------------------------------------------------------------------


# Ray actor start-up (a process importing torch) is most of each test's time: the tests start
# as few actors as what they check needs.


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("stage,collection,update", MODES)
def test_every_mode_runs_3_updates_on_ray_and_leaves_no_actor(local_ray, stage, collection, update):
    """Central: 2 collection workers of 1 gradient worker (the M-gradient average is checked
    in debug mode); decentralised: 2 gradient workers all-reducing, 1 collection worker each.
    Central sync/sync runs APPO with 1 epoch and 1 minibatch: lag 0 holds for it too."""
    m = 1 if stage == "central" else 2
    sync = collection == "sync" and update == "sync"
    algo = APPO(epochs=1, minibatches=1) if stage == "central" and sync else None
    runner = make_runner(
        collection_workers=2,
        gradient_workers=m,
        update_stage=stage,
        collection=collection,
        update=update,
        algo=algo,
    )
    assert runner.train() == 3
    assert runner.algo.update_counter == 3
    lags = runner.lag_histogram
    # Gradients computed, 32 samples each (2 collection workers' rollouts per central
    # gradient, 1 per decentralised one): the first decentralised async step only starts
    # an all-reduce (one more round).
    gradients = {"central": 3 * 32, "decentralised": (4 if update == "async" else 3) * 2 * 16}
    assert sum(lags.values()) == gradients[stage]
    if sync:
        assert set(lags) == {0}  # 1 epoch, 1 minibatch: no lag at all
    else:
        # At most one rollout per collection worker in flight: lag <= M + 1.
        assert max(lags) <= 3
    # One object-store put per weights version (decentralised: by gradient worker 0 only),
    # and every collection worker collected a version's rollouts with that one object.
    assert set(runner.weights_puts.values()) == {1}
    assert set(runner.weights_received) <= set(runner.weights_puts)
    assert all(len(ids) == 1 for ids in runner.weights_received.values())
    assert not live_scheme_actors()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_env_processes_in_ray_actors_stop_with_them(local_ray):
    """2 collection workers (Ray actors) fork 2 env processes each; 3 sync updates with lag
    0; after shutdown no env process and no actor is left."""
    runner = make_runner(collection_workers=2, env_processes=2)
    assert runner.train() == 3
    assert set(runner.lag_histogram) == {0}
    env_pids = set(runner.env_process_pids)
    assert len(env_pids) == 4 and not env_pids & {os.getpid(), *runner.collection_pids}
    deadline = time.monotonic() + 5
    while any(psutil.pid_exists(pid) for pid in env_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in env_pids if psutil.pid_exists(pid)]
    assert not live_scheme_actors()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_straggler_preemption_halves_the_round_and_keeps_enough_steps(local_ray):
    """Collection worker 1 of 2 is 10x slower; fraction_workers 0.5: once worker 0 has
    delivered, worker 1 stops as soon as it holds a quarter of its rollout."""
    T, n_workers = 40, 2
    slow_seed = derive_seed(SEED + 1, "env", 1)  # the env of collection worker 1
    env_kwargs = dict(step_seconds=0.002, slow_seed=slow_seed, slow_factor=10.0)
    from rlpyt.envs.slow import SlowEnv

    rounds = {}
    for fractions in ((1.0, 1.0), (0.5, 0.25)):
        runner = make_runner(
            n_updates=4,
            T=T,
            B_w=1,
            EnvCls=SlowEnv,
            env_kwargs=env_kwargs,
            collection_workers=n_workers,
            gradient_workers=1,
            fraction_workers=fractions[0],
            fraction_samples=fractions[1],
        )
        runner.train()
        rounds[fractions] = float(np.median(runner.round_seconds[1:]))
        assert runner.algo.skipped_steps == 0  # a non-finite loss or gradient is skipped
        if fractions[0] < 1:
            assert min(runner.min_valid_steps) >= math.ceil(0.25 * T)
            assert min(runner.min_valid_steps) < T  # the straggler was cut
    assert rounds[(0.5, 0.25)] <= 0.5 * rounds[(1.0, 1.0)], rounds
    assert not live_scheme_actors()


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("max_restarts", [0, 1])
def test_killed_collection_worker_is_named_or_restarted(local_ray, tmp_path, max_restarts):
    die_seed = derive_seed(SEED + 1, "env", 1)  # the second env of collection worker 0
    from scheme_envs import DieOnceEnv

    runner = make_runner(
        n_updates=6,
        EnvCls=DieOnceEnv,
        env_kwargs=dict(
            marker=str(tmp_path / "died"), die_seed=die_seed, at_step=12, step_seconds=0
        ),
        collection_workers=1,
        gradient_workers=1,
        max_restarts=max_restarts,
    )
    start = time.monotonic()
    if max_restarts:
        assert runner.train() == 6
        assert os.path.exists(tmp_path / "died")
    else:
        with pytest.raises(
            WorkerError, match=r"collection worker 0 \(pid \d+, of gradient worker 0\) died"
        ):
            runner.train()
        assert time.monotonic() - start < 60
    assert not live_scheme_actors()
