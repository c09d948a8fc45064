"""FAULTS.md B3: the master is SIGKILLed while its workers sample.

The workers must notice (EOF on their pipe) and exit on their own, and the
shared-memory segments the dead master could not unlink must go at the next
start (``sweep_stale_shared_memory``), if Python's resource tracker has not
already removed them.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from faulty_envs import read_line

from rlpyt.utils.shared_memory import SHM_DIR, sweep_stale_shared_memory

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(TESTS_DIR)

SCRIPT = textwrap.dedent(
    """
    import glob, os, sys
    sys.path.insert(0, {tests_dir!r})
    from faulty_envs import SyncRecordingAgent as RecordingAgent
    from probe_envs import CountingEnv
    from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
    from rlpyt.samplers.parallel.gpu.sampler import GpuSampler

    if __name__ == "__main__":
        sampler = {sampler}(
            EnvCls=CountingEnv, env_kwargs=dict(lengths=(3, 5)), batch_T=8, batch_B=4,
            max_decorrelation_steps=0, start_method={start_method!r},
        )
        sampler.initialize(RecordingAgent(), affinity=dict(workers_cpus=[0, 1]), seed=0)
        print("workers", *[w.pid for w in sampler.workers], flush=True)
        names = glob.glob(os.path.join({shm_dir!r}, f"rlpyt_{{os.getpid()}}_*"))
        print("segments", *sorted(os.path.basename(n) for n in names), flush=True)
        itr = 0
        while True:  # the test kills this process, most likely in the middle of a batch
            sampler.obtain_samples(itr)
            itr += 1
            if itr == 3:
                print("ready", flush=True)
    """
)


def _running(pid) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _session_processes(sid) -> list:
    """Live processes of session ``sid`` (the master's, and everything it started)."""
    left = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getsid(p.pid) == sid and p.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(p.pid)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            pass
    return left


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "sampler, start_method",
    [
        pytest.param("CpuSampler", "fork", id="cpu-fork"),
        pytest.param("CpuSampler", "spawn", id="cpu-spawn"),
        pytest.param("GpuSampler", "fork", id="gpu-fork"),
    ],
)
def test_sigkilled_master_workers_exit_and_shared_memory_is_swept(tmp_path, sampler, start_method):
    script = tmp_path / "sample_forever.py"
    script.write_text(
        SCRIPT.format(
            tests_dir=TESTS_DIR, sampler=sampler, start_method=start_method, shm_dir=SHM_DIR
        )
    )
    env = dict(os.environ, PYTHONPATH=REPO_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # everything it starts can be found (and cleaned up) by sid
        cwd=tmp_path,
        env=env,
    )
    sid = proc.pid
    try:
        line = read_line(proc, 30)
        assert line.startswith("workers"), line
        worker_pids = [int(p) for p in line.split()[1:]]
        assert len(worker_pids) == 2
        line = read_line(proc, 10)
        assert line.startswith("segments"), line
        segments = line.split()[1:]
        # The samples buffer lives in a segment named after the master.
        assert segments and all(s.startswith(f"rlpyt_{proc.pid}_") for s in segments), segments
        assert read_line(proc, 30).strip() == "ready"
        assert all(_running(pid) for pid in worker_pids)

        os.kill(proc.pid, signal.SIGKILL)
        start = time.monotonic()
        proc.wait(timeout=5)  # reaped: its pid no longer looks alive to the sweep
        assert proc.returncode == -signal.SIGKILL
        while (alive := [p for p in worker_pids if _running(p)]) and time.monotonic() - start < 3:
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        if alive:
            blocked = {}
            for pid in alive:
                try:
                    blocked[pid] = psutil.Process(pid).status()
                except psutil.NoSuchProcess:
                    pass
            pytest.fail(f"workers {alive} still running {elapsed:.1f} s after SIGKILL: {blocked}")

        # Python's resource tracker (its write end held by the workers too) may have
        # unlinked them once the workers exited; the sweep removes whatever is left.
        removed = sweep_stale_shared_memory()
        left = [s for s in segments if os.path.exists(os.path.join(SHM_DIR, s))]
        assert not left, f"segments of the dead master left after the sweep: {left}"
        assert {n for n in removed if n.startswith(f"rlpyt_{proc.pid}_")} <= set(segments)

        # Nothing of the killed run is left running (the resource tracker included).
        deadline = time.monotonic() + 3
        while (left := _session_processes(sid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"processes of the killed run left: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _session_processes(sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.communicate()
