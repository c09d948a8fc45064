"""ActorLearnerRl and the policy lag: exact lags, the queue bound, faults, resume, the CLI.

Small runs (CartPole, a tiny MLP, 64 env steps per rollout) of a few seconds each; every
test is bounded by a timeout, so a hang fails instead of stalling.
"""

import csv
import os
import time

import numpy as np
import pytest
import torch
from faulty_envs import shm_segments, wait_no_worker_children

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.pg.appo import APPO
from rlpyt.algos.pg.impala import IMPALA
from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.envs.gym import gym_make
from rlpyt.runners.actor_learner import ActorLearnerRl, ActorLearnerRlEval
from rlpyt.runners.async_rl import AsyncSamplerError
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.runners.policy_lag import LAG_BUCKETS, PolicyLag
from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(os.name != "posix", reason="POSIX")]

BATCH_T, BATCH_B = 16, 4  # 64 env steps per rollout
HIST = ["PolicyLagHist" + (f"{a}+" if b is None else f"{a}" if a == b else f"{a}-{b}")
        for a, b in LAG_BUCKETS]  # fmt: skip


class SlowIMPALA(IMPALA):
    """IMPALA whose learner takes 100 ms more per rollout: the actors always run ahead."""

    def optimize_agent(self, itr, samples):
        time.sleep(0.1)
        return super().optimize_agent(itr, samples)


class SlowAPPO(APPO):
    def optimize_agent(self, itr, samples):
        time.sleep(0.1)
        return super().optimize_agent(itr, samples)


def make_runner(
    algo=None,
    RunnerCls=ActorLearnerRl,
    SamplerCls=AsyncSerialSampler,
    n_steps=1280,
    env_kwargs=None,
    sampler_kwargs=None,
    **runner_kwargs,
):
    sampler = SamplerCls(
        EnvCls=gym_make,
        env_kwargs=env_kwargs or dict(id="CartPole-v1"),
        batch_T=BATCH_T,
        batch_B=BATCH_B,
        max_decorrelation_steps=0,
        **(sampler_kwargs or {}),
    )
    return RunnerCls(
        algo=algo or IMPALA(learning_rate=1e-3),
        agent=MlpFfAgent(model_kwargs=dict(hidden_sizes=[16])),
        sampler=sampler,
        n_steps=n_steps,
        seed=3,
        log_interval_steps=640,
        progress_bar=False,
        **runner_kwargs,
    )


def train(runner, tmp_path, name="run", snapshot_mode="none"):
    """Train; returns the progress rows and the lags of every rollout, as recorded."""
    lags = []
    record = PolicyLag.record

    def spy(self, learner_version, behaviour_versions):
        lags.append(record(self, learner_version, behaviour_versions))
        return lags[-1]

    PolicyLag.record = spy
    try:
        with logger_context(tmp_path, 0, name, snapshot_mode=snapshot_mode) as lg:
            runner.train()
    finally:
        PolicyLag.record = record
    with open(os.path.join(lg.run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f)), lags


@pytest.fixture
def clean():
    torch.set_num_threads(1)
    before = shm_segments([os.getpid()])
    yield
    assert wait_no_worker_children() == []
    assert shm_segments([os.getpid()]) - before == set()


def hist(row):
    return [int(row[k]) for k in HIST]


# -- the policy lag -----------------------------------------------------------------------


def test_policy_lag_counts_and_buckets():
    lag = PolicyLag()
    assert np.array_equal(lag.record(5, np.array([[5, 4], [1, 5]])), [[0, 1], [4, 0]])
    lag.record(70, np.array([0, 69]))
    assert lag.stats() == dict(min=0, mean=(0 + 1 + 4 + 0 + 70 + 1) / 6, max=70)
    assert list(lag.histogram().values()) == [2, 2, 0, 1, 0, 0, 0, 1]
    with pytest.raises(RuntimeError, match="policy lag -1 < 0: .* version 6, newer than .* 5"):
        lag.record(5, np.array([6]))


