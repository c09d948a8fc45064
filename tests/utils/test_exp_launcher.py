"""The experiment launcher on tiny grids of tiny scripts (no training): packing onto slots,
the status file, crashed runs, resuming after the launcher and its runs were killed, Ctrl-C
(no process left behind), oversubscription, and the checks made before anything starts."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
import torch

import rlpyt.utils.launching.affinity as affinity_module
import rlpyt.utils.launching.slots as slots_module
from rlpyt.utils.checkpoint import save_checkpoint
from rlpyt.utils.launching import exp_launcher
from rlpyt.utils.launching.exp_launcher import (
    LAUNCH_CPUS_ENV,
    OVERSUBSCRIBED_ENV,
    LaunchError,
    read_status,
    resume_point,
    run_experiments,
    run_slots,
    slot_affinity,
)

CPUS = sorted(os.sched_getaffinity(0))
needs_two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="needs 2 usable CPUs")

# Records what the launcher gave the run, then sleeps (or crashes, per its variant).
RECORDER = """
import json, os, sys, time
from rlpyt.utils.launching.variant import load_variant
slot_code, log_dir, run_ID = sys.argv[1], sys.argv[2], int(sys.argv[3])
variant = load_variant(log_dir)
run_dir = os.path.join(log_dir, f"run_{run_ID}")
os.makedirs(run_dir, exist_ok=True)
start = time.time()
print("output of", variant["name"], run_ID, flush=True)
if variant["name"] == "crash":
    print("boom: deliberate crash", flush=True)
    sys.exit(3)
if variant["name"] == "killed":
    os.kill(os.getpid(), 9)
time.sleep(0.5)
record = dict(argv=sys.argv[1:], variant=variant, start=start, end=time.time(),
              attempt=os.environ["RLPYT_LAUNCH_ATTEMPT"], cpus=sorted(os.sched_getaffinity(0)))
with open(os.path.join(run_dir, "record.json"), "w") as f:
    json.dump(record, f)
"""


def write_script(tmp_path, text, name="script.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def zero_counts(**counts):
    return {state: counts.get(state, 0) for state in exp_launcher.RUN_STATES}


@needs_two_cpus
@pytest.mark.timeout(60)
def test_four_runs_on_two_slots(tmp_path):
    script = write_script(tmp_path, RECORDER)
    summary = run_experiments(
        script,
        "2cpu",
        "grid",
        runs_per_setting=2,
        variants=[{"name": "a"}, {"name": "b"}],
        log_dirs=["set_a", "set_b"],
        common_args=["common", 7],
        runs_args=[["only_a"], ["only_b"]],
        log_dir_root=tmp_path / "root",
        pin_cpus=True,
    )
    exp = tmp_path / "root" / "grid"
    assert summary.experiment_dir == str(exp)
    assert summary.counts == zero_counts(done=4)
    status = read_status(exp)
    assert status["n_slots"] == 2 and status["counts"] == zero_counts(done=4)
    # The first run of every setting goes first.
    assert [(e["setting"], e["run_ID"]) for e in status["runs"]] == [
        ("set_a", 0),
        ("set_b", 0),
        ("set_a", 1),
        ("set_b", 1),
    ]
    intervals = []
    for entry in status["runs"]:
        setting, run_ID, slot = entry["setting"], entry["run_ID"], entry["slot"]
        log_dir = exp / setting
        record = json.loads((log_dir / f"run_{run_ID}" / "record.json").read_text())
        assert record["argv"] == [
            f"{slot}slt_2cpu",
            str(log_dir),
            str(run_ID),
            "common",
            "7",
            "only_" + setting[-1],
        ]
        assert record["variant"] == {"name": setting[-1]}
        assert record["attempt"] == "1"
        assert record["cpus"] == [CPUS[slot]]  # pinned to its slot's core
        assert entry["state"] == "done" and entry["exit_code"] == 0 and entry["attempts"] == 1
        assert entry["log_path"] == str(log_dir / f"run_{run_ID}.log")
        log = (log_dir / f"run_{run_ID}.log").read_text()
        assert f"output of {setting[-1]} {run_ID}" in log
        assert json.loads((log_dir / "variant_config.json").read_text()) == record["variant"]
        intervals.append((record["start"], record["end"]))
    # Queueing: never more than the 2 slots at once, and both slots used.
    most = max(sum(s <= t < e for s, e in intervals) for t, _ in intervals)
    assert most == 2
    assert sorted(e["slot"] for e in status["runs"][:2]) == [0, 1]


@pytest.mark.timeout(60)
def test_crashing_runs_are_recorded_and_the_others_finish(tmp_path, capsys):
    script = write_script(tmp_path, RECORDER)
    names = ["a", "crash", "killed", "b"]
    summary = run_experiments(
        script,
        "1cpu",  # one slot: the runs after the crashes still run
        "crashes",
        runs_per_setting=1,
        variants=[{"name": n} for n in names],
        log_dirs=names,
        log_dir_root=tmp_path,
    )
    assert summary.counts == zero_counts(done=2, failed=2)
    runs = {e["setting"]: e for e in read_status(tmp_path / "crashes")["runs"]}
    crash, killed = runs["crash"], runs["killed"]
    assert (crash["state"], crash["exit_code"], crash["signal"]) == ("failed", 3, None)
    assert (killed["state"], killed["exit_code"], killed["signal"]) == ("failed", -9, "SIGKILL")
    assert crash["log_path"] == str(tmp_path / "crashes" / "crash" / "run_0.log")
    assert "boom: deliberate crash" in open(crash["log_path"]).read()
    assert [e["setting"] for e in summary.failed] == ["crash", "killed"]
    assert runs["a"]["state"] == runs["b"]["state"] == "done"
    out = capsys.readouterr().out
    assert "crash/run_0: failed (exit code 3)" in out
    assert "    | boom: deliberate crash" in out  # the last lines of its log
    assert "killed/run_0: failed (exit code -9 by SIGKILL)" in out


# Logs a row, then waits to be killed (the test writes a snapshot into one of them, as its
# runner would: torch takes seconds to import); once relaunched, says where it resumed from.
RESUMABLE = """
import os, sys, time
from rlpyt.utils.launching.exp_launcher import resume_point
from rlpyt.utils.launching.variant import load_variant
log_dir, run_ID = sys.argv[2], int(sys.argv[3])
name = load_variant(log_dir)["name"]
run_dir = os.path.join(log_dir, f"run_{run_ID}")
resume_from = resume_point(log_dir, run_ID)
attempt = os.environ["RLPYT_LAUNCH_ATTEMPT"]
if resume_from is not None or name == "fast" or attempt != "1":
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "result.txt"), "w") as f:
        f.write(f"attempt {attempt} resumed from {resume_from}")
    sys.exit(0)
