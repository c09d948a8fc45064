"""Ctrl-C and SIGTERM during training (FAULTS B1, B2).

End to end, through ``python -m rlpyt train`` with the CPU sampler's worker processes: the
run stops within 5 s with exit status 130 (SIGINT) or 143 (SIGTERM), without worker
tracebacks, child processes or shared-memory segments left behind; after SIGTERM a snapshot
of the last iteration exists and ``--resume`` continues from it.

In process, with the serial sampler: a snapshot written on SIGTERM between two log
intervals resumes exactly as the uninterrupted run goes on.
"""

import csv
import glob
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import torch
from progress_rows import read_rows as progress

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.ppo import PPO
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import MinibatchRl, Preempted
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.checkpoint import load_checkpoint
from rlpyt.utils.logging.context import logger_context

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

# 16 x 4 = 64 env steps per iteration, a log row (and a snapshot) every 16 iterations.
BATCH = 64
LOG_ITRS = 16


def train_command(log_dir, *extra):
    return [
        sys.executable, "-m", "rlpyt", "train",
        "--algo", "ppo", "--env", "CartPole-v1", "--sampler", "cpu", "--workers", "2",
        "--steps", "10000000", "--seed", "3", "--log-dir", str(log_dir),
        "--set", "runner.log_interval_steps=1024", "sampler.batch_T=16", "sampler.batch_B=4",
        *extra,
    ]  # fmt: skip


def _default_sigint():
    # A shell that starts pytest in the background makes its children ignore SIGINT;
    # the training process must see Ctrl-C as a terminal would deliver it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(command, tmp_path, name):
    out = open(tmp_path / f"{name}.out", "w")
    err = open(tmp_path / f"{name}.err", "w")
    proc = subprocess.Popen(command, stdout=out, stderr=err, preexec_fn=_default_sigint)
    out.close()
    err.close()
    return proc


