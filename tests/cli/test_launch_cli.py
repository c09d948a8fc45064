"""``python -m rlpyt launch GRID.yaml`` (a real tiny PPO grid, then plot and summary on its
tree), ``--dry-run``, the grid file's errors, and ``train --affinity``."""

import csv
import json
import os
import textwrap

import pytest
import yaml

import rlpyt.utils.launching.affinity as affinity_module
from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import apply_overrides, default_config
from rlpyt.cli.main import main
from rlpyt.utils.launching.exp_launcher import LAUNCH_CPUS_ENV, read_status
from rlpyt.utils.plot import metric_figure, plot_experiment
from rlpyt.utils.runs import group_runs, read_progress

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# 2 settings x 1 run of 1024 steps: 16 iterations of 16 x 4 env steps, a row every 256 steps.
GRID = """
title: lr_grid
runs_per_setting: 1
affinity: {n_cpu_core: 2, cpu_per_run: 1, n_gpu: 0}
allow_oversubscribe: true      # so that the test runs on one core too
base:
  algo_name: ppo
  env: {id: CartPole-v1}
  sampler: {batch_T: 16, batch_B: 4, max_decorrelation_steps: 0}
  algo: {epochs: 2}
  runner: {n_steps: 1024, log_interval_steps: 256, seed: 5}
grid:
  - {key: algo.learning_rate, values: [1e-3, 3e-4], dir_names: [lr1e-3, lr3e-4]}
"""


