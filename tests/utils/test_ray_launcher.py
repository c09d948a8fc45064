"""The Ray launcher mode of run_experiments on a local Ray instance (2 CPUs), with a tiny
script: the command line a run gets, status.json, a crashed run, relaunch, placement by
resources (runs of 1 CPU two at a time; runs no node can hold refused), Ctrl-C."""

import json
import os
import signal
import textwrap
import threading
import time

import psutil
import pytest

from rlpyt.utils.launching.exp_launcher import read_status, run_experiments

ray = pytest.importorskip("ray")
from rlpyt.utils.launching.ray_launcher import run_experiments_ray  # noqa: E402

# Records what the launcher gave the run (or crashes, or sleeps, per its variant).
RECORDER = """
import glob, json, os, sys, time
from rlpyt.utils.launching.variant import load_variant
slot_code, log_dir, run_ID = sys.argv[1], sys.argv[2], int(sys.argv[3])
variant = load_variant(log_dir)
run_dir = os.path.join(log_dir, f"run_{run_ID}")
os.makedirs(run_dir, exist_ok=True)
if variant["name"] == "pair":  # wait (30 s at most) until two such runs have started
    start = time.time()
    open(os.path.join(run_dir, "started"), "w").close()
    pattern = os.path.join(os.path.dirname(log_dir), "*", "run_*", "started")
    while len(glob.glob(pattern)) < 2 and time.time() < start + 30:
        time.sleep(0.05)
    met = len(glob.glob(pattern)) >= 2
    time.sleep(1.0)
    with open(os.path.join(run_dir, "times.json"), "w") as f:
        json.dump(dict(start=start, end=time.time(), met=met), f)
    sys.exit(0)
print("output of", variant["name"], run_ID, flush=True)
if variant["name"] == "crash":
    sys.exit(3)
if variant["name"] == "sleep":
    with open(os.path.join(run_dir, "pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(600)
with open(os.path.join(run_dir, "record.json"), "w") as f:
    json.dump(dict(argv=sys.argv[1:], attempt=os.environ["RLPYT_LAUNCH_ATTEMPT"]), f)
"""


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    assert not ray.is_initialized()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(RECORDER))
    return str(path)


@pytest.mark.timeout(120)
def test_runs_as_ray_tasks_with_status_and_relaunch(tmp_path, script):
    exp = tmp_path / "exp"
    summary = run_experiments(
        script,
        "2cpu_1cpr",
        "unused",
        1,
        [dict(name="ok"), dict(name="crash")],
        ["ok", "crash"],
        common_args=["--flag"],
        experiment_dir=exp,
        backend="ray",
    )
    assert summary.counts["done"] == 1 and summary.counts["failed"] == 1
    status = read_status(exp)
    assert status["backend"] == "ray"
    runs = {e["setting"]: e for e in status["runs"]}
    assert runs["ok"]["state"] == "done" and runs["ok"]["exit_code"] == 0
    assert runs["crash"]["state"] == "failed" and runs["crash"]["exit_code"] == 3
    assert runs["ok"]["node"] and runs["ok"]["attempts"] == 1
    record = json.loads((exp / "ok" / "run_0" / "record.json").read_text())
    # Same command line as the local launcher: slot code, log dir, run ID, extra args.
    assert record["argv"] == ["0slt_2cpu_1cpr", str(exp / "ok"), "0", "--flag"]
    assert record["attempt"] == "1"
    with open(runs["crash"]["log_path"]) as f:
        assert f.read() == "output of crash 0\n"
    # Launching again: the done run is skipped, the failed one runs again (attempt 2).
    again = run_experiments_ray(
        script,
        "2cpu_1cpr",
        "unused",
        1,
        [dict(name="ok"), dict(name="crash")],
        ["ok", "crash"],
        common_args=["--flag"],
        experiment_dir=exp,
    )
    runs = {e["setting"]: e for e in again.runs}
    assert runs["ok"]["attempts"] == 1 and runs["crash"]["attempts"] == 2
    with open(runs["crash"]["log_path"]) as f:
        assert f.read() == "output of crash 0\n" * 2


@pytest.mark.timeout(120)
def test_runs_of_one_cpu_run_two_at_a_time_on_two_cpus(tmp_path, script):
    exp = tmp_path / "exp"
    names = ["a", "b", "c"]
    summary = run_experiments_ray(
        script, "2cpu_1cpr", "t", 1, [dict(name="pair")] * 3, names, experiment_dir=exp
    )  # fmt: skip
    assert summary.counts["done"] == 3
    times = sorted(
        (json.loads((exp / name / "run_0" / "times.json").read_text()) for name in names),
        key=lambda t: t["start"],
    )
    # The first two ran side by side (each saw the other start); the third started only
    # once one of them had ended (Ray reserved 1 of the 2 CPUs for each run).
    assert times[0]["met"] and times[1]["met"]
    assert times[2]["start"] >= min(times[0]["end"], times[1]["end"])


@pytest.mark.timeout(120)
def test_bad_resources_and_backend_are_rejected(tmp_path, script):
    with pytest.raises(ValueError, match="cpu_per_run must be >= 0"):
        run_experiments_ray(
            script, "2cpu_1cpr", "t", 1, [dict(name="ok")], ["ok"],
            experiment_dir=tmp_path / "e", cpu_per_run=-1,
        )  # fmt: skip
    # Runs no node can hold are refused before anything starts (Ray would queue them forever).
    for resources, asked in ((dict(gpu_per_run=1), "1 CPU and 1 GPU"),
                             (dict(cpu_per_run=3), "3 CPU and 0 GPU")):  # fmt: skip
        with pytest.raises(ValueError) as info:
            run_experiments_ray(
                script, "2cpu_1cpr", "t", 1, [dict(name="ok")], ["ok"],
                experiment_dir=tmp_path / "e", **resources,
            )  # fmt: skip
        assert str(info.value).startswith(
            f"each run reserves {asked}, but no node of the Ray cluster has that much (its 1 "
            "node(s): 2 CPU and 0 GPU): lower cpu_per_run / gpu_per_run"
        ), str(info.value)
    assert not (tmp_path / "e").exists()
    # run_experiments passes ray_options on to run_experiments_ray.
    with pytest.raises(ValueError, match="each run reserves 3 CPU and 0 GPU"):
        run_experiments(
            script, "2cpu_1cpr", "t", 1, [dict(name="ok")], ["ok"], experiment_dir=tmp_path / "e",
            backend="ray", ray_options=dict(cpu_per_run=3),
        )  # fmt: skip
    with pytest.raises(ValueError, match="backend must be 'local' or 'ray'"):
        run_experiments(script, "2cpu_1cpr", "t", 1, [{}], ["a"], backend="slurm")
    with pytest.raises(ValueError, match="ray_options apply only with backend='ray'"):
        run_experiments(script, "2cpu_1cpr", "t", 1, [{}], ["a"], ray_options=dict(cpu_per_run=1))


@pytest.mark.timeout(120)
def test_ctrl_c_stops_the_runs_and_marks_them_interrupted(tmp_path, script):
    exp = tmp_path / "exp"
    pid_file = exp / "sleep" / "run_0" / "pid"

    def interrupt_when_started():
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_experiments_ray(
            script, "2cpu_1cpr", "t", 1, [dict(name="sleep")], ["sleep"],
            experiment_dir=exp, grace_period=1.0,
        )  # fmt: skip
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    alive = psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    assert not alive, f"run process {pid} outlived Ctrl-C"
    (entry,) = read_status(exp)["runs"]
    assert entry["state"] == "interrupted"
    assert os.path.exists(entry["log_path"])
