"""AsyncRl: the replay-ratio throttle, weight sync, evaluation, faults and clean shutdown.

Small runs (a tiny Q-network, 64 env steps per batch) so that each takes a few
seconds; every test is bounded by a timeout, so a hang fails instead of stalling.
"""

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
import torch
from faulty_envs import FaultyEnv, InjectedFault, shm_segments, wait_no_worker_children

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.envs.gym import gym_make
from rlpyt.runners.async_rl import AsyncRl, AsyncRlEval, AsyncSamplerError
from rlpyt.samplers.async_.alternating_sampler import AsyncAlternatingSampler
from rlpyt.samplers.async_.base import SharedWeights
from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
from rlpyt.samplers.async_.gpu_sampler import AsyncGpuSampler
from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(os.name != "posix", reason="POSIX")]

BATCH_T, BATCH_B = 16, 4  # 64 env steps per sampler batch
RATIO, BATCH_SIZE = 8, 32  # 16 gradient steps per batch
MIN_STEPS_LEARN = 256  # min_itr_learn = 4


def make_runner(
    SamplerCls=AsyncSerialSampler,
    env=("CartPole-v1",),
    n_steps=6400,
    log_interval_steps=640,
    RunnerCls=AsyncRl,
    sampler_kwargs=None,
    runner_kwargs=None,
):
    if env[0] == "faulty":
        EnvCls, env_kwargs = FaultyEnv, dict(fault=env[1], at_step=env[2])
    else:
        EnvCls, env_kwargs = gym_make, dict(id=env[0])
    sampler = SamplerCls(
        EnvCls=EnvCls,
        env_kwargs=env_kwargs,
        batch_T=BATCH_T,
        batch_B=BATCH_B,
        max_decorrelation_steps=0,
        **(sampler_kwargs or {}),
    )
    algo = DQN(
        batch_size=BATCH_SIZE,
        min_steps_learn=MIN_STEPS_LEARN,
        replay_size=10_000,
        replay_ratio=RATIO,
        target_update_interval=64,
        learning_rate=1e-3,
        eps_steps=2000,
        updates_per_sync=4,
    )
    agent = DqnMlpAgent(model_kwargs=dict(hidden_sizes=[16]))
    return RunnerCls(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        seed=3,
        log_interval_steps=log_interval_steps,
        progress_bar=False,
        **(runner_kwargs or {}),
    )


def rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))


def assert_nothing_left(before_shm):
    assert wait_no_worker_children() == []
    assert shm_segments([os.getpid()]) - before_shm == set()


@pytest.fixture
def clean():
    torch.set_num_threads(1)
    before = shm_segments([os.getpid()])
    yield
    assert_nothing_left(before)


def test_throttle_holds_the_replay_ratio_within_10_percent(tmp_path, clean):
    runner = make_runner()
    with logger_context(tmp_path, 0, "ratio", snapshot_mode="last") as lg:
        n_itr = runner.train()
    table = rows(lg.run_dir)
    assert n_itr == 100 and len(table) == 10
    assert [int(r["CumSteps"]) for r in table] == [640 * k for k in range(1, 11)]
    ratios = [float(r["ReplayRatio"]) for r in table]
    sampler_itrs = [int(r["SamplerItr"]) for r in table]
    # The optimizer never runs ahead of the data; the sampler is at most max_lead=2 batches
    # ahead, so from 20 batches after min_itr_learn=4 on the ratio is within 10% of 8.
    assert all(r <= RATIO + 1e-9 for r in ratios), ratios
    checked = [r for r, s in zip(ratios, sampler_itrs) if s - 4 >= 20]
    assert len(checked) >= 7
    assert all(abs(r - RATIO) / RATIO <= 0.10 for r in checked), ratios
    # In all, exactly the gradient steps of the synchronous runner: 16 per batch after 4.
    assert runner.algo.update_counter == (100 - 4) * 16
    assert os.path.exists(os.path.join(lg.run_dir, "params.pkl"))


def test_shared_weights_are_loaded_only_when_newer():
    import multiprocessing as mp

    model = torch.nn.Linear(3, 2)
    weights = SharedWeights(model, mp.get_context("fork"))
    try:
        copy = torch.nn.Linear(3, 2)
        assert weights.read_into(copy, -1) == 0
        torch.testing.assert_close(copy.weight, model.weight)
        with torch.no_grad():
            model.weight.add_(1.0)
        assert weights.read_into(copy, 0) == 0  # not newer: nothing read
        assert not torch.equal(copy.weight, model.weight)
        weights.write(model)
        assert weights.read_into(copy, 0) == 1
        torch.testing.assert_close(copy.weight, model.weight)
    finally:
        weights.release()


@pytest.mark.parametrize(
    "SamplerCls",
    [AsyncCpuSampler, AsyncGpuSampler, AsyncAlternatingSampler],
    ids=["cpu", "gpu", "alternating"],
)
def test_parallel_async_samplers_run_and_shut_down(tmp_path, clean, SamplerCls):
    runner = make_runner(
        SamplerCls, n_steps=1280, runner_kwargs=dict(affinity=dict(workers_cpus=[0, 1]))
    )
    with logger_context(tmp_path, 0, "par", snapshot_mode="none") as lg:
        runner.train()
    table = rows(lg.run_dir)
    assert [int(r["CumSteps"]) for r in table] == [640, 1280]
    assert runner.algo.update_counter == (20 - 4) * 16
    assert float(table[-1]["CumCompletedTrajs"]) > 0