def test_policy_lag_row_and_tensorboard_histogram(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rlpyt.utils.logging import logger

    lag = PolicyLag()
    lag.record(3, np.array([3, 3, 2, 0]))
    with logger_context(tmp_path, 0, "tb", use_summary_writer=True) as lg:
        lag.log(step=4)
        logger.dump_tabular()
    with open(os.path.join(lg.run_dir, "progress.csv")) as f:
        (row,) = list(csv.DictReader(f))
    assert (row["PolicyLagMin"], row["PolicyLagMean"], row["PolicyLagMax"]) == ("0", "1.0", "3")
    assert hist(row) == [2, 1, 1, 0, 0, 0, 0, 0]
    events = EventAccumulator(lg.run_dir, size_guidance={"histograms": 0}).Reload()
    (event,) = events.Histograms("PolicyLag")
    assert event.step == 4 and event.histogram_value.num == 4
    assert event.histogram_value.sum == 4 and event.histogram_value.max == 3
    assert lag.n_samples == 0  # a new interval


@pytest.mark.parametrize(
    "algo",
    [IMPALA(learning_rate=1e-3), APPO(learning_rate=1e-3, epochs=1, minibatches=1)],
    ids=["impala", "appo"],
)
def test_synchronous_runner_lag_is_exactly_zero_for_every_sample(tmp_path, clean, algo):
    runner = make_runner(algo, RunnerCls=MinibatchRl, SamplerCls=SerialSampler)
    table, lags = train(runner, tmp_path)
    assert len(lags) == 20 and all(lag.shape == (BATCH_T, BATCH_B) for lag in lags)
    assert all(not lag.any() for lag in lags)
    for row in table:
        assert (row["PolicyLagMin"], row["PolicyLagMean"], row["PolicyLagMax"]) == ("0", "0.0", "0")
        assert hist(row) == [640, 0, 0, 0, 0, 0, 0, 0]


def test_algorithms_without_lag_correction_log_no_lag(tmp_path, clean):
    runner = make_runner(A2C(), RunnerCls=MinibatchRl, SamplerCls=SerialSampler, n_steps=640)
    table, lags = train(runner, tmp_path)
    assert lags == [] and not any(k.startswith("PolicyLag") for k in table[0])


# -- the actor-learner runner -------------------------------------------------------------


@pytest.mark.parametrize(
    "algo",
    [IMPALA(learning_rate=1e-3), APPO(learning_rate=1e-3, epochs=1, minibatches=1)],
    ids=["impala", "appo"],
)
def test_queue_of_one_alternates_collection_and_learning_lag_zero(tmp_path, clean, algo):
    runner = make_runner(algo, sampler_kwargs=dict(max_lead=1))
    table, lags = train(runner, tmp_path)
    assert len(lags) == 20 and all(not lag.any() for lag in lags)
    assert [int(r["CumSteps"]) for r in table] == [640, 1280]
    assert [hist(r) for r in table] == [[640, 0, 0, 0, 0, 0, 0, 0]] * 2
    assert runner.algo.update_counter == 20
    assert runner.sampler.weights.version.value == 20  # versions are update counts


@pytest.mark.parametrize(
    "algo, max_lead, updates_per_rollout",
    [
        (SlowIMPALA(learning_rate=1e-3), 3, 1),
        (SlowIMPALA(learning_rate=1e-3), 2, 1),
        (SlowAPPO(learning_rate=1e-3, epochs=2, minibatches=2), 2, 4),
    ],
    ids=["impala-lead3", "impala-lead2", "appo-2x2-lead2"],
)
def test_lag_is_bounded_by_the_queue_and_reaches_the_bound_with_a_slow_learner(
    tmp_path, clean, algo, max_lead, updates_per_rollout
):
    runner = make_runner(algo, sampler_kwargs=dict(max_lead=max_lead))
    table, lags = train(runner, tmp_path)
    bound = (max_lead - 1) * updates_per_rollout
    # Every step of a rollout was stamped with the version its actor held.
    assert all(lag.min() == lag.max() for lag in lags)
    per_rollout = [int(lag[0, 0]) for lag in lags]
    # The actors start rollout s as soon as the learner finished rollout s - max_lead: the
    # first rollouts act with the initial weights, every later one lags by the bound.
    assert per_rollout == [s * updates_per_rollout for s in range(max_lead)] + [bound] * (
        20 - max_lead
    )
    assert [int(r["PolicyLagMax"]) for r in table] == [bound, bound]
    assert int(table[1]["PolicyLagMin"]) == bound
    assert sum(sum(hist(r)) for r in table) == 1280


def test_parallel_sampler_and_evaluation(tmp_path, clean):
    runner = make_runner(
        RunnerCls=ActorLearnerRlEval,
        SamplerCls=AsyncCpuSampler,
        sampler_kwargs=dict(eval_n_envs=2, eval_max_steps=400),
        affinity=dict(workers_cpus=[0, 1]),
    )
    table, lags = train(runner, tmp_path)
    assert [int(r["Iteration"]) for r in table] == [-1, 9, 19]
    assert all(float(r["StepsInEval"]) > 0 for r in table)
    assert len(lags) == 20 and max(int(lag.max()) for lag in lags) <= 1


def test_resumed_run_numbers_versions_on(tmp_path, clean):
    first = make_runner(n_steps=640)
    train(first, tmp_path, "a", snapshot_mode="last")
    assert first.algo.update_counter == 10
    resumed = make_runner(n_steps=1280, resume_from=str(tmp_path / "run_0"))
    table, lags = train(resumed, tmp_path / "b")
    # Rollouts 10..19 only, acting with the resumed weights (version 10 on): lags stay small.
    assert len(lags) == 10 and max(int(lag.max()) for lag in lags) <= 1
    assert resumed.algo.update_counter == 20
    assert [int(r["CumSteps"]) for r in table] == [1280]


def test_sampler_process_death_is_a_clear_error(tmp_path, clean):
    from faulty_envs import FaultyEnv

    sampler = AsyncSerialSampler(
        EnvCls=FaultyEnv, env_kwargs=dict(fault="exit", at_step=300),
        batch_T=BATCH_T, batch_B=BATCH_B, max_decorrelation_steps=0,
    )  # fmt: skip
    runner = ActorLearnerRl(
        algo=IMPALA(), agent=MlpFfAgent(), sampler=sampler, n_steps=6400, progress_bar=False
    )
    start = time.monotonic()
    with logger_context(tmp_path, 0, "death", snapshot_mode="none"):
        with pytest.raises(AsyncSamplerError, match=r"sampler process \(pid \d+\) died with exit"):
            runner.train()
    assert time.monotonic() - start < 30
    assert not runner.sampler.process.is_alive()


def test_only_lag_correcting_algorithms_and_async_samplers_are_accepted():
    sampler = AsyncSerialSampler(
        EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=4, batch_B=1
    )
    with pytest.raises(TypeError, match="A2C does not correct for: use IMPALA or APPO"):
        ActorLearnerRl(algo=A2C(), agent=MlpFfAgent(), sampler=sampler, n_steps=100)
    serial = SerialSampler(EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=4, batch_B=1)
    with pytest.raises(TypeError, match="needs an async sampler"):
        ActorLearnerRl(algo=IMPALA(), agent=MlpFfAgent(), sampler=serial, n_steps=100)
    for algo in ("a2c", "ppo", "dqn"):
        config = apply_overrides(default_config(algo, "CartPole-v1"), ["runner.kind=actor_learner"])
        with pytest.raises(ValueError, match=f"algo '{algo}' does not correct for: use --algo"):
            build_experiment(config)


@pytest.mark.parametrize("algo", ["impala", "appo"])
def test_cli_builds_the_actor_learner_runner(algo):
    config = default_config(algo, "CartPole-v1")
    config = apply_overrides(config, ["runner.kind=actor_learner", "sampler.kind=cpu"])
    runner = build_experiment(config)
    assert type(runner) is ActorLearnerRl and type(runner.sampler) is AsyncCpuSampler


@pytest.mark.slow
def test_impala_learns_cartpole_with_the_actor_learner_runner(tmp_path, clean):
    # 60k steps of 20 x 16 rollouts, about 15 s on one core; seed 1 reached ~400 (async
    # runs do not repeat exactly): a broken loss or lag handling stays near 20.
    sampler = AsyncSerialSampler(
        EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"),
        batch_T=20, batch_B=16, max_decorrelation_steps=100,
    )  # fmt: skip
    runner = ActorLearnerRl(
        algo=IMPALA(learning_rate=2e-3, entropy_loss_coeff=0.0),
        agent=MlpFfAgent(),
        sampler=sampler,
        n_steps=59_520,
        seed=1,
        log_interval_steps=9920,
        progress_bar=False,
    )
    table, _ = train(runner, tmp_path)
    returns = [float(r["ReturnAverage"]) for r in table]
    assert max(returns[-2:]) >= 250, returns


_SCRIPT = """
import sys
sys.path[:0] = [{tests!r}, {tests_root!r}]
import torch
from test_actor_learner import make_runner
from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
from rlpyt.utils.logging.context import logger_context
torch.set_num_threads(1)
runner = make_runner(SamplerCls=AsyncCpuSampler, n_steps=10**7,
                     affinity=dict(workers_cpus=[0, 1]))
with logger_context({log_dir!r}, 0, "sig", snapshot_mode="last"):
    print("training", flush=True)
    runner.train()
"""


def test_sigterm_snapshots_the_last_rollout_trained_on_and_leaves_no_process(tmp_path):
    import signal
    import subprocess
    import sys

    import psutil

    from rlpyt.utils.checkpoint import load_checkpoint

    here = os.path.dirname(os.path.abspath(__file__))
    script = _SCRIPT.format(tests=here, tests_root=os.path.dirname(here), log_dir=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for line in proc.stdout:
            if line.strip() == "training":
                break
        else:
            pytest.fail(f"the training script did not start: {proc.communicate(timeout=30)[1]}")
        tree = psutil.Process(proc.pid)
        deadline = time.monotonic() + 30
        while len(tree.children(recursive=True)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # the sampler process and its two workers
        descendants = tree.children(recursive=True)
        assert len(descendants) >= 3
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Preempted" in err and err.count("Traceback") == 1, err
    assert psutil.wait_procs(descendants, timeout=3)[1] == []
    assert shm_segments([proc.pid] + [p.pid for p in descendants]) == set()
    snapshot = load_checkpoint(str(tmp_path / "run_0" / "params.pkl"))
    counters = snapshot["async_counters"]
    # The state after the last rollout trained on: the resumed run collects the next one.
    assert counters["sampler_itr"] == counters["opt_itr"] == snapshot["itr"] + 1 > 0
    assert snapshot["algo_state_dict"]["update_counter"] == snapshot["itr"] + 1
