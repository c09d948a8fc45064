"""``python -m rlpyt train --algo pearl``: HalfCheetah-Vel end to end with kill -9 and an exact
resume, and the refusals of bad input before a run starts (command line and Python API)."""

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from progress_rows import read_rows

import rlpyt.envs.meta
from rlpyt.agents.qpg.pearl_agent import PearlAgent
from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.cli.main import main
from rlpyt.cli.pearl import build_pearl_experiment
from rlpyt.envs.meta import meta_make
from rlpyt.samplers.meta import MetaCpuSampler, MetaSerialSampler
from rlpyt.utils.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# HalfCheetah-Vel cut to 20-step episodes, 3 training and 2 test tasks, 16-unit networks and
# 4 gradient steps per iteration: about 0.15 s per iteration on one core.
TINY = [
    "env.kwargs.horizon=20", "sampler.n_train_tasks=3", "sampler.n_test_tasks=2",
    "sampler.num_initial_steps=20", "sampler.num_tasks_sample=2", "sampler.num_steps_prior=20",
    "sampler.num_extra_rl_steps_posterior=20", "sampler.embedding_batch_size=8",
    "sampler.num_steps_per_eval=40", "sampler.num_exp_traj_eval=1",
    "sampler.n_eval_train_tasks=1", "agent.hidden_sizes=[16]", "agent.encoder_hidden_sizes=[16]",
    "agent.latent_size=2", "algo.num_train_steps_per_itr=4", "algo.meta_batch=2",
    "algo.batch_size=8", "algo.embedding_batch_size=6", "algo.replay_size=1000",
]  # fmt: skip
N_ITR = 6
KILL_AFTER = 1  # SIGKILL once the snapshot of this iteration (or a later one) is on disk
# What differs between two runs of the same seed: the clock.
TIMING_KEYS = {"cum_time", "train_time"}


def cli(*args):
    return [sys.executable, "-m", "rlpyt", *args]


def train_args(log_dir):
    return ["train", "--algo", "pearl", "--env", "cheetah-vel", "--seed", "3", "--log-dir",
            str(log_dir), "--run-id", "0", "--set", *TINY, f"runner.n_itr={N_ITR}"]  # fmt: skip


def run_cli(*args):
    proc = subprocess.run(cli(*args), capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _env():
    return dict(os.environ, PYTHONPATH=ROOT)


def assert_same(a, b, path="snapshot"):
    """``a`` and ``b`` equal bit for bit (tensors and arrays with their dtypes), clock aside."""
    assert type(a) is type(b), path
    if torch.is_tensor(a):
        assert a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            if key not in TIMING_KEYS:
                assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, path


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_cheetah_vel_kill_9_then_resume_is_the_uninterrupted_run(tmp_path):
    """The issue's acceptance: HalfCheetah-Vel through the command line, killed with SIGKILL
    after the snapshot of iteration >= 1, resumed with --resume, ends with the snapshot
    (agent, optimizers, replays, sampler and global RNG states) and the progress.csv and
    adaptation-curve rows of the run that was never interrupted."""
    # The uninterrupted run, beside the one to kill (one core each where two are free).
    straight = tmp_path / "straight" / "run_0"
    run_dir = tmp_path / "killed" / "run_0"
    procs = {}
    for name in ("straight", "killed"):
        with open(tmp_path / f"{name}.err", "w") as err:
            procs[name] = subprocess.Popen(
                cli(*train_args(tmp_path / name)), env=_env(), stdout=subprocess.DEVNULL,
                stderr=err,
            )  # fmt: skip
    straight_proc, proc = procs["straight"], procs["killed"]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "killed.err").read_text()[-3000:]
            params = run_dir / "params.pkl"
            if params.exists() and load_checkpoint(params)["itr"] >= KILL_AFTER:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert straight_proc.wait(timeout=90) == 0, (tmp_path / "straight.err").read_text()[-3000:]
    finally:
        for p in (proc, straight_proc):
            if p.poll() is None:
                p.kill()
                p.wait()
    killed_at = load_checkpoint(run_dir / "params.pkl")["itr"]
    assert KILL_AFTER <= killed_at < N_ITR - 1  # mid-run
    assert len(read_rows(run_dir)) >= killed_at + 1

    proc = run_cli("train", "--resume", str(run_dir))
    assert f"at iteration {killed_at}" in proc.stdout  # "Resumed from ... at iteration k."
    rows, straight_rows = read_rows(run_dir), read_rows(straight)
    assert [int(r["Iteration"]) for r in straight_rows] == list(range(N_ITR))
    assert rows == straight_rows
    curve = (run_dir / "adaptation_curve.csv").read_text()
    assert curve == (straight / "adaptation_curve.csv").read_text()
    final, straight_final = (load_checkpoint(d / "params.pkl") for d in (run_dir, straight))
    assert final["itr"] == N_ITR - 1
    assert_same(final, straight_final)


