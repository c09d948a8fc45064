"""The scheme's env processes (``env_processes``) and its one weights object per version.

A collection worker whose envs run in env processes collects exactly the rollouts it
collects with in-process envs (same seeds, same agent calls); its env processes are named
when they fail and never outlive it. Every weights version is put in the object store
once and every collection worker loads that one object (central and decentralised).
"""

import copy
import os
import warnings

import numpy as np
import psutil
import pytest
import torch

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.impala import IMPALA
from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.envs.gym import gym_make
from rlpyt.runners.scheme import SchemeConfig, SchemeRl
from rlpyt.samplers.buffer import get_example_outputs
from rlpyt.samplers.collections import BatchSpec, TrajInfo, TrajInfoFactory
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.samplers.ray.collection import CollectionSpec, CollectionWorker
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.buffer import buffer_func
from rlpyt.utils.seed import derive_seed

HERE = os.path.dirname(os.path.abspath(__file__))
T, B = 30, 4
ENV_KWARGS = dict(id="CartPole-v1", max_episode_steps=25)  # time-limit cuts in every rollout


@pytest.fixture(scope="module")
def agent_and_examples():
    env = gym_make(**ENV_KWARGS)
    agent = MlpFfAgent()
    agent.initialize(env.spaces, share_memory=False, global_B=2 * B)
    return agent, get_example_outputs(agent, env)


def collection_spec(
    examples, env_processes, EnvCls=gym_make, env_kwargs=ENV_KWARGS, decorrelate=20
):
    """Collection worker 1 of 2: envs of global ranks 4..7."""
    return CollectionSpec(
        rank=1,
        env_ranks=list(range(B, 2 * B)),
        EnvCls=EnvCls,
        env_kwargs=env_kwargs,
        batch_spec=BatchSpec(T, B),
        examples=examples,
        traj_info_factory=TrajInfoFactory(TrajInfo),
        global_B=2 * B,
        seed=5,
        max_decorrelation_steps=decorrelate,
        env_processes=env_processes,
        env_step_timeout=20.0,
        startup_timeout=20.0,
    )


def leaves(samples, prefix=""):
    if isinstance(samples, tuple):
        for name, value in zip(samples._fields, samples):
            yield from leaves(value, f"{prefix}.{name}" if prefix else name)
    elif samples is not None:
        yield prefix, samples


def rollouts(agent_and_examples, env_processes) -> list:
    """Three rollouts of T steps, then one pre-empted after 7 steps (preempt() came first)."""
    agent, examples = agent_and_examples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 4 envs over 3 processes: "does not split evenly"
        worker = CollectionWorker(collection_spec(examples, env_processes), copy.deepcopy(agent))
    try:
        torch.manual_seed(1)  # the policy's action samples
        out = []
        for round_id, min_steps in ((0, T), (1, T), (2, T), (3, 7)):
            if round_id == 3:
                worker.preempt(3)
            r = worker.collect(round_id, 0, None, min_steps)
            samples = buffer_func(r.samples, np.array)
            out.append((samples, r.n_steps, [dict(info) for info in r.traj_infos]))
    finally:
        worker.close()
    return out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("env_processes", [2, 3])
def test_env_processes_collect_the_rollouts_of_in_process_envs(agent_and_examples, env_processes):
    """Field for field, with decorrelation, time-limit cuts (timeout values) and a
    pre-empted rollout, whose bootstrap value comes from its 7th step."""
    in_process = rollouts(agent_and_examples, 0)
    in_processes = rollouts(agent_and_examples, env_processes)
    assert [n for _, n, _ in in_process] == [T, T, T, 7]
    timeouts = sum(s.env.env_info.timeout[:n].sum() for s, n, _ in in_process)
    assert timeouts > 0 and sum(len(infos) for _, _, infos in in_process) > 4
    for (a, n_a, infos_a), (b, n_b, infos_b) in zip(in_process, in_processes):
        assert n_b == n_a
        for (name, x), (_, y) in zip(leaves(a), leaves(b)):
            rows = slice(0, 1) if name == "agent.bootstrap_value" else slice(0, n_a)
            np.testing.assert_array_equal(y[rows], x[rows], err_msg=name)
        assert infos_b == infos_a


