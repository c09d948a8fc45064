"""Every ``experiments/`` launch script runs with ``--tiny`` (tier 4 of STYLE.md), and the
full-scale setups they launch are the published ones and pass the components' checks.

Launch scripts are found by glob, so a new one is tested without editing this file. The tiny
launches run two at a time (one core each, unpinned: the two launchers would otherwise both
pin to the first core), each into its own root under one temporary directory.
"""

import csv
import glob
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPTS = os.path.join(REPO, "experiments", "scripts")
LAUNCH_SCRIPTS = sorted(glob.glob(os.path.join(SCRIPTS, "*", "*", "launch", "launch_*.py")))
IDS = [os.path.relpath(p, SCRIPTS) for p in LAUNCH_SCRIPTS]
# Seconds one tiny launch may take (about 10 on an idle machine: two processes importing torch).
LAUNCH_TIMEOUT = 90
sys.path.insert(0, REPO)  # `experiments` lives outside the package, at the repository root


def load_module(path):
    """The script at ``path`` imported as a module (its ``__main__`` block does not run)."""
    name = "exp_" + os.path.relpath(path, SCRIPTS).replace(os.sep, "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_launcher(command, cwd, timeout=LAUNCH_TIMEOUT):
    """``subprocess.run`` of a launcher; past ``timeout`` it gets SIGINT first, so that it
    stops its runs (each in its own process group) instead of leaving them behind."""
    proc = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        stderr += f"\n(test: the launcher ran past {timeout} s and was stopped)"
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def tiny_launches(tmp_path_factory):
    """``{script: (CompletedProcess, root)}`` for every launch script run with ``--tiny``."""
    base = tmp_path_factory.mktemp("tiny_launches")

    def launch(script):
        root = base / os.path.relpath(script, SCRIPTS).replace(os.sep, "_").removesuffix(".py")
        command = [sys.executable, script, "--tiny", "--root", str(root)]
        command += ["--cores", "1", "--no-pin"]
        return run_launcher(command, cwd=base), root

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(LAUNCH_SCRIPTS, pool.map(launch, LAUNCH_SCRIPTS)))


def test_every_published_setup_has_a_launch_script():
    setups = {os.path.basename(p).removeprefix("launch_").removesuffix(".py") for p in IDS}
    assert setups >= {
        *(f"atari_{v}" for v in ("dqn", "double", "prioritized", "dueling", "catdqn", "ernbw")),
        *(f"atari_{a}_{b}" for a in ("ff", "lstm") for b in ("a2c", "ppo")),
        "atari_r2d1",
        *(f"mujoco_{a}" for a in ("ppo", "ddpg", "td3", "sac")),
    }


def _failure_report(proc, root) -> str:
    logs = sorted(glob.glob(os.path.join(root, "*", "*", "run_*.log")))
    tail = "(no run log)"
    if logs:
        with open(logs[0]) as f:
            tail = f.read()[-3000:]
    return f"stdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-2000:]}\nrun log:\n{tail}"


@pytest.mark.timeout(900)  # the first one runs the module's tiny_launches fixture
@pytest.mark.parametrize("script", LAUNCH_SCRIPTS, ids=IDS)
def test_tiny_launch_starts_logs_and_snapshots(script, tiny_launches):
    setup = load_module(script).SETUP
    proc, root = tiny_launches[script]
    assert proc.returncode == 0, _failure_report(proc, root)
    experiment_dir = root / f"{setup.title}_tiny"
    # One run: the first published game/env, run_0.
    run_dir = experiment_dir / setup.envs[0] / "run_0"
    run_dirs = glob.glob(os.path.join(experiment_dir, "*", "run_*"))
    assert [d for d in run_dirs if os.path.isdir(d)] == [str(run_dir)]
    status = json.loads((experiment_dir / "status.json").read_text())
    assert status["counts"]["done"] == 1 and status["counts"]["failed"] == 0

    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 1
    assert int(rows[-1]["CumSteps"]) > 0
    assert int(rows[-1]["CumUpdates"]) >= 1  # the tiny config learns at least once
    assert (run_dir / "params.pkl").stat().st_size > 0  # snapshot_mode="last"

    params = json.loads((run_dir / "params.json").read_text())
    assert params["config_key"] == setup.config_key
    assert params["tiny"] is True
    assert params["env"][setup.env_key[1]] == setup.envs[0]
    assert params["name"] == f"{setup.config_key}_{setup.envs[0]}"


# -- full scale, without running ------------------------------------------------------------


