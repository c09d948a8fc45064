"""EpisodeRunner: progress rows, precollect epochs, exact resume (after a crash, kill -9 and
SIGTERM) with the same episode replay and network."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from episode_runs import N_ENVS, N_EPOCHS, PRECOLLECT, TIMING, UPDATES, make_runner

from rlpyt.runners.episodes import EpisodeRunner
from rlpyt.runners.minibatch_rl import Preempted
from rlpyt.samplers.episodes import CpuEpisodeSampler
from rlpyt.utils.checkpoint import load_checkpoint
from rlpyt.utils.logging.context import logger_context

SCRIPT = os.path.join(os.path.dirname(__file__), "episode_runs.py")


def read_rows(run_dir, drop=TIMING):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def assert_same_training_state(a, b):
    for (name, pa), pb in zip(
        a.agent.model.named_parameters(), b.agent.model.parameters(), strict=True
    ):
        assert torch.equal(pa, pb), name
    assert a.algo.update_counter == b.algo.update_counter
    episodes_a, episodes_b = a.algo.replay.episodes, b.algo.replay.episodes
    assert len(episodes_a) == len(episodes_b)
    for x, y in zip(episodes_a, episodes_b, strict=True):
        np.testing.assert_array_equal(x.observation, y.observation)
        np.testing.assert_array_equal(x.action, y.action)
    assert a.algo.replay.rng.bit_generator.state == b.algo.replay.rng.bit_generator.state


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run: its runner and run directory."""
    torch.set_num_threads(1)
    runner = make_runner()
    with logger_context(tmp_path_factory.mktemp("a"), 0, "straight", snapshot_mode="last") as lg:
        runner.train()
    return runner, lg.run_dir


def test_progress_rows_and_precollect_epochs(straight):
    runner, run_dir = straight
    rows = read_rows(run_dir, drop=())
    assert len(rows) == N_EPOCHS
    for column in (
        "Iteration", "CumSteps", "CumTime (s)", "StepsPerSecond", "CumCompletedTrajs",
        "CumUpdates", "CumTrainTime", "episode/return_mean", "episode/length_mean",
        "episode/solved_rate", "episode/count", "episode/time", "agent/tree_size",
        "agent/time_per_step", "loss", "valueLoss", "gradNorm", "ReturnAverage",
    ):  # fmt: skip
        assert column in rows[0], column
    # The agent's metrics are logged as means only (no Std/Min/Max columns).
    assert not any(k.startswith("agent/n_passes") and k != "agent/n_passes" for k in rows[0])
    # The first PRECOLLECT epochs only fill the replay.
    assert [int(r["CumUpdates"]) for r in rows] == [
        max(0, e + 1 - PRECOLLECT) * UPDATES for e in range(N_EPOCHS)
    ]
    assert all(r["valueLoss"] == "nan" for r in rows[:PRECOLLECT])
    assert all(float(r["valueLoss"]) > 0 for r in rows[PRECOLLECT:])
    # CumSteps sums the episodes' lengths (not a fixed T * B).
    lengths = [float(r["episode/length_mean"]) * int(r["episode/count"]) for r in rows]
    assert [int(r["CumSteps"]) for r in rows] == list(np.cumsum(lengths).astype(int))
    assert all(int(r["episode/count"]) == N_ENVS for r in rows)
    assert all(float(r["agent/n_passes"]) == 4.0 for r in rows)  # the MCTS passes each step
    solved = [float(r["episode/solved_rate"]) for r in rows]
    assert solved == [float(r["SolvedAverage"]) for r in rows] and 0 < np.mean(solved) < 1
    assert float(rows[0]["episode/time"]) > 0
    # Both strata in the replay, whose capacity (100) dropped the oldest episodes.
    sizes = runner.algo.replay.stratum_sizes()
    assert set(sizes) == {(False,), (True,)} and sum(sizes.values()) <= 100
    assert int(rows[-1]["CumSteps"]) > 100


@pytest.mark.timeout(120)
def test_worker_processes_give_the_rows_of_serial_sampling(straight, tmp_path):
    """The runner is the same with the envs in two worker processes (weights sent each
    epoch): the same episodes, so the same rows and network."""
    runner_a, run_dir_a = straight
    runner = make_runner(SamplerCls=CpuEpisodeSampler, n_workers=2)
    with logger_context(tmp_path, 0, "cpu", snapshot_mode="last") as lg:
        runner.train()
    # The network rates each worker's leaves in batches of its own envs, not of all four: a
    # matrix product over another batch size may round differently (in the last bits), so
    # the search's values are equal to rounding; the actions, episodes and training are not.
    rounding = {"agent/root_value"}
    rows, rows_a = read_rows(lg.run_dir), read_rows(run_dir_a)
    assert [{k: v for k, v in r.items() if k not in rounding} for r in rows] == [
        {k: v for k, v in r.items() if k not in rounding} for r in rows_a
    ]
    for r, r_a in zip(rows, rows_a, strict=True):
        assert float(r["agent/root_value"]) == pytest.approx(float(r_a["agent/root_value"]), 1e-6)
    assert_same_training_state(runner_a, runner)