def read_rows(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def wait_for_first_row(proc, run_dir, timeout=120):
    """Until the first progress row, and the snapshot written right after it, exist."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"training exited early with {proc.returncode}"
        path = run_dir / "progress.csv"
        if path.exists() and read_rows(run_dir) and (run_dir / "params.pkl").exists():
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail("no progress row within the time limit")


def gone(pid, create_time):
    try:
        process = psutil.Process(pid)
        return process.create_time() != create_time or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def interrupt(tmp_path, signum, settle=0.0):
    """Start a run, signal it ``settle`` s after its first row; returns ``(proc, run_dir)``."""
    run_dir = tmp_path / "runs" / "run_0"
    proc = start(train_command(tmp_path / "runs"), tmp_path, "train")
    try:
        wait_for_first_row(proc, run_dir)
        time.sleep(settle)
        children = [
            (c.pid, c.create_time()) for c in psutil.Process(proc.pid).children(recursive=True)
        ]
        assert len(children) >= 2  # the two sampler workers (and maybe a resource tracker)
        sent = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(timeout=5)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = (tmp_path / "train.err").read_text()
    assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], stderr[-3000:]
    assert elapsed < 5
    assert "Traceback" not in stderr, stderr[-3000:]
    assert f"interrupted: run saved in {run_dir}, continue with --resume {run_dir}" in stderr
    # Nothing left behind: no child process (a second of grace for them to be reaped),
    # no shared-memory segment of the training process.
    deadline = time.monotonic() + 1.0
    while not all(gone(*child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid, created in children if not gone(pid, created)]
    assert not left, f"child processes left: {left}"
    assert not glob.glob(f"/dev/shm/rlpyt_{proc.pid}_*")
    return proc, run_dir


@pytest.mark.timeout(180)
def test_ctrl_c_stops_workers_and_exits_130(tmp_path):
    _, run_dir = interrupt(tmp_path, signal.SIGINT)
    assert (run_dir / "params.pkl").exists()  # the snapshot of the last log interval


@pytest.mark.timeout(300)
def test_sigterm_saves_a_snapshot_and_resume_continues(tmp_path):
    # Half a second after the first row: some iterations (of ~20 ms) past the log interval.
    _, run_dir = interrupt(tmp_path, signal.SIGTERM, settle=0.5)
    snapshot = load_checkpoint(run_dir / "params.pkl")
    itr = snapshot["itr"]
    rows = read_rows(run_dir)
    logged = [int(r["Iteration"]) for r in rows]
    assert logged and logged[-1] <= itr  # at least as recent as the last row
    assert snapshot["cum_steps"] == (itr + 1) * BATCH
    if itr != logged[-1]:  # written on the way out, between two log intervals
        debug_log = (run_dir / "debug.log").read_text()
        assert f"Preempted (SIGTERM) after iteration {itr}: snapshot" in debug_log

    steps = snapshot["cum_steps"] + 2048
    proc = start(
        [sys.executable, "-m", "rlpyt", "train", "--resume", str(run_dir), "--steps", str(steps)],
        tmp_path,
        "resume",
    )
    assert proc.wait(timeout=240) == 0, (tmp_path / "resume.err").read_text()[-3000:]
    assert f"from iteration {itr + 1}." in (tmp_path / "resume.out").read_text()
    with open(run_dir / "progress.csv") as f:
        assert sum(line.startswith("Iteration,") for line in f) == 1
    rows = read_rows(run_dir)
    iterations = [int(r["Iteration"]) for r in rows]
    assert iterations[: len(logged)] == logged  # the rows before the preemption are kept
    new = iterations[len(logged) :]
    assert new and new[0] > itr
    assert new == list(range(new[0], new[-1] + 1, LOG_ITRS))  # every log interval, no gap
    assert (new[0] + 1) % LOG_ITRS == 0
    assert int(rows[-1]["CumSteps"]) >= steps
    assert not glob.glob(f"/dev/shm/rlpyt_{proc.pid}_*")


# -- in process: a snapshot between two log intervals resumes exactly ---------------------

T, B = 16, 4
LOG_EVERY = 4  # iterations


class SigtermAt(MinibatchRl):
    """Sends itself SIGTERM in the middle of iteration ``at`` (after sampling)."""

    at = None

    def store_diagnostics(self, itr, traj_infos, opt_info):
        if itr == self.at:
            os.kill(os.getpid(), signal.SIGTERM)
        super().store_diagnostics(itr, traj_infos, opt_info)


def make_runner(RunnerCls=MinibatchRl, resume_from=None):
    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="CartPole-v1", max_episode_steps=30),
        batch_T=T,
        batch_B=B,
        max_decorrelation_steps=10,
    )
    return RunnerCls(
        algo=PPO(learning_rate=1e-3, minibatches=2, epochs=2, linear_lr_schedule=True),
        agent=MlpFfAgent(),
        sampler=sampler,
        n_steps=2 * LOG_EVERY * T * B,
        seed=11,
        log_interval_steps=LOG_EVERY * T * B,
        resume_from=resume_from,
        progress_bar=False,
    )


@pytest.mark.timeout(120)
def test_sigterm_between_log_intervals_resumes_exactly(tmp_path):
    torch.set_num_threads(1)
    handler = signal.getsignal(signal.SIGTERM)
    straight = make_runner()
    with logger_context(tmp_path / "a", 0, "straight", snapshot_mode="last") as lg_a:
        straight.train()

    stopped = make_runner(SigtermAt)
    stopped.at = LOG_EVERY + 1  # between the rows of iterations 3 and 7
    with pytest.raises(Preempted) as info:
        with logger_context(tmp_path / "b", 0, "resumed", snapshot_mode="last") as lg_b:
            stopped.train()
    assert info.value.itr == LOG_EVERY + 1
    assert info.value.snapshot_paths == [os.path.join(lg_b.run_dir, "params.pkl")]
    assert signal.getsignal(signal.SIGTERM) is handler  # restored
    assert stopped.sampler._closed
    assert load_checkpoint(os.path.join(lg_b.run_dir, "params.pkl"))["itr"] == LOG_EVERY + 1

    resumed = make_runner(resume_from=lg_b.run_dir)
    with logger_context(tmp_path / "b", 0, "resumed", snapshot_mode="last", resume=True):
        resumed.train()
    # The row after the resume includes the episodes and losses of iterations 4 and 5,
    # gathered before the preemption: the same rows as the uninterrupted run's.
    assert progress(lg_b.run_dir) == progress(lg_a.run_dir)
    for (name, pa), pb in zip(
        straight.agent.model.named_parameters(), resumed.agent.model.parameters()
    ):
        assert torch.equal(pa, pb), name


@pytest.mark.timeout(60)
def test_sigterm_with_nothing_to_save_stops_at_once(tmp_path):
    runner = make_runner(SigtermAt)
    runner.at = 2
    with pytest.raises(Preempted, match="SIGTERM") as info:
        with logger_context(tmp_path, 0, "none", snapshot_mode="none"):
            runner.train()
    assert info.value.snapshot_paths == []
    assert runner.sampler._closed
    assert not glob.glob(str(tmp_path / "run_0" / "*.pkl"))


@pytest.mark.timeout(60)
def test_preempted_is_not_an_exception():
    assert issubclass(Preempted, BaseException) and not issubclass(Preempted, Exception)


class HandlerReplacingSampler(SerialSampler):
    """Starts like the Ray samplers do: ``ray.init`` installs a SIGTERM handler of its own."""

    def initialize(self, *args, **kwargs):
        examples = super().initialize(*args, **kwargs)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        return examples


def test_sigterm_handler_taken_back_from_a_sampler_that_replaced_it(tmp_path):
    torch.set_num_threads(1)
    seen = []

    class Check(MinibatchRl):
        def log_before_training(self):
            seen.append(signal.getsignal(signal.SIGTERM) == self._on_sigterm)

    sampler = HandlerReplacingSampler(
        EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=16, batch_B=4
    )
    runner = Check(
        algo=PPO(), agent=MlpFfAgent(), sampler=sampler, n_steps=BATCH, log_interval_steps=BATCH,
        seed=1, progress_bar=False,
    )  # fmt: skip
    before = signal.getsignal(signal.SIGTERM)
    with logger_context(tmp_path, 0, "reclaim", snapshot_mode="none"):
        runner.train()
    assert seen == [True]  # the runner's own handler, although the sampler replaced it
    assert signal.getsignal(signal.SIGTERM) == before  # and the previous one after training
