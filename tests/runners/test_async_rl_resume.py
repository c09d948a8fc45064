"""AsyncRl preemption and resume (FAULTS.md B2), and no orphan after a worker fault.

A training process run as a subprocess gets SIGTERM after its first log row: it stops the
sampler process tree, writes a snapshot and exits 143 (the CLI's status) leaving no child
process and no shared-memory segment; a resumed run continues from the snapshot's counters,
weights and replay and finishes. Small runs (as in test_async_rl.py); every wait is bounded.
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
from faulty_envs import shm_segments, wait_no_worker_children
from test_async_rl import BATCH_B, BATCH_T, make_runner

from rlpyt.runners.async_rl import AsyncRl
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.checkpoint import load_checkpoint
from rlpyt.utils.logging.context import logger_context

pytestmark = [pytest.mark.timeout(150), pytest.mark.skipif(os.name != "posix", reason="POSIX")]

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
LOG_INTERVAL = 640  # 10 sampler iterations of 64 env steps
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(TESTS), HERE, TESTS]))

_TRAIN = textwrap.dedent(
    """
    import sys
    import torch
    from test_async_rl import make_runner
    from rlpyt.runners.minibatch_rl import Preempted
    from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
    from rlpyt.utils.logging.context import logger_context
    torch.set_num_threads(1)
    runner = make_runner(AsyncCpuSampler, n_steps=10**7, log_interval_steps={interval},
                         runner_kwargs=dict(affinity=dict(workers_cpus=[0, 1])))
    with logger_context({log_dir!r}, 0, "pre", snapshot_mode="last"):
        try:
            runner.train()
        except Preempted as err:
            print("preempted", err.itr, *err.snapshot_paths, flush=True)
            sys.exit(143)
    """
)


def rows(run_dir):
    path = os.path.join(run_dir, "progress.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def watch_tree(proc, seen):
    """Record every descendant of ``proc`` seen until it exits."""
    while proc.poll() is None:
        record_tree(proc.pid, seen)
        time.sleep(0.02)


def record_tree(pid, seen):
    """``seen``: psutil.Process -> its command line, for every descendant of ``pid``."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        if child not in seen:
            try:
                seen[child] = " ".join(child.cmdline())
            except psutil.Error:
                seen[child] = "?"


# multiprocessing's own helpers: they exit by themselves once the training process has gone.
HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def alive(processes):
    """The sampler processes and workers among ``processes`` still running (as command lines)."""
    left = []
    for p, cmdline in processes.items():
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                if not any(helper in cmdline for helper in HELPERS):
                    left.append(f"{p.pid} ({p.status()}): {cmdline}")
        except psutil.Error:
            pass
    return left


def sigterm_after_first_row(args, run_dir, cwd, group=False):
    """Start ``args``; SIGTERM it after the first progress row; (stdout, stderr, exit code,
    its pid, every descendant seen). ``group``: to its whole process group (a job preempted)."""
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=cwd,
        start_new_session=group,
    )  # fmt: skip
    seen = {}
    try:
        deadline = time.monotonic() + 90
        while not rows(run_dir) and proc.poll() is None and time.monotonic() < deadline:
            record_tree(proc.pid, seen)
            time.sleep(0.05)
        assert proc.poll() is None and rows(run_dir), proc.communicate(timeout=30)
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        watch_tree(proc, seen)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - start < 15, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, err, proc.returncode, proc.pid, seen