class StopAfter(EpisodeRunner):
    """Dies right after the snapshot of epoch ``stop_itr`` (a crash then)."""

    stop_itr = None

    def log_diagnostics(self, itr, *args, **kwargs):
        super().log_diagnostics(itr, *args, **kwargs)
        if itr == self.stop_itr:
            raise RuntimeError("crash")


def test_resume_after_a_crash_gives_the_same_rows_replay_and_network(straight, tmp_path):
    runner_a, run_dir_a = straight
    first = make_runner(StopAfter)
    first.stop_itr = PRECOLLECT + 1  # training has started
    with pytest.raises(RuntimeError, match="crash"):
        with logger_context(tmp_path, 0, "resumed", snapshot_mode="last") as lg:
            first.train()
    resumed = make_runner(resume_from=lg.run_dir)
    with logger_context(tmp_path, 0, "resumed", snapshot_mode="last", resume=True):
        resumed.train()
    assert read_rows(lg.run_dir) == read_rows(run_dir_a)
    assert_same_training_state(runner_a, resumed)


@pytest.mark.timeout(120)
def test_kill_9_then_resume_continues_from_the_last_snapshot(straight, tmp_path):
    """The issue's acceptance: kill -9 during a planning run on Hanoi, resume, and the run
    continues from its last snapshot with the same episode replay and network."""
    runner_a, run_dir_a = straight
    run_dir = tmp_path / "run_0"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.Popen(
        [sys.executable, SCRIPT, str(tmp_path), "--pause", "0.5"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "err.txt", "w"),
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "err.txt").read_text()[-3000:]
            if (run_dir / "params.pkl").exists():
                if load_checkpoint(run_dir / "params.pkl")["itr"] >= PRECOLLECT:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = load_checkpoint(run_dir / "params.pkl")["itr"]
    assert PRECOLLECT <= killed_at < N_EPOCHS - 1  # mid-run, after training started
    assert len(read_rows(run_dir)) == killed_at + 1

    resumed = make_runner(resume_from=str(run_dir))
    with logger_context(tmp_path, 0, "episodes", snapshot_mode="last", resume=True):
        resumed.train()
    assert read_rows(run_dir) == read_rows(run_dir_a)
    assert_same_training_state(runner_a, resumed)


class SigtermAt(EpisodeRunner):
    """Sends itself SIGTERM in the middle of epoch ``at`` (after sampling)."""

    at = None

    def store_diagnostics(self, itr, traj_infos, opt_info):
        if itr == self.at:
            os.kill(os.getpid(), signal.SIGTERM)
        super().store_diagnostics(itr, traj_infos, opt_info)


@pytest.mark.timeout(120)
def test_sigterm_between_rows_snapshots_and_resumes_exactly(tmp_path):
    torch.set_num_threads(1)
    handler = signal.getsignal(signal.SIGTERM)
    straight = make_runner(log_interval_epochs=3)
    with logger_context(tmp_path / "a", 0, "straight", snapshot_mode="last") as lg_a:
        straight.train()

    stopped = make_runner(SigtermAt, log_interval_epochs=3)
    stopped.at = 4  # between the rows of epochs 2 and 5, with epoch 3 unsaved
    with pytest.raises(Preempted) as info:
        with logger_context(tmp_path / "b", 0, "resumed", snapshot_mode="last") as lg_b:
            stopped.train()
    assert info.value.itr == 4
    assert info.value.snapshot_paths == [os.path.join(lg_b.run_dir, "params.pkl")]
    assert signal.getsignal(signal.SIGTERM) is handler
    assert load_checkpoint(os.path.join(lg_b.run_dir, "params.pkl"))["itr"] == 4

    resumed = make_runner(log_interval_epochs=3, resume_from=lg_b.run_dir)
    with logger_context(tmp_path / "b", 0, "resumed", snapshot_mode="last", resume=True):
        resumed.train()
    rows = read_rows(lg_b.run_dir)
    # The row of epochs 3-5 counts the episodes of epochs 3 and 4, played before the
    # preemption.
    assert [int(r["episode/count"]) for r in rows] == [3 * N_ENVS] * (N_EPOCHS // 3)
    assert rows == read_rows(lg_a.run_dir)
    assert_same_training_state(straight, resumed)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="n_epochs"):
        EpisodeRunner(algo=None, agent=None, sampler=None, n_epochs=0)
    with pytest.raises(ValueError, match="log_interval_epochs"):
        EpisodeRunner(algo=None, agent=None, sampler=None, n_epochs=3, log_interval_epochs=0)