def live_children() -> set:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["dies", "raises"])
def test_a_failed_env_process_is_named_and_every_env_process_stops(
    agent_and_examples, tmp_path, how
):
    from scheme_envs import DieOnceEnv

    agent, examples = agent_and_examples
    die_seed = derive_seed(5, "env", B + 3)  # the env of env process 1 (envs 2, 3)
    env_kwargs = dict(
        marker=str(tmp_path / "died"),
        die_seed=die_seed,
        at_step=5,
        raises=how == "raises",
        step_seconds=0,
    )
    spec = collection_spec(examples, 2, DieOnceEnv, env_kwargs, decorrelate=0)
    worker = CollectionWorker(spec, copy.deepcopy(agent))
    env_pids = set(worker.start()[2])
    assert len(env_pids) == 2 and env_pids <= live_children()
    cause = (
        r"worker 1 \(pid \d+\) exited with code 1 during itr 0"
        if how == "dies"
        else r"worker 1 \(pid \d+\), env 7 \(DieOnceEnv\), itr 0: RuntimeError: failed at step 5"
    )
    with pytest.raises(
        WorkerError, match=rf"env processes of collection worker 1 \(pid {os.getpid()}\): {cause}"
    ):
        worker.collect(0, 0, None, T)
    assert not env_pids & live_children()  # both stopped (and reaped) before the error
    worker.close()  # idempotent after the failure


@pytest.mark.timeout(60)
def test_debug_mode_run_with_env_processes_leaves_no_process():
    runner = make_runner(collection_workers=2, env_processes=2, remote=False)
    assert runner.train() == 3
    env_pids = set(runner.env_process_pids)
    assert len(env_pids) == 4 and os.getpid() not in env_pids
    assert set(runner.lag_histogram) == {0}  # sync links, one gradient per batch
    assert not env_pids & live_children()
    assert not any(psutil.pid_exists(pid) for pid in env_pids)


def make_runner(n_updates=3, B_w=2, **scheme):
    config = SchemeConfig(collection_num_cpus=0.2, gradient_num_cpus=0.2, **scheme)
    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="CartPole-v1"),
        batch_T=8,
        batch_B=B_w,
        max_decorrelation_steps=0,
    )
    batches = 1 if config.update_stage == "central" and config.update == "async" else None
    batches = batches or config.gradient_workers
    steps = n_updates * batches * (config.collection_workers // config.gradient_workers) * B_w * 8
    return SchemeRl(
        IMPALA(), MlpFfAgent(), sampler, n_steps=steps, scheme=config, seed=3,
        log_interval_steps=steps,
    )  # fmt: skip


@pytest.mark.parametrize(
    "scheme, match",
    [
        (dict(env_processes=-1), "scheme env_processes=-1 must be an integer >= 0"),
        (dict(env_processes=1.5), "scheme env_processes=1.5 must be an integer >= 0"),
        (dict(env_start_method="thread"), "scheme env_start_method='thread': choose one of"),
        (dict(env_processes=3), "scheme env_processes=3 exceeds the 2 envs of each collection"),
    ],
)
def test_bad_env_process_settings_are_refused(scheme, match):
    with pytest.raises(ValueError, match=match):
        make_runner(remote=False, **scheme)


def test_the_cli_sets_env_processes():
    config = apply_overrides(
        default_config("impala", "CartPole-v1"),
        ["runner.kind=scheme", "scheme.env_processes=2", "scheme.env_start_method=spawn"],
    )
    scheme = build_experiment(config).scheme
    assert (scheme.env_processes, scheme.env_start_method) == (2, "spawn")


# -- one weights object per version -------------------------------------------------


@pytest.mark.parametrize("stage,m", [("central", 2), ("decentralised", 1)])
def test_each_weights_version_is_put_once_and_reaches_every_collection_worker(stage, m):
    """Debug mode (the decentralised M = 2 case runs on Ray in test_scheme.py)."""
    runner = make_runner(
        collection_workers=2 * m, gradient_workers=m, update_stage=stage, remote=False
    )
    runner.train()
    # Versions 1 (the start) to 4 (after the third update), each put once.
    assert runner.weights_puts == {1: 1, 2: 1, 3: 1, 4: 1}
    # Sync links: the rollouts of update k were collected with version k.
    assert sorted(runner.weights_received) == [1, 2, 3]
    assert all(len(ids) == 1 for ids in runner.weights_received.values())


def test_weights_bookkeeping_keeps_only_recent_versions():
    from collections import Counter

    from rlpyt.runners.scheme_update import RECENT_VERSIONS, forget_old_versions

    puts = Counter()
    for version in range(1, 5 * RECENT_VERSIONS + 1):
        puts[version] += 1
        forget_old_versions(puts, version)
        assert len(puts) <= 2 * RECENT_VERSIONS + 1
    newest = 5 * RECENT_VERSIONS
    assert newest in puts and all(v > newest - 2 * RECENT_VERSIONS - 1 for v in puts)
    assert set(range(newest - RECENT_VERSIONS + 1, newest + 1)) <= set(puts)