# -- bad input: refused before any env, process or run directory ---------------------------


def test_env_without_task_methods_named(tmp_path, capsys):
    assert (
        main(["train", "--algo", "pearl", "--env", "Pendulum-v1", "--log-dir", str(tmp_path)]) == 2
    )
    err = capsys.readouterr().err
    assert "'Pendulum-v1'" in err and "sample_tasks() and set_task()" in err
    assert not os.listdir(tmp_path)
    # A config whose env.id is no task distribution, built from Python.
    with pytest.raises(ValueError, match=r"env.id 'Pendulum-v1': .*sample_tasks\(\) and set_task"):
        build_pearl_experiment({"env": {"id": "Pendulum-v1"}})


def test_unknown_env_suggested(tmp_path, capsys):
    assert (
        main(["train", "--algo", "pearl", "--env", "cheetah-vl", "--log-dir", str(tmp_path)]) == 2
    )
    assert "did you mean 'cheetah-vel'?" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_shared_task_seed_refused_without_building_an_env(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an env was built")

    monkeypatch.setattr(rlpyt.envs.meta, "meta_make", refuse)
    args = ["train", "--algo", "pearl", "--env", "point-robot", "--log-dir", str(tmp_path)]
    assert main([*args, "--set", "sampler.test_task_seed=1337"]) == 2
    assert capsys.readouterr().err == (
        "error: sampler.train_task_seed and sampler.test_task_seed are both 1337: the same seed "
        "draws the same tasks, so the test tasks would be training tasks; set two different "
        "seeds\n"
    )
    assert not os.listdir(tmp_path)


def test_overlapping_tasks_refused_before_the_run(tmp_path, capsys):
    # cheetah-dir has two tasks (forward, backward): 2 + 2 draws share some unless allowed.
    args = ["train", "--algo", "pearl", "--env", "cheetah-dir", "--log-dir", str(tmp_path)]
    assert main([*args, "--set", "sampler.allow_shared_tasks=false"]) == 2
    err = capsys.readouterr().err
    assert "error: sampler: test tasks [0, 1] are also training tasks" in err
    assert "allow_shared_tasks=True" in err
    assert not os.listdir(tmp_path)


def test_shared_task_seed_refused_by_the_sampler():
    sampler = MetaSerialSampler(
        EnvCls=meta_make, env_kwargs=dict(name="point-robot"), n_train_tasks=2, n_test_tasks=1,
        train_task_seed=5, test_task_seed=5,
    )  # fmt: skip
    with pytest.raises(ValueError, match="train_seed and test_seed are both 5"):
        sampler.initialize(PearlAgent(hidden_sizes=[4], encoder_hidden_sizes=[4]), seed=0)


# -- sampler kinds: the meta samplers; others refused (the experiment is only built) --


def pearl_config(*overrides):
    return apply_overrides(default_config("pearl", "point-robot"), overrides)


def test_cpu_kind_spreads_tasks_over_the_workers():
    runner = build_experiment(pearl_config("sampler.kind=cpu", "sampler.workers=1"))
    assert type(runner.sampler) is MetaCpuSampler
    assert runner.sampler.n_workers == 1 and runner.sampler.workers == []  # not started
    assert len(runner.affinity["workers_cpus"]) == 1


def test_serial_kind_is_the_default():
    runner = build_experiment(pearl_config())
    assert type(runner.sampler) is MetaSerialSampler
    assert runner.affinity["torch_threads"] == 1


@pytest.mark.parametrize("kind", ["gpu", "alternating", "ray"])
def test_other_sampler_kinds_refused_naming_the_meta_samplers(kind):
    with pytest.raises(ValueError, match=rf"sampler.kind='{kind}': PEARL collects with the meta "
                       r"samplers, one of \['serial', 'cpu'\]"):  # fmt: skip
        build_experiment(pearl_config(f"sampler.kind={kind}"))