def test_async_rl_eval_logs_evaluations(tmp_path, clean):
    runner = make_runner(
        n_steps=1280,
        RunnerCls=AsyncRlEval,
        sampler_kwargs=dict(eval_n_envs=2, eval_max_steps=400),
    )
    with logger_context(tmp_path, 0, "eval", snapshot_mode="none") as lg:
        runner.train()
    table = rows(lg.run_dir)
    assert [int(r["Iteration"]) for r in table] == [-1, 9, 19]
    assert all(float(r["StepsInEval"]) > 0 for r in table)


def test_env_error_in_the_sampler_process_reaches_the_optimizer(tmp_path, clean):
    runner = make_runner(env=("faulty", "raise", 300))
    with logger_context(tmp_path, 0, "fault", snapshot_mode="none"):
        start = time.monotonic()
        with pytest.raises(AsyncSamplerError) as info:
            runner.train()
    assert time.monotonic() - start < 30
    message = str(info.value)
    assert "the sampler process failed" in message
    assert "InjectedFault: injected step fault at step 300" in message


@pytest.mark.parametrize("fault, cause", [("exit", "exit code 3"), ("segv", "signal SIGSEGV")])
def test_sampler_process_death_is_an_error_not_a_hang(tmp_path, clean, fault, cause):
    runner = make_runner(env=("faulty", fault, 300))
    with logger_context(tmp_path, 0, "death", snapshot_mode="none"):
        start = time.monotonic()
        with pytest.raises(
            AsyncSamplerError, match=f"sampler process \\(pid \\d+\\) died with {cause}"
        ):
            runner.train()
    assert time.monotonic() - start < 30


def test_hung_sampler_times_out(tmp_path, clean):
    runner = make_runner(env=("faulty", "hang", 300), runner_kwargs=dict(sampler_timeout=2.0))
    with logger_context(tmp_path, 0, "hang", snapshot_mode="none"):
        with pytest.raises(AsyncSamplerError, match="waited 2 s for sampler batch .* is hung"):
            runner.train()


def test_optimizer_exception_surfaces_unchanged_and_stops_the_sampler(tmp_path, clean):
    runner = make_runner()
    calls = []

    def failing_optimize(itr, samples=None, sampler_itr=None):
        calls.append(itr)
        if len(calls) == 3:
            raise InjectedFault("optimizer fault")
        return original(itr, samples=samples, sampler_itr=sampler_itr)

    original = runner.algo.optimize_agent
    runner.algo.optimize_agent = failing_optimize
    with logger_context(tmp_path, 0, "optfault", snapshot_mode="none"):
        with pytest.raises(InjectedFault, match="optimizer fault"):
            runner.train()
    assert calls == [4, 5, 6]
    assert not runner.sampler.process.is_alive()


def test_bad_configurations_are_refused_before_anything_starts():
    sampler = SerialSampler(
        EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=4, batch_B=1
    )
    algo, agent = DQN(), DqnMlpAgent()
    with pytest.raises(TypeError, match="needs an async sampler .* got SerialSampler"):
        AsyncRl(algo=algo, agent=agent, sampler=sampler, n_steps=100)
    async_sampler = AsyncSerialSampler(
        EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=4, batch_B=1
    )
    with pytest.raises(ValueError, match="cannot be reproducible"):
        AsyncRl(algo=algo, agent=agent, sampler=async_sampler, n_steps=100, reproducible=True)
    with pytest.raises(ValueError, match="batch_T must be"):
        AsyncSerialSampler(EnvCls=gym_make, env_kwargs={}, batch_T=0, batch_B=1)
    with pytest.raises(ValueError, match="max_lead must be >= 1"):
        AsyncSerialSampler(EnvCls=gym_make, env_kwargs={}, batch_T=1, batch_B=1, max_lead=0)
    with pytest.raises(ValueError, match="AsyncRlEval needs a sampler with eval_n_envs >= 1"):
        AsyncRlEval(algo=algo, agent=agent, sampler=async_sampler, n_steps=100).train()


_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}, {tests_root!r}]
    import torch
    from test_async_rl import make_runner
    from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
    from rlpyt.utils.logging.context import logger_context
    torch.set_num_threads(1)
    runner = make_runner(AsyncCpuSampler, n_steps=10**7, log_interval_steps=640,
                         runner_kwargs=dict(affinity=dict(workers_cpus=[0, 1])))
    with logger_context({log_dir!r}, 0, "sig", snapshot_mode="last"):
        print("training", flush=True)
        runner.train()
    """
)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 1)])
def test_ctrl_c_and_sigterm_stop_everything(tmp_path, sig, code):
    here = os.path.dirname(os.path.abspath(__file__))
    script = _SCRIPT.format(tests=here, tests_root=os.path.dirname(here), log_dir=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for line in proc.stdout:  # the logger prints first
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
        time.sleep(0.5)
        start = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        # A prompt stop: on an idle machine about a second; the bound leaves room for a loaded CI.
        assert time.monotonic() - start < 12, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    expected = "KeyboardInterrupt" if sig == signal.SIGINT else "Preempted"
    assert expected in err
    assert err.count("Traceback") == 1, err  # the training process's own; none from children
    gone = psutil.wait_procs(descendants, timeout=3)[1]
    assert gone == []
    assert shm_segments([proc.pid] + [p.pid for p in descendants]) == set()
    assert proc.returncode in (code, -sig)
    if sig == signal.SIGTERM:  # a snapshot of the state the stopped sampler left
        assert "snapshot" in err and os.path.getsize(tmp_path / "run_0" / "params.pkl") > 0


def test_env_constructor_error_in_the_sampler_process_fails_start_up(tmp_path, clean):
    runner = make_runner(env=("faulty", "ctor_in_worker", 1))
    with logger_context(tmp_path, 0, "ctor", snapshot_mode="none"):
        with pytest.raises(
            RuntimeError, match="(?s)failed at start-up.*injected constructor fault"
        ):
            runner.train()