@pytest.mark.parametrize("group", [False, True], ids=["process", "process_group"])
def test_sigterm_snapshots_and_a_resumed_run_continues(tmp_path, group):
    torch.set_num_threads(1)
    script = _TRAIN.format(interval=LOG_INTERVAL, log_dir=str(tmp_path))
    run_dir = str(tmp_path / "run_0")
    out, err, code, pid, tree = sigterm_after_first_row(
        [sys.executable, "-c", script], run_dir, HERE, group=group
    )
    assert code == 143, err
    assert len(tree) >= 3  # the sampler process and its two workers
    assert alive(tree) == []  # all gone when the training process has exited
    assert shm_segments([pid] + [p.pid for p in tree]) == set()
    assert "Traceback" not in err, err
    _, itr, path = [line for line in out.splitlines() if line.startswith("preempted")][0].split()
    itr = int(itr)
    snapshot = load_checkpoint(path)
    counters = snapshot["async_counters"]
    assert snapshot["itr"] == itr == counters["sampler_itr"] - 1 >= 9
    assert counters["opt_itr"] <= counters["sampler_itr"]
    assert snapshot["algo_state_dict"]["replay"] is not None  # tiny: in the snapshot
    assert snapshot["algo_state_dict"]["update_counter"] > 0
    logged = rows(run_dir)

    # The resumed runner restores counters, weights, optimizer and replay before sampling.
    n_steps = (itr // 10 + 3) * LOG_INTERVAL  # two more log rows at least
    runner = make_runner(
        AsyncCpuSampler,
        n_steps=n_steps,
        log_interval_steps=LOG_INTERVAL,
        runner_kwargs=dict(affinity=dict(workers_cpus=[0, 1]), resume_from=run_dir),
    )
    before_shm = shm_segments([os.getpid()])
    with logger_context(str(tmp_path), 0, "pre", snapshot_mode="last", resume=True):
        runner.train()
        assert runner._start_itr == itr + 1
    resumed = rows(run_dir)
    assert resumed[: len(logged)] == logged
    new = [int(r["Iteration"]) for r in resumed[len(logged) :]]
    assert (
        new[0] > itr and new == sorted(set(new)) and new[-1] == n_steps // (BATCH_T * BATCH_B) - 1
    )
    # The update counter went on from the snapshot's (not from 0, nor a new warm-up).
    first = resumed[len(logged)]
    assert int(first["CumUpdates"]) > snapshot["algo_state_dict"]["update_counter"]
    assert wait_no_worker_children() == []
    assert shm_segments([os.getpid()]) - before_shm == set()


def test_resume_restores_the_saved_state(tmp_path, monkeypatch):
    """A resumed run starts from the snapshot's weights, optimizer, replay and counters."""
    torch.set_num_threads(1)
    runner = make_runner(n_steps=1280, log_interval_steps=LOG_INTERVAL)
    with logger_context(str(tmp_path), 0, "r", snapshot_mode="last"):
        runner.train()
    snapshot = load_checkpoint(str(tmp_path / "run_0" / "params.pkl"))
    resumed = make_runner(
        n_steps=1920,
        log_interval_steps=LOG_INTERVAL,
        runner_kwargs=dict(resume_from=tmp_path / "run_0"),
    )
    seen = {}

    def start(**kwargs):  # inspect the state the sampler process would start from
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(resumed.sampler, "start", start)
    with logger_context(str(tmp_path), 0, "r", snapshot_mode="last", resume=True):
        with pytest.raises(KeyboardInterrupt):
            resumed.train()
    counters = snapshot["async_counters"]
    assert (seen["start_itr"], seen["opt_itr"]) == (counters["sampler_itr"], counters["opt_itr"])
    assert seen["start_itr"] == 20
    for k, v in snapshot["agent_state_dict"]["model"].items():
        assert torch.equal(resumed.agent.model.state_dict()[k], v), k
    algo = resumed.algo
    assert algo.update_counter == snapshot["algo_state_dict"]["update_counter"]
    assert algo._steps_in_replay == snapshot["algo_state_dict"]["steps_in_replay"] == 1280
    replay = algo.replay_buffer.state_dict()
    saved = snapshot["algo_state_dict"]["replay"]
    assert replay.keys() == saved.keys()
    assert (
        algo.optim_state_dict()["state"].keys() == snapshot["optimizer_state_dict"]["state"].keys()
    )


_FAULT = textwrap.dedent(
    """
    import torch
    from faulty_envs import FaultyEnv
    from rlpyt.agents.dqn.mlp import DqnMlpAgent
    from rlpyt.algos.dqn.dqn import DQN
    from rlpyt.runners.async_rl import AsyncRl
    from rlpyt.runners.minibatch_rl import MinibatchRl
    from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
    from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
    from rlpyt.utils.logging.context import logger_context
    torch.set_num_threads(1)
    Runner, Sampler = {classes}
    sampler = Sampler(EnvCls=FaultyEnv, env_kwargs=dict(fault="raise", at_step=300),
                      batch_T=16, batch_B=4, max_decorrelation_steps=0)
    algo = DQN(batch_size=32, min_steps_learn=256, replay_size=10_000, replay_ratio=8)
    agent = DqnMlpAgent(model_kwargs=dict(hidden_sizes=[16]))
    runner = Runner(algo=algo, agent=agent, sampler=sampler, n_steps=10**6, seed=1,
                    affinity=dict(workers_cpus=[0, 1]), log_interval_steps=640,
                    progress_bar=False)
    with logger_context({log_dir!r}, 0, "fault", snapshot_mode="none"):
        runner.train()
    """
)


@pytest.mark.parametrize(
    "classes", ["(MinibatchRl, CpuSampler)", "(AsyncRl, AsyncCpuSampler)"], ids=["sync", "async"]
)
def test_no_child_outlives_the_training_process_after_a_worker_fault(tmp_path, classes):
    script = _FAULT.format(classes=classes, log_dir=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=HERE,
    )  # fmt: skip
    seen = {}
    try:
        watch_tree(proc, seen)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1 and "injected step fault" in err, err[-3000:]
    assert len(seen) >= 2, "the workers were not seen"
    assert alive(seen) == []  # at once: no worker still exiting after the training process
    assert shm_segments([proc.pid] + [p.pid for p in seen]) == set()


def test_cli_async_run_preempted_then_resumed(tmp_path):
    train = [sys.executable, "-m", "rlpyt", "train", "--algo", "dqn", "--env", "CartPole-v1"]
    train += ["--runner", "async", "--seed", "1", "--log-dir", str(tmp_path), "--run-id", "0"]
    tiny = ["--set", "sampler.batch_T=16", "sampler.batch_B=4", "runner.log_interval_steps=512"]
    tiny += ["algo.min_steps_learn=256", "algo.replay_size=5000"]
    run_dir = tmp_path / "run_0"
    _, err, code, pid, tree = sigterm_after_first_row(
        [*train, "--steps", str(10**6), *tiny], str(run_dir), str(tmp_path)
    )
    assert code == 143, err[-3000:]
    assert f"continue with --resume {run_dir}" in err
    assert alive(tree) == [] and shm_segments([pid] + [p.pid for p in tree]) == set()
    logged = rows(str(run_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "rlpyt", "train", "--resume", str(run_dir), "--steps", "4096"],
        capture_output=True, text=True, env=ENV, cwd=str(tmp_path), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed = rows(str(run_dir))
    assert resumed[: len(logged)] == logged and len(resumed) > len(logged)
    assert int(resumed[-1]["CumSteps"]) == 4096
    assert int(resumed[len(logged)]["Iteration"]) > int(logged[-1]["Iteration"])


# The async runner's SamplerItr / OptimizerItr columns are not in a MinibatchRl progress.csv.
@pytest.mark.filterwarnings("ignore:tabular key:RuntimeWarning")
@pytest.mark.parametrize("first", ["async", "minibatch"])
def test_async_and_minibatch_resume_each_others_snapshots(tmp_path, first):
    torch.set_num_threads(1)
    kinds = {"async": (AsyncRl, AsyncSerialSampler), "minibatch": (MinibatchRl, SerialSampler)}
    then = "minibatch" if first == "async" else "async"
    RunnerCls, SamplerCls = kinds[first]
    runner = make_runner(
        SamplerCls, n_steps=1280, log_interval_steps=LOG_INTERVAL, RunnerCls=RunnerCls
    )
    with logger_context(str(tmp_path), 0, "x", snapshot_mode="last"):
        runner.train()
    RunnerCls, SamplerCls = kinds[then]
    resumed = make_runner(
        SamplerCls,
        n_steps=2560,
        log_interval_steps=LOG_INTERVAL,
        RunnerCls=RunnerCls,
        runner_kwargs=dict(resume_from=str(tmp_path / "run_0")),
    )
    with logger_context(str(tmp_path), 0, "x", snapshot_mode="last", resume=True):
        resumed.train()
    table = rows(str(tmp_path / "run_0"))
    assert [int(r["Iteration"]) for r in table] == [9, 19, 29, 39]
    assert int(table[2]["CumUpdates"]) > int(table[1]["CumUpdates"]) > 0
