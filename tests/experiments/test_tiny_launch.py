"""Every published setup runs with ``python -m experiments.run SETUP --tiny`` (tier 4 of
STYLE.md), and the full-scale setups are the published ones and pass the components' checks.

Setups are read from the table (``experiments.setups.SETUPS``), so a new row is tested without
editing this file. The tiny launches run two at a time (one core each, unpinned: the two
launchers would otherwise both pin to the first core), each into its own root under one
temporary directory, from the repository root (where ``python -m experiments...`` finds the
package; pytest's ``pythonpath`` puts the root on the path of this process too).
"""

import ast
import csv
import glob
import io
import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout

import pytest

from experiments import run
from experiments.setups import SETUPS
from experiments.train_specs import TRAIN

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPTS = os.path.join(REPO, "experiments", "scripts")
TRAIN_SCRIPTS = sorted(glob.glob(os.path.join(SCRIPTS, "*", "*", "train", "*.py")))
NAMES = list(SETUPS)
# Seconds one tiny launch may take (about 10 on an idle machine: two processes importing torch).
LAUNCH_TIMEOUT = 90


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
    """``{setup name: (CompletedProcess, root)}`` for every setup launched with ``--tiny``."""
    base = tmp_path_factory.mktemp("tiny_launches")

    def launch(name):
        root = base / name
        command = [sys.executable, "-m", "experiments.run", name, "--tiny", "--root", str(root)]
        command += ["--cores", "1", "--no-pin"]
        return run_launcher(command, cwd=REPO), root

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(NAMES, pool.map(launch, NAMES)))


def test_every_published_setup_is_in_the_table():
    assert set(SETUPS) >= {
        *(f"atari_{v}" for v in ("dqn", "double", "prioritized", "dueling", "catdqn", "ernbw")),
        *(f"atari_{a}_{b}" for a in ("ff", "lstm") for b in ("a2c", "ppo")),
        "atari_r2d1",
        *(f"mujoco_{a}" for a in ("ppo", "ddpg", "td3", "sac")),
    }
    assert all(name == setup.title for name, setup in SETUPS.items())


def _kind(setup) -> str:
    return setup.script.rsplit(".", 1)[-1]


def test_every_train_script_is_a_run_kind_and_touches_no_path():
    """A train script per kind, where the original had it; each only calls ``main(kind)``."""
    kinds = {}
    for path in TRAIN_SCRIPTS:
        tree = ast.parse(open(path).read())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        assert [ast.unparse(c.func) for c in calls] == ["main"], path
        kinds[os.path.basename(path).removesuffix(".py")] = calls[0].args[0].value
        assert "sys.path" not in open(path).read()
    assert all(name == kind for name, kind in kinds.items())
    assert set(kinds) == set(TRAIN)
    for setup in SETUPS.values():
        assert os.path.isfile(os.path.join(SCRIPTS, *setup.script.split(".")) + ".py")
        assert _kind(setup) in TRAIN


def test_unknown_setup_is_named(capsys):
    assert run.main(["atari_dqm"]) == 2
    assert "unknown setup 'atari_dqm'; did you mean 'atari_dqn'" in capsys.readouterr().err
    assert run.main(["--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == NAMES


def _failure_report(proc, root) -> str:
    logs = sorted(glob.glob(os.path.join(root, "*", "*", "run_*.log")))
    tail = "(no run log)"
    if logs:
        with open(logs[0]) as f:
            tail = f.read()[-3000:]
    return f"stdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-2000:]}\nrun log:\n{tail}"


@pytest.mark.timeout(900)  # the first one runs the module's tiny_launches fixture
@pytest.mark.parametrize("name", NAMES)
def test_tiny_launch_starts_logs_and_snapshots(name, tiny_launches):
    setup = SETUPS[name]
    proc, root = tiny_launches[name]
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


@pytest.mark.parametrize("name", NAMES)
def test_full_scale_dry_run_lists_the_published_grid(name, tmp_path):
    out = io.StringIO()
    with redirect_stdout(out):
        status = run.main(
            [name, "--dry-run", "--root", str(tmp_path), "--cores", "2", "--gpus", "0"]
        )
    setup = SETUPS[name]
    assert status == 0
    lines = out.getvalue().splitlines()
    expected = [f"  {tmp_path / setup.title / env}/run_{k}" for env in setup.envs for k in range(2)]
    assert lines[1:] == expected
    assert setup.runs_per_setting == 2
    assert not os.path.exists(tmp_path / setup.title)  # nothing was started or written


def _train_spec(setup):
    return TRAIN[_kind(setup)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("tiny", [False, True], ids=["full", "tiny"])
def test_configs_pass_the_components_checks(name, tiny):
    """The full-scale configs (never run in CI) build their algorithm and agent."""
    setup = SETUPS[name]
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

    setup = SETUPS["atari_dqn"]
    with pytest.raises(KeyError, match=r"unknown config key 'dqm'; did you mean 'dqn'\?"):
        _train_spec(setup).config("dqm")
    with pytest.raises(SystemExit, match=r"unknown Atari game 'pongg': did you mean 'pong'\?"):
        check_env_names(setup, ["pong", "pongg"])