os.makedirs(run_dir)
with open(os.path.join(run_dir, "progress.csv"), "w") as f:
    f.write("Iteration,CumSteps\\n" + ("" if name == "no_rows" else "0,64\\n"))
open(os.path.join(log_dir, "ready"), "w").close()
time.sleep(60)
"""

LAUNCH = """
import sys
from rlpyt.utils.launching.exp_launcher import run_experiments
try:
    run_experiments(sys.argv[1], "{code}", "exp", 1, [{{"name": n}} for n in {names}], {names},
                    log_dir_root=sys.argv[2], allow_oversubscribe=True, grace_period={grace})
except KeyboardInterrupt:
    sys.exit(130)
"""


def start_launcher(tmp_path, script, names, code="2cpu", grace=10):
    text = LAUNCH.format(names=names, code=code, grace=grace)
    launcher = write_script(tmp_path, text, "launch.py")
    return subprocess.Popen(
        [sys.executable, launcher, script, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(paths, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(p) for p in paths):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"runs never got ready; launcher output:\n{proc.communicate()[0]}")
        time.sleep(0.05)


def wait_gone(pid, timeout=10):
    """Wait until ``pid`` (not our child: init reaps it) has exited."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.02)


def is_alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def running_pids(exp):
    return {e["setting"]: e["pid"] for e in read_status(exp)["runs"] if e["state"] == "running"}


