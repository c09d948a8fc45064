"""``train --algo impala|appo --runner scheme``: the scheme section, refusals, resume, SIGTERM.

In process, in the scheme's debug mode (``scheme.remote=False``, no Ray): the defaults, every
refusal (exit 2 before anything starts), a run resumed from its snapshot. As a subprocess:
SIGTERM during a run exits 143 with a snapshot that ``--resume`` continues; with Ray (slow),
no Ray process is left after it.
"""

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

import rlpyt.envs.gym
from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.cli.main import main
from rlpyt.runners.scheme import SchemeRl
from rlpyt.runners.scheme_config import SchemeConfig
from rlpyt.utils.checkpoint import load_checkpoint

# 2 collection workers x 4 envs x 8 steps = 64 env steps per update, a row every 4 updates.
TINY = [
    "scheme.remote=False",
    "sampler.batch_T=8",
    "sampler.batch_B=4",
    "sampler.max_decorrelation_steps=0",
    "runner.log_interval_steps=256",
]


@pytest.fixture
def no_env_built(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an env was built")

    monkeypatch.setattr(rlpyt.envs.gym, "gym_make", refuse)


def train_argv(log_dir, *extra, algo="impala", steps=768):
    return [
        "train", "--algo", algo, "--env", "CartPole-v1", "--runner", "scheme",
        "--steps", str(steps), "--seed", "2", "--log-dir", str(log_dir), "--set", *TINY, *extra,
    ]  # fmt: skip


def rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("algo", ["impala", "appo"])
def test_print_config_shows_every_scheme_setting_with_its_default(capsys, algo):
    argv = ["train", "--algo", algo, "--env", "CartPole-v1", "--runner", "scheme"]
    assert main([*argv, "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["runner"]["kind"] == "scheme"
    assert config["scheme"] == dataclasses.asdict(SchemeConfig())
    settings = "scheme.collection_workers=4 scheme.gradient_workers=2 scheme.collection=async "
    settings += "scheme.update=async scheme.update_stage=decentralised"
    assert main([*argv, "--set", *settings.split(), "--print-config"]) == 0
    scheme = json.loads(capsys.readouterr().out)["scheme"]
    assert (scheme["collection_workers"], scheme["gradient_workers"]) == (4, 2)
    assert (scheme["collection"], scheme["update"]) == ("async", "async")
    assert scheme["update_stage"] == "decentralised"


def test_the_config_builds_a_scheme_runner_with_its_settings(no_env_built):
    config = apply_overrides(
        default_config("appo", "CartPole-v1"),
        ["runner.kind=scheme", "scheme.collection_workers=4", "scheme.gradient_workers=2",
         "scheme.update=async", "scheme.fraction_workers=0.5", "scheme.fraction_samples=0.25"],
    )  # fmt: skip
    runner = build_experiment(config)
    assert isinstance(runner, SchemeRl)
    scheme = runner.scheme
    assert (scheme.collection_workers, scheme.gradient_workers, scheme.update) == (4, 2, "async")
    assert (scheme.fraction_workers, scheme.fraction_samples) == (0.5, 0.25)
    # A local Ray instance of the CPUs the workers reserve: 2 x (1 + 2 x 1).
    assert scheme.ray_init_kwargs == dict(num_cpus=6, include_dashboard=False, log_to_driver=False)
    assert runner.sampler.batch_spec == (config["sampler"]["batch_T"], config["sampler"]["batch_B"])
    assert type(runner.algo).__name__ == "APPO" and runner.algo.minibatches == 4


def test_a_cluster_address_joins_the_cluster_without_local_settings(monkeypatch, no_env_built):
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    runner = build_experiment(
        apply_overrides(default_config("impala", "pong"), ["runner.kind=scheme"])
    )
    assert runner.scheme.ray_init_kwargs == {}
    given = apply_overrides(
        default_config("impala", "pong"),
        ["runner.kind=scheme", "scheme.ray_init_kwargs.num_cpus=3"],
    )
    assert build_experiment(given).scheme.ray_init_kwargs == {"num_cpus": 3}


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--algo", "ppo"], "algo 'ppo' does not correct for"),
        (["--algo", "a2c"], "use --algo impala or appo"),
        (["--sampler", "cpu"], "drop --sampler/--workers and set scheme.collection_workers"),
        (["--workers", "2"], "sampler.workers=2"),
        (["--set", "scheme.collection_workers=3", "scheme.gradient_workers=2"], "multiple"),
        (["--set", "scheme.gradient_workers=0"], "multiple"),
        (["--set", "scheme.update=later"], "scheme update='later'"),
        (["--set", "scheme.update_stage=central-ish"], "update_stage='central-ish'"),
        (["--set", "scheme.colection_workers=4"], "did you mean"),
        (["--set", "scheme.fraction_samples=0"], "fraction_samples=0 must be in (0, 1]"),
        (["--set", "scheme.fraction_workers=0.5", "scheme.collection=async"], "'sync' only"),
        (["--set", "scheme.collection_num_cpus=-1"], "collection_num_cpus=-1 must be >= 0"),
        (["--set", "scheme.rollout_timeout=0"], "rollout_timeout=0 must be > 0"),
        (["--set", "scheme.max_restarts=1.5"], "scheme.max_restarts must be an integer"),
        (["--set", "scheme.nan_check=loud"], "scheme.nan_check must be"),
        (["--set", "scheme.env_processes=-1"], "scheme env_processes=-1 must be an integer"),
        (
            ["--set", "scheme.env_processes=33"],
            "scheme.env_processes=33 exceeds sampler.batch_B=32",
        ),
        (["--set", "scheme.env_start_method=thread"], "env_start_method='thread': choose"),
        (["--set", "runner.eval=True"], "no offline evaluation"),
        (["--set", "runner.reproducible=True"], "runner.reproducible=True"),
        (["--affinity", "1slt_2cpu_1cpr"], "Ray places the scheme's workers"),
        (["--set", "algo.learning_rate=-1"], "learning_rate"),
        (
            ["--algo", "appo", "--set", "algo.minibatches=3"],
            "algo.minibatches=3 does not divide the env columns of a gradient worker's batch: "
            "(collection_workers / gradient_workers) * sampler.batch_B = 2 * 16 = 32",
        ),
        (
            [
                "--set",
                "scheme.update_stage=decentralised",
                "scheme.gradient_workers=2",
                "scheme.remote=False",
            ],
            "cannot all-reduce",
        ),  # fmt: skip
    ],
)
def test_bad_settings_are_refused_before_anything_starts(
    tmp_path, capsys, no_env_built, args, expected
):
    argv = ["train", "--env", "CartPole-v1", "--runner", "scheme", "--log-dir", str(tmp_path)]
    if "--algo" not in args:
        argv += ["--algo", "impala"]
    start = time.monotonic()
    assert main([*argv, *args]) == 2
    assert expected in capsys.readouterr().err
    assert time.monotonic() - start < 5
    assert not os.listdir(tmp_path)  # no run directory


def test_debug_mode_run_resumes_from_its_snapshot(tmp_path, capsys):
    """Debug mode (no Ray), decentralised: 12 updates, then --resume to 20. The rows and
    counters continue, and the learning-rate schedule goes on from the updates applied."""
    log_dir = tmp_path / "runs"
    stage = "scheme.update_stage=decentralised"
    assert main(train_argv(log_dir, stage)) == 0
    run_dir = log_dir / "run_0"
    first = rows(run_dir)
    assert [int(r["Iteration"]) for r in first] == [3, 7, 11]
    assert [int(r["CumUpdates"]) for r in first] == [4, 8, 12]
    assert [int(r["PolicyLagMax"]) for r in first] == [0, 0, 0]  # sync, 1 gradient per batch
    assert [int(r["PolicyLagHist0"]) for r in first] == [256] * 3
    snapshot = load_checkpoint(run_dir / "params.pkl")
    assert snapshot["itr"] == 11 and snapshot["algo_state_dict"]["update_counter"] == 12
    capsys.readouterr()

    assert main(["train", "--resume", str(run_dir), "--steps", "1280"]) == 0
    assert "from update 12." in capsys.readouterr().out
    resumed = rows(run_dir)
    assert resumed[:3] == first
    assert [int(r["Iteration"]) for r in resumed[3:]] == [15, 19]
    assert [int(r["CumUpdates"]) for r in resumed[3:]] == [16, 20]
    assert [int(r["CumSteps"]) for r in resumed[3:]] == [1024, 1280]
    snapshot = load_checkpoint(run_dir / "params.pkl")
    assert snapshot["algo_state_dict"]["update_counter"] == 20
    with open(run_dir / "config.json") as f:
        assert json.load(f)["runner"]["n_steps"] == 1280


def test_decentralised_learning_rate_schedule_continues_after_resume(tmp_path, capsys):
    """A resumed decentralised run's workers count the updates applied before the resume:
    update k uses the learning rate of version k + 1, as in the uninterrupted run."""
    log_dir = tmp_path / "runs"
    assert main(train_argv(log_dir, "scheme.update_stage=decentralised")) == 0  # 12 updates
    run_dir = log_dir / "run_0"
    with open(run_dir / "config.json") as f:
        config = json.load(f)
    config["runner"]["n_steps"] = 1024  # one more log interval: updates 12 to 15
    runner = build_experiment(config, resume_from=str(run_dir))
    assert runner.train() == 16
    worker = runner.stage.workers[0]  # debug mode: the worker object itself
    assert worker.version == 1 + 16 and runner.algo.update_counter == 16
    lr = worker.algo.optimizer.param_groups[0]["lr"]
    assert lr == pytest.approx(runner.algo.lr_at(16)) and lr < runner.algo.lr_at(5)


# -- SIGTERM, as a subprocess -----------------------------------------------------------------


def _start(command, tmp_path, name, **env):
    out = open(tmp_path / f"{name}.out", "w")
    err = open(tmp_path / f"{name}.err", "w")
    proc = subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, **env})
    out.close()
    err.close()
    return proc


