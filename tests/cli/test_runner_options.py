"""``train --runner {minibatch,async,sync}``, ``--learners`` and ``--sampler ray``.

The choices are checked in-process (refusals before any env is built, the classes and
affinities built); one short run of each new runner and of the Ray sampler goes through the
real entry point in a subprocess, as in test_cli.py.
"""

import json
import os
import subprocess
import sys

import pytest

import rlpyt.envs.gym
from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.cli.main import main

# 16 x 4 = 64 env steps per sampler batch, a log row every 512 steps.
TINY = ["sampler.batch_T=16", "sampler.batch_B=4", "runner.log_interval_steps=512"]


@pytest.fixture
def no_env_built(monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError("an env was built")

    monkeypatch.setattr(rlpyt.envs.gym, "gym_make", refuse)
    return calls


def config(algo, *overrides):
    return apply_overrides(default_config(algo, "CartPole-v1"), overrides)


def train(algo, *args):
    return main(["train", "--algo", algo, "--env", "CartPole-v1", *args])


@pytest.mark.parametrize(
    "algo, args, expected",
    [
        (
            "ppo",
            ["--runner", "async"],
            ["runner.kind='async'", "algo 'ppo' is on-policy", "--runner minibatch or sync"],
        ),
        ("a2c", ["--runner", "async"], ["algo 'a2c' is on-policy", "dqn, cat_dqn, r2d1"]),
        (
            "dqn",
            ["--runner", "async", "--sampler", "ray"],
            [
                "sampler.kind='ray' runs with runner.kind='minibatch' only, not 'async'",
                "--sampler cpu with --runner async",
            ],
        ),  # fmt: skip
        (
            "ppo",
            ["--runner", "sync", "--sampler", "ray"],
            ["sampler.kind='ray'", "not 'sync'", "use --runner minibatch with --sampler ray"],
        ),
        (
            "ppo",
            ["--runner", "sync", "--learners", "0"],
            ["runner.learners=0", "at least 1 learner", "--learners N with N >= 1"],
        ),
        (
            "ppo",
            ["--runner", "sync", "--set", "runner.learners=two"],
            ["runner.learners must be an integer", "'two'"],
        ),
        ("ppo", ["--set", "runner.kind=fast"], ["runner.kind must be one of", "'sync'", "'fast'"]),
        (
            "ppo",
            ["--runner", "sync", "--sampler", "alternating", "--workers", "1"],
            ["alternating' needs at least 2 workers per learner"],
        ),
    ],
)
def test_bad_combination_refused_before_anything_starts(
    algo, args, expected, tmp_path, capsys, no_env_built
):
    assert train(algo, "--log-dir", str(tmp_path), *args) == 2
    err = capsys.readouterr().err
    for fragment in expected:
        assert fragment in err
    assert not no_env_built
    assert not os.listdir(tmp_path)


def test_async_run_resumes_as_async_or_minibatch(tmp_path, capsys, no_env_built):
    run_dir = tmp_path / "run_0"
    run_dir.mkdir()
    saved = config("dqn", "runner.kind=async", "runner.seed=1")
    (run_dir / "config.json").write_text(json.dumps(saved))
    assert main(["train", "--resume", str(run_dir), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["runner"]["kind"] == "async"
    assert main(["train", "--resume", str(run_dir), "--runner", "minibatch", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["runner"]["kind"] == "minibatch"
    assert not no_env_built


def test_ray_missing_names_the_extra(monkeypatch, tmp_path, capsys, no_env_built):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert train("ppo", "--sampler", "ray", "--log-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "sampler.kind='ray' needs Ray, which is not installed" in err
    assert "pip install 'rlpyt[ray]'" in err
    assert not os.listdir(tmp_path)


def test_print_config_shows_runner_keys(tmp_path, capsys, no_env_built):
    assert train("dqn", "--print-config") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["runner"]["kind"] == "minibatch" and printed["runner"]["learners"] == 2
    assert train("ppo", "--print-config", "--runner", "sync", "--learners", "3") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["runner"]["kind"] == "sync" and printed["runner"]["learners"] == 3
    assert train("ppo", "--print-config", "--sampler", "ray", "--workers", "4") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["sampler"]["kind"] == "ray" and printed["sampler"]["workers"] == 4
    path = tmp_path / "async.yaml"
    path.write_text("algo_name: dqn\nenv: {id: CartPole-v1}\nrunner: {kind: async}\n")
    assert main(["train", "--config", str(path), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["runner"]["kind"] == "async"
    assert main(["train", "--config", str(path), "--print-config", "--runner", "sync"]) == 0
    assert json.loads(capsys.readouterr().out)["runner"]["kind"] == "sync"


@pytest.mark.parametrize(
    "kind, evaluate, sampler_name, runner_name",
    [
        ("serial", False, "AsyncSerialSampler", "AsyncRl"),
        ("cpu", False, "AsyncCpuSampler", "AsyncRl"),
        ("gpu", True, "AsyncGpuSampler", "AsyncRlEval"),
    ],
)
def test_async_runner_gets_the_async_sampler(
    kind, evaluate, sampler_name, runner_name, monkeypatch, no_env_built
):
    monkeypatch.setattr("rlpyt.cli.build.usable_cpus", lambda: [0, 1])
    overrides = ["runner.kind=async", f"sampler.kind={kind}", f"runner.eval={evaluate}"]
    overrides += ["sampler.eval_n_envs=1", "sampler.eval_max_steps=100"]
    runner = build_experiment(config("dqn", *overrides))
    assert type(runner).__name__ == runner_name
    assert type(runner.sampler).__name__ == sampler_name
    assert runner.affinity.get("workers_cpus") == (None if kind == "serial" else [0, 1])
    assert not no_env_built


def test_sync_runner_splits_the_cores_among_learners(monkeypatch, no_env_built):
    monkeypatch.setattr("rlpyt.cli.build.usable_cpus", lambda: [0, 1, 2, 3])
    cfg = config("ppo", "runner.kind=sync", "sampler.kind=cpu", "sampler.workers=1")
    runner = build_experiment(cfg)
    assert type(runner).__name__ == "SyncRl" and type(runner.sampler).__name__ == "CpuSampler"
    assert [a["master_cpus"] for a in runner.affinities] == [[0, 1], [2, 3]]
    assert [a["workers_cpus"] for a in runner.affinities] == [[0], [2]]
    assert [a["torch_threads"] for a in runner.affinities] == [1, 1]  # runner.torch_threads
    with pytest.warns(UserWarning, match=r"runner.learners=6 is more than the 4 CPU cores"):
        runner = build_experiment(config("ppo", "runner.kind=sync", "runner.learners=6"))
    assert [a["master_cpus"] for a in runner.affinities] == [[0], [1], [2], [3], [0], [1]]
    assert not no_env_built


def test_ray_sampler_gets_one_actor_per_worker(monkeypatch, no_env_built):
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr("rlpyt.cli.build.usable_cpus", lambda: [0, 1])
    runner = build_experiment(config("ppo", "sampler.kind=ray"))
    assert type(runner).__name__ == "MinibatchRl"
    assert type(runner.sampler).__name__ == "RaySampler"
    assert runner.sampler.n_workers == 2 and "workers_cpus" not in runner.affinity
    assert runner.sampler.ray_init_kwargs["num_cpus"] == 2
    monkeypatch.setenv("RAY_ADDRESS", "auto")  # join that cluster: no local resources given
    runner = build_experiment(config("ppo", "sampler.kind=ray", "sampler.workers=5"))
    assert runner.sampler.n_workers == 5 and runner.sampler.ray_init_kwargs == {}
    assert not no_env_built


# -- short real runs -------------------------------------------------------------------


def run_train(tmp_path, algo, steps, *args, overrides=(), timeout=100):
    cmd = [sys.executable, "-m", "rlpyt", "train", "--algo", algo, "--env", "CartPole-v1"]
    cmd += ["--seed", "1", "--log-dir", str(tmp_path), "--steps", str(steps), *args]
    cmd += ["--set", *TINY, *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "run_0"
    with open(run_dir / "progress.csv") as f:
        header, *rows = [line.rstrip("\n").split(",") for line in f if line.strip()]
    saved = json.loads((run_dir / "config.json").read_text())
    return [dict(zip(header, row)) for row in rows], saved


@pytest.mark.timeout(120)
def test_async_dqn_run(tmp_path):
    # 16 sampler batches of 64 steps; learning from the 8th (512 steps).
    rows, saved = run_train(
        tmp_path, "dqn", 1024, "--runner", "async", overrides=["algo.min_steps_learn=512"]
    )
    assert [int(r["CumSteps"]) for r in rows] == [512, 1024]
    assert int(rows[0]["CumUpdates"]) == 0 and int(rows[1]["CumUpdates"]) > 0
    assert saved["runner"]["kind"] == "async" and saved["sampler"]["kind"] == "serial"


@pytest.mark.timeout(120)
def test_sync_ppo_run_with_two_learners(tmp_path):
    # 2 learners x 64 steps per iteration: 8 iterations.
    rows, saved = run_train(tmp_path, "ppo", 1024, "--runner", "sync", overrides=["algo.epochs=4"])
    assert [int(r["CumSteps"]) for r in rows] == [512, 1024]
    assert [int(r["Iteration"]) for r in rows] == [3, 7]
    assert all(float(r["loss"]) == float(r["loss"]) for r in rows)  # not NaN
    assert saved["runner"]["kind"] == "sync" and saved["runner"]["learners"] == 2


@pytest.mark.timeout(240)
def test_ray_sampler_run(tmp_path):
    pytest.importorskip("ray")
    # Starting Ray takes most of the time (about 30 s on 2 busy cores).
    rows, saved = run_train(
        tmp_path, "ppo", 1024, "--sampler", "ray", "--workers", "1",
        overrides=["algo.epochs=4"], timeout=200,
    )  # fmt: skip
    assert [int(r["CumSteps"]) for r in rows] == [512, 1024]
    assert all(r["ReturnAverage"] for r in rows)
    assert saved["sampler"]["kind"] == "ray" and saved["sampler"]["workers"] == 1