@pytest.mark.parametrize("script", LAUNCH_SCRIPTS, ids=IDS)
def test_full_scale_dry_run_lists_the_published_grid(script, tmp_path):
    module = load_module(script)
    out = io.StringIO()
    with redirect_stdout(out):
        status = module.launch(
            module.SETUP, ["--dry-run", "--root", str(tmp_path), "--cores", "2", "--gpus", "0"]
        )
    setup = module.SETUP
    assert status == 0
    lines = out.getvalue().splitlines()
    expected = [f"  {tmp_path / setup.title / env}/run_{k}" for env in setup.envs for k in range(2)]
    assert lines[1:] == expected
    assert setup.runs_per_setting == 2
    assert not os.path.exists(tmp_path / setup.title)  # nothing was started or written


def _train_spec(setup):
    return load_module(setup.script_path).SPEC


@pytest.mark.parametrize("script", LAUNCH_SCRIPTS, ids=IDS)
@pytest.mark.parametrize("tiny", [False, True], ids=["full", "tiny"])
def test_configs_pass_the_components_checks(script, tiny):
    """The full-scale configs (never run in CI) build their algorithm and agent."""
    setup = load_module(script).SETUP
    spec = _train_spec(setup)
    config = spec.config(setup.config_key, tiny)
    spec.AlgoCls(optim_kwargs=config["optim"], **config["algo"])
    spec.AgentCls(model_kwargs=config["model"], **config["agent"])
    # What is checked only once the sampler is built, checked here for the full scale too.
    algo, T, B = config["algo"], config["sampler"]["batch_T"], config["sampler"]["batch_B"]
    if "minibatches" in algo:  # recurrent agents split whole sequences (envs)
        assert (B if spec.AgentCls.recurrent else T * B) % algo["minibatches"] == 0
    if "store_rnn_state_interval" in algo:
        assert T % algo["store_rnn_state_interval"] == 0


def test_published_settings():
    from experiments.configs import atari_dqn, atari_pg, atari_r2d1, mujoco_pg, mujoco_qpg

    dqn = atari_dqn.configs
    assert dqn["dqn"]["runner"]["n_steps"] == 50_000_000
    assert dqn["dqn"]["algo"]["learning_rate"] == 1e-4 and dqn["dqn"]["algo"]["batch_size"] == 128
    assert [dqn[k]["algo"]["double_dqn"] for k in ("dqn", "double", "ernbw")] == [False, True, True]
    assert dqn["prioritized"]["algo"]["prioritized_replay"] is True
    assert dqn["dueling"]["model"]["dueling"] is True
    assert (dqn["catdqn"]["algo"]["learning_rate"], dqn["catdqn"]["model"]["n_atoms"]) == (
        2.5e-4,
        51,
    )
    assert dqn["ernbw"]["algo"]["n_step_return"] == 3
    assert dqn["ernbw"]["algo"]["learning_rate"] == 6.25e-5
    assert "V_min" not in dqn["dqn"]["algo"]  # only the categorical configs carry it
    assert atari_r2d1.configs["r2d1"]["runner"]["n_steps"] == 100_000_000
    assert atari_r2d1.configs["r2d1_long"]["sampler"]["batch_B"] == 192
    pg = atari_pg.configs
    assert [(pg[k]["sampler"]["batch_T"], pg[k]["env"]["num_img_obs"]) for k in pg] == [
        (5, 4),
        (64, 4),
        (20, 1),
        (64, 1),
    ]
    assert mujoco_pg.configs["ppo"]["sampler"]["batch_T"] == 2048
    qpg = mujoco_qpg.configs
    assert [qpg[k]["algo"]["batch_size"] for k in ("ddpg", "td3", "sac")] == [100, 100, 256]
    assert (
        mujoco_qpg.ENVS
        == mujoco_pg.ENVS
        == (
            "Hopper-v5",
            "Swimmer-v5",
            "HalfCheetah-v5",
            "Walker2d-v5",
            "Ant-v5",
            "Humanoid-v5",
        )
    )


def test_tiny_changes_only_the_budget():
    from experiments.configs import atari_dqn

    full, small = atari_dqn.configs["ernbw"], atari_dqn.tiny(atari_dqn.configs["ernbw"])
    assert small["runner"] == dict(full["runner"], n_steps=16, log_interval_steps=8)
    assert small["model"] == full["model"] and small["env"] == full["env"]
    assert small["algo"]["learning_rate"] == full["algo"]["learning_rate"]
    assert full["runner"]["n_steps"] == 50_000_000  # tiny() copies; the config is unchanged


def test_unknown_config_key_and_game_are_named():
    from experiments.launching import check_env_names

    setup = load_module(os.path.join(SCRIPTS, "atari/dqn/launch/launch_atari_dqn.py")).SETUP
    with pytest.raises(KeyError, match=r"unknown config key 'dqm'; did you mean 'dqn'\?"):
        _train_spec(setup).config("dqm")
    with pytest.raises(SystemExit, match=r"unknown Atari game 'pongg': did you mean 'pong'\?"):
        check_env_names(setup, ["pong", "pongg"])