@pytest.mark.timeout(90)
@pytest.mark.filterwarnings("ignore:affinity code '3cpu' lays out more CPUs")
def test_killed_launch_resumes_from_snapshots(tmp_path, capsys):
    script = write_script(tmp_path, RESUMABLE)
    names = ["fast", "snapshot", "no_snapshot", "no_rows"]
    exp = tmp_path / "exp"
    launcher = start_launcher(tmp_path, script, names, code="3cpu")
    wait_for([exp / n / "ready" for n in names[1:]], launcher)
    save_checkpoint(exp / "snapshot" / "run_0" / "params.pkl", {"itr": 4})
    # Kill everything at once, as a crash of the machine's session would.
    pids = running_pids(exp)
    assert sorted(pids) == ["no_rows", "no_snapshot", "snapshot"]
    launcher.kill()
    launcher.wait()
    for pid in pids.values():
        os.killpg(pid, signal.SIGKILL)
    for pid in pids.values():
        wait_gone(pid)
    summary = run_experiments(
        script, "3cpu", "exp", 1, [{"name": n} for n in names], names, log_dir_root=tmp_path,
        allow_oversubscribe=True,
    )  # fmt: skip
    assert summary.counts == zero_counts(done=4)
    runs = {e["setting"]: e for e in summary.runs}
    assert runs["fast"]["attempts"] == 1  # done before the kill: skipped
    assert not (exp / "fast" / "run_0.attempt1").exists()
    snap_dir = exp / "snapshot" / "run_0"
    assert runs["snapshot"]["attempts"] == 2
    assert runs["snapshot"]["resumed_from"] == str(snap_dir)
    assert (snap_dir / "result.txt").read_text() == f"attempt 2 resumed from {snap_dir}"
    # Interrupted before its first snapshot: the old directory kept aside, a fresh start.
    fresh = exp / "no_snapshot" / "run_0"
    assert runs["no_snapshot"]["attempts"] == 2 and runs["no_snapshot"]["resumed_from"] is None
    assert (fresh / "result.txt").read_text() == "attempt 2 resumed from None"
    assert (exp / "no_snapshot" / "run_0.attempt1" / "progress.csv").read_text().endswith("0,64\n")
    assert runs["no_snapshot"]["set_aside"] == [str(fresh) + ".attempt1"]
    # Stopped before it logged a row: nothing worth keeping, it starts over in place.
    restarted = exp / "no_rows" / "run_0"
    assert (restarted / "result.txt").read_text() == "attempt 2 resumed from None"
    assert runs["no_rows"]["set_aside"] == [] and not (exp / "no_rows" / "run_0.attempt1").exists()
    out = capsys.readouterr().out
    assert "fast/run_0: done earlier, skipped" in out
    assert f"resuming {snap_dir}" in out


# Starts a grandchild, then sleeps; the "stubborn" one ignores SIGTERM.
STUBBORN = """
import os, signal, subprocess, sys, time
from rlpyt.utils.launching.variant import load_variant
log_dir = sys.argv[2]
if load_variant(log_dir)["name"] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(os.path.join(log_dir, "pids"), "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
time.sleep(60)
"""


@pytest.mark.timeout(60)
def test_ctrl_c_stops_every_run_and_its_children(tmp_path):
    script = write_script(tmp_path, STUBBORN)
    names = ["polite", "stubborn", "queued"]
    exp = tmp_path / "exp"
    launcher = start_launcher(tmp_path, script, names, grace=1)
    wait_for([exp / "polite" / "pids", exp / "stubborn" / "pids"], launcher)
    pids = [int(p) for n in names[:2] for p in (exp / n / "pids").read_text().split()]
    assert all(psutil.pid_exists(p) for p in pids)
    launcher.send_signal(signal.SIGINT)
    out, _ = launcher.communicate(timeout=30)
    assert launcher.returncode == 130, out
    # SIGKILLed before the launcher returned; only init's reaping of them may lag.
    time.sleep(0.1)
    assert [p for p in pids if is_alive(p)] == [], out
    runs = {e["setting"]: e for e in read_status(exp)["runs"]}
    assert (runs["polite"]["state"], runs["polite"]["signal"]) == ("interrupted", "SIGTERM")
    assert (runs["stubborn"]["state"], runs["stubborn"]["signal"]) == ("interrupted", "SIGKILL")
    assert runs["queued"]["state"] == "queued" and runs["queued"]["attempts"] == 0
    assert "stopping 2 runs" in out and "stopped by SIGINT" in out


# -- checks before anything starts -------------------------------------------------------