def _wait_for_snapshot(proc, run_dir, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"training exited early with {proc.returncode}"
        if (run_dir / "params.pkl").exists() and (run_dir / "progress.csv").exists():
            if rows(run_dir):
                return
        time.sleep(0.1)
    proc.kill()
    pytest.fail("no progress row within the time limit")


def sigterm_then_resume(tmp_path, *extra, settle=0.5, start_timeout=120):
    """Train, SIGTERM after the first row, resume in debug mode for 8+ more updates; returns
    ``(itr of the SIGTERM snapshot, the processes the run had started)``."""
    log_dir = tmp_path / "runs"
    run_dir = log_dir / "run_0"
    command = [sys.executable, "-m", "rlpyt", *train_argv(log_dir, *extra, steps=10**7)]
    proc = _start(command, tmp_path, "train")
    try:
        _wait_for_snapshot(proc, run_dir, start_timeout)
        time.sleep(settle)
        started = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = (tmp_path / "train.err").read_text()
    assert code == 143, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert f"interrupted: run saved in {run_dir}, continue with --resume {run_dir}" in err
    itr = load_checkpoint(run_dir / "params.pkl")["itr"]
    assert itr >= int(rows(run_dir)[-1]["Iteration"])

    n_itr = 4 * ((itr + 1 + 8 + 3) // 4)  # 8 updates more, rounded up to a log interval
    steps = n_itr * 64
    resume = [sys.executable, "-m", "rlpyt", "train", "--resume", str(run_dir)]
    proc = _start([*resume, "--steps", str(steps), "--set", "scheme.remote=False"], tmp_path, "r")
    assert proc.wait(timeout=120) == 0, (tmp_path / "r.err").read_text()[-3000:]
    assert f"from update {itr + 1}." in (tmp_path / "r.out").read_text()
    snapshot = load_checkpoint(run_dir / "params.pkl")
    assert snapshot["itr"] == n_itr - 1 and snapshot["cum_steps"] == steps
    assert snapshot["algo_state_dict"]["update_counter"] == n_itr
    return itr, started


@pytest.mark.timeout(300)
def test_sigterm_in_debug_mode_saves_a_snapshot_that_resume_continues(tmp_path):
    sigterm_then_resume(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigterm_on_ray_stops_every_worker_and_the_run_resumes(tmp_path):
    """With Ray (a local instance started by the run): after SIGTERM no process the run
    started is left (Ray's own included); the snapshot resumes (in debug mode here)."""
    pytest.importorskip("ray")
    extra = ["scheme.remote=True", "scheme.collection_num_cpus=0.5", "scheme.gradient_num_cpus=0.5"]
    _, started = sigterm_then_resume(tmp_path, *extra, start_timeout=180)
    assert started, "the run started no Ray process"
    assert psutil.wait_procs(started, timeout=15)[1] == []