def write_grid(tmp_path, text=GRID, name="grid.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def progress(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.timeout(240)
def test_launch_a_tiny_ppo_grid_then_plot_and_summarize(tmp_path, capsys):
    grid = write_grid(tmp_path)
    assert main(["launch", grid, "--root", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    exp = tmp_path / "out" / "lr_grid"
    status = read_status(exp)
    assert [(e["setting"], e["state"], e["exit_code"]) for e in status["runs"]] == [
        ("lr1e-3", "done", 0),
        ("lr3e-4", "done", 0),
    ]
    for setting, lr in (("lr1e-3", 1e-3), ("lr3e-4", 3e-4)):
        run_dir = exp / setting / "run_0"
        assert [int(r["CumSteps"]) for r in progress(run_dir)] == [256, 512, 768, 1024]
        config = json.loads((run_dir / "config.json").read_text())
        assert config["algo"]["learning_rate"] == lr and config["algo"]["epochs"] == 2
        assert config["runner"]["seed"] == 5  # runner.seed + run_ID
        assert (run_dir / "params.pkl").exists()
        log = (exp / setting / "run_0.log").read_text()
        assert "--affinity" in log and "Run directory:" in log
    assert f"Compare the settings: python -m rlpyt plot {exp}" in out

    # The tree is what plot and summary read: one curve per setting.
    (png,) = plot_experiment(exp, metrics=["ReturnAverage"])
    assert open(png, "rb").read(8) == PNG_MAGIC
    assert main(["summary", str(exp), "--group-by", "algo.learning_rate", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["setting"], r["runs"]) for r in rows] == [
        ("algo.learning_rate=0.0003", 1),
        ("algo.learning_rate=0.001", 1),
    ]

    # Launching again finishes what is left: nothing.
    assert main(["launch", grid, "--root", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "lr1e-3/run_0: done earlier, skipped" in out and "0 of 2 runs to go" in out
    assert ": running (" not in out
    # A changed grid in the same experiment directory is refused.
    changed = write_grid(tmp_path, GRID.replace("n_steps: 1024", "n_steps: 2048"), "g2.yaml")
    assert main(["launch", changed, "--root", str(tmp_path / "out")]) == 2
    assert "differs from the grid file's settings (sections ['runner'])" in capsys.readouterr().err


def test_dry_run_prints_slots_and_runs_and_writes_nothing(tmp_path, capsys):
    grid = write_grid(tmp_path, GRID.replace("runs_per_setting: 1", "runs_per_setting: 2"))
    assert main(["launch", grid, "--root", str(tmp_path / "out"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    exp = tmp_path / "out" / "lr_grid"
    assert f"experiment {exp}: 2 settings x 2 runs on 2 slots of '2cpu_0gpu'" in out
    assert "slot 1: 1slt_2cpu_0gpu" in out
    assert out.count(": run (new)") == 4
    lr3_run1 = (
        f"train --config {exp}/lr3e-4/launch_config.json --log-dir {exp}/lr3e-4 --run-id 1 "
        "--seed 6 --affinity SLOT_CODE"
    )
    assert lr3_run1 in out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("title:", "titel:", "unknown key 'titel'; did you mean 'title'?"),
        ("algo: {epochs: 2}", "algo: {epoch: 2}", "unknown config key 'algo.epoch'; did you mean"),
        ("key: algo.learning_rate", "key: algo.learning_rat", "did you mean 'algo.learning_rate'?"),
        ("dir_names: [lr1e-3, lr3e-4]", "dir_name: [a, b]", "unknown key 'dir_name'; did you"),
        (
            "cpu_per_run: 1",
            "cpu_per_rn: 1",
            "affinity: unknown key 'cpu_per_rn'; did you mean 'cpu_per_run',",
        ),
        ("dir_names: [lr1e-3, lr3e-4]", "dir_names: [a]", "2 settings in values but 1 dir_names"),
        ("runs_per_setting: 1", "runs_per_setting: 0", "runs_per_setting must be >= 1, got 0"),
    ],
)
def test_grid_file_errors_name_the_cause(tmp_path, capsys, old, new, message):
    assert old in GRID
    grid = write_grid(tmp_path, GRID.replace(old, new))
    assert main(["launch", grid, "--root", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: grid file {grid}")
    assert message in err
    assert not (tmp_path / "out").exists()


@pytest.fixture
def two_cpus(monkeypatch):
    monkeypatch.setattr(affinity_module, "usable_cpus", lambda: [3, 8])
    monkeypatch.delenv(LAUNCH_CPUS_ENV, raising=False)


def test_train_affinity_places_the_run_on_its_slot(two_cpus):
    config = default_config("ppo", "CartPole-v1")
    runner = build_experiment(config, affinity_code="1slt_2cpu")
    assert runner.affinity == dict(
        cuda_idx=None, torch_threads=1, set_affinity=True, master_cpus=[8]
    )
    parallel = apply_overrides(config, ["sampler.kind=cpu", "runner.torch_threads=None"])
    runner = build_experiment(parallel, affinity_code="0slt_2cpu_2cpr")
    assert runner.affinity["master_cpus"] == [3, 8] and runner.affinity["torch_threads"] == 2
    assert runner.affinity["workers_cpus"] == [3, 8]  # one worker per core of the slot
    with pytest.warns(UserWarning, match=r"sampler.workers=3 is more than the 2 worker cores"):
        build_experiment(
            apply_overrides(parallel, ["sampler.workers=3"]), affinity_code="0slt_2cpu_2cpr"
        )
    unpinned = build_experiment(config, affinity_code="0slt_2cpu_0saf")
    assert "master_cpus" not in unpinned.affinity and unpinned.affinity["set_affinity"] is False


def test_train_affinity_errors(two_cpus, tmp_path, capsys):
    with pytest.raises(ValueError, match="gives an asynchronous layout"):
        build_experiment(default_config("ppo", "CartPole-v1"), affinity_code="0slt_2cpu_2cpr_1asm")
    log_dir = tmp_path / "runs"
    args = ["train", "--algo", "ppo", "--env", "CartPole-v1", "--log-dir", str(log_dir)]
    assert main([*args, "--affinity", "0slt_3cpu"]) == 2
    assert "lays out 3 CPU ids" in capsys.readouterr().err
    assert main([*args, "--affinity", "3cpu"]) == 2
    assert "has no run slot token" in capsys.readouterr().err
    assert not log_dir.exists()  # refused before anything was logged


@pytest.mark.timeout(300)
def test_the_readme_grid_runs_end_to_end_and_plots_one_curve_per_setting(tmp_path, capsys):
    """examples/grid_cartpole.yaml as the README launches it, at a tiny budget."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "examples", "grid_cartpole.yaml")) as f:
        grid = yaml.safe_load(f)
    grid["runs_per_setting"] = 1
    grid["base"]["runner"].update(n_steps=1024, log_interval_steps=512)
    grid["base"]["sampler"] = dict(batch_T=16, max_decorrelation_steps=0)
    grid["base"]["algo"] = dict(epochs=1)
    grid["allow_oversubscribe"] = True  # runs on one core too
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    assert main(["launch", str(path), "--root", str(tmp_path)]) == 0
    exp = tmp_path / grid["title"]
    status = read_status(exp)
    assert sorted(e["setting"] for e in status["runs"] if e["state"] == "done") == [
        "lr1e-3/B16",
        "lr1e-3/B8",
        "lr3e-4/B16",
        "lr3e-4/B8",
    ]
    groups = group_runs(
        sorted(str(p.parent) for p in exp.glob("*/*/run_0/progress.csv")), roots=[str(exp)]
    )
    tables = {run: read_progress(run) for runs in groups.values() for run in runs}
    figure = metric_figure(groups, "ReturnAverage", tables=tables)
    assert len(figure.axes[0].get_lines()) == 4  # one curve per setting
    capsys.readouterr()
    assert main(["plot", str(exp)]) == 0
    assert (exp / "plots" / "ReturnAverage.png").read_bytes()[:8] == PNG_MAGIC