def good_args(tmp_path):
    script = write_script(tmp_path, "print('never run')\n")
    return dict(
        script=script,
        affinity_code="1cpu",
        experiment_title="exp",
        runs_per_setting=1,
        variants=[{"a": 1}, {"a": 2}],
        log_dirs=["a1", "a2"],
        log_dir_root=str(tmp_path),
    )


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(script="missing.py"), FileNotFoundError, "run script missing.py does not exist"),
        (dict(runs_per_setting=0), ValueError, "runs_per_setting"),
        (dict(log_dirs=["a1"]), ValueError, "2 variants but 1 log_dirs"),
        (dict(log_dirs=["a1", "a1"]), ValueError, r"repeat \(setting, run_ID\) pairs"),
        (dict(log_dirs=["a1", "/abs"]), ValueError, r"log_dirs\[1\] '/abs' must be a relative"),
        (dict(log_dirs=["a1", "../out"]), ValueError, "leaving it with '..'"),
        (dict(runs_args=[["x"]]), ValueError, r"one argument list per variant \(2\); got 1"),
        (dict(common_args="--flag"), TypeError, "common_args must be a list"),
        (dict(variants=[{"a": 1}, 2]), TypeError, r"variants\[1\] must be a dict"),
        (dict(affinity_code="1cpu_2cpr"), ValueError, "cpu_per_run=2 exceeds n_cpu_core=1"),
        (dict(affinity_code="1cpx"), ValueError, "bad token '1cpx'"),
        (dict(affinity_code="0slt_1cpu"), ValueError, "already names a run slot"),
        (dict(affinity_code=f"{len(CPUS) + 1}cpu"), ValueError, "allow_oversubscribe=True"),
        (dict(grace_period=-1), ValueError, "grace_period must be >= 0"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(tmp_path, change, error, match):
    args = good_args(tmp_path)
    args.update(change)
    with pytest.raises(error, match=match):
        run_experiments(**args)
    assert not (tmp_path / "exp").exists()


def test_a_changed_grid_or_a_second_launcher_is_refused(tmp_path):
    args = good_args(tmp_path)
    exp = tmp_path / "exp"
    os.makedirs(exp / "a1")
    (exp / "a1" / "variant_config.json").write_text('{"a": 5}')
    with pytest.raises(ValueError, match=r"holds the variant \{'a': 5\} from an earlier launch"):
        run_experiments(**args)
    (exp / "a1" / "variant_config.json").unlink()
    with open(exp / ".launcher.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("4242\n")
        lock.flush()
        with pytest.raises(LaunchError, match=r"another launcher \(pid 4242\) is running"):
            run_experiments(**args)
    assert not (exp / "status.json").exists()


def test_a_run_still_alive_from_an_earlier_launcher_is_refused(tmp_path):
    args = good_args(tmp_path)
    exp = tmp_path / "exp"
    os.makedirs(exp)
    me = psutil.Process()
    entry = dict(setting="a1", run_ID=0, state="running", pid=me.pid)
    entry["pid_create_time"] = me.create_time()
    (exp / "status.json").write_text(json.dumps({"runs": [entry]}))
    with pytest.raises(LaunchError, match=f"a1/run_0 is still running as pid {me.pid}"):
        run_experiments(**args)


# -- slots, oversubscription and resume points ------------------------------------------------


@pytest.fixture
def four_cpus(monkeypatch):
    """A machine whose usable CPUs are 4, 5, 6 and 7."""
    monkeypatch.setattr(slots_module, "usable_cpus", lambda: [4, 5, 6, 7])
    monkeypatch.setattr(affinity_module, "usable_cpus", lambda: [4, 5, 6, 7])
    monkeypatch.delenv(LAUNCH_CPUS_ENV, raising=False)
    monkeypatch.delenv(OVERSUBSCRIBED_ENV, raising=False)


def test_run_slots_and_oversubscription(four_cpus, monkeypatch):
    slots = run_slots("4cpu_2cpr")
    assert [(s.index, s.code, s.cpus, s.cuda_idx) for s in slots] == [
        (0, "0slt_4cpu_2cpr", [4, 5], None),
        (1, "1slt_4cpu_2cpr", [6, 7], None),
    ]
    with pytest.raises(ValueError, match="lays out 6 CPU ids.*allow_oversubscribe=True"):
        run_slots("6cpu")
    with pytest.warns(UserWarning, match="its 6 run slots share them"):
        slots = run_slots("6cpu", allow_oversubscribe=True)
    assert [s.cpus for s in slots] == [[4], [5], [6], [7], [4], [5]]
    # In a run: the launcher's CPU list, wrapped around when oversubscribed.
    monkeypatch.setenv(LAUNCH_CPUS_ENV, "4,5,6,7")
    monkeypatch.setenv(OVERSUBSCRIBED_ENV, "1")
    assert slot_affinity("5slt_6cpu")["master_cpus"] == [5]
    monkeypatch.setenv(OVERSUBSCRIBED_ENV, "0")
    monkeypatch.setattr(affinity_module, "usable_cpus", lambda: [6])  # pinned by the launcher
    assert slot_affinity("1slt_4cpu_2cpr")["master_cpus"] == [6, 7]


def test_resume_point(tmp_path):
    assert resume_point(tmp_path, 0) is None  # no run directory
    run_dir = tmp_path / "run_0"
    run_dir.mkdir()
    (run_dir / "progress.csv").write_text("Iteration\n0\n")
    assert resume_point(tmp_path, 0) is None  # logs but no snapshot
    (run_dir / "params.pkl").write_bytes(b"torn")
    with pytest.warns(RuntimeWarning, match="skipping unusable checkpoint"):
        assert resume_point(tmp_path, 0) is None
    save_checkpoint(run_dir / "itr_3.pkl", {"itr": 3, "x": torch.zeros(1)})
    with pytest.warns(RuntimeWarning, match="skipping unusable checkpoint"):
        assert resume_point(str(tmp_path), "0") == str(run_dir)
