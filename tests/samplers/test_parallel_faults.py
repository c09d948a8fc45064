"""Faults in parallel sampling (FAULTS.md A1-A5, B1, B2, B4-B6).

Every fault must surface in the master as a clear error, and leave nothing
behind: no child process and no shared-memory segment of ours.
"""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from faulty_envs import FaultyEnv, read_line, shm_segments, worker_pids
from faulty_envs import SyncRecordingAgent as RecordingAgent
from probe_envs import CountingEnv

from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.errors import WorkerError

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(TESTS_DIR)
AFFINITY = dict(workers_cpus=[0, 1])  # two workers, two envs each
T, B = 8, 4  # the fault at step 17 hits at itr 2 (steps 1-8: itr 0, 9-16: itr 1)


def make_sampler(fault, at_step=17, env_kwargs=None, **kwargs):
    kwargs.setdefault("max_decorrelation_steps", 0)
    return CpuSampler(
        EnvCls=FaultyEnv,
        env_kwargs=dict(fault=fault, at_step=at_step, **(env_kwargs or {})),
        batch_T=T,
        batch_B=B,
        **kwargs,
    )


def expect_worker_error(sampler, pattern):
    start = time.monotonic()
    with pytest.raises(WorkerError) as excinfo:
        for itr in range(6):
            start = time.monotonic()
            sampler.obtain_samples(itr)
    elapsed = time.monotonic() - start
    msg = str(excinfo.value)
    assert re.search(pattern, msg), f"{pattern!r} not found in:\n{msg}"
    assert itr == 2, f"the fault at env step 17 must surface at itr 2, got itr {itr}"
    assert isinstance(excinfo.value, RuntimeError)
    return msg, elapsed


def check_env_of_worker(msg):
    """The env index is global: worker w holds envs 2w and 2w + 1."""
    m = re.search(r"worker (\d+) \(pid \d+\), env (\d+)", msg)
    assert m, msg
    worker, env = int(m.group(1)), int(m.group(2))
    assert env in (2 * worker, 2 * worker + 1), msg


# -- A1: an env raises in step() ------------------------------------------------------


@pytest.mark.timeout(60)
def test_env_raises_in_step_names_worker_env_itr_and_keeps_traceback(leaks):
    sampler = make_sampler("raise")
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    assert sampler.n_worker == 2
    msg, elapsed = expect_worker_error(
        sampler,
        r"worker [01] \(pid \d+\), env [0-3] \(FaultyEnv\), itr 2: "
        r"InjectedFault: injected step fault at step 17",
    )
    check_env_of_worker(msg)
    # The worker's traceback comes along, down to the line that raised.
    assert "Traceback" in msg and "faulty_envs.py" in msg and "in step" in msg, msg
    assert elapsed < 5, f"the error took {elapsed:.1f} s to surface"
    # The sampler has shut down before raising: using it again is a clear error.
    with pytest.raises(RuntimeError):
        sampler.obtain_samples(3)
    sampler.shutdown()  # idempotent after an error


# -- A2: an env raises in its constructor, reset() or during decorrelation -----------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "fault, text",
    [
        ("ctor", "injected constructor fault"),
        ("reset", "injected reset fault"),
        ("ctor_in_worker", "injected constructor fault"),
        ("reset_in_worker", "injected reset fault"),
    ],
)
def test_env_fails_at_startup_error_at_initialize_names_env_class(leaks, fault, text):
    sampler = make_sampler(fault, env_kwargs=dict(length=4))
    leaks.samplers.append(sampler)
    start = time.monotonic()
    with pytest.raises(Exception) as excinfo:  # noqa: PT011 - checked by message below
        sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    assert time.monotonic() - start < 10, "start-up failure must not wait for a timeout"
    msg = str(excinfo.value)
    assert "FaultyEnv" in msg, msg  # the env class
    assert text in msg and "InjectedFault" in msg, msg  # the original error
    assert f"'fault': '{fault}'" in msg and "'length': 4" in msg, msg  # the kwargs
    leaks.track(sampler)
    with pytest.raises(RuntimeError):
        sampler.obtain_samples(0)


@pytest.mark.timeout(60)
def test_env_raises_during_decorrelation_error_at_initialize(leaks):
    # The master's example env steps once; the workers' envs take 1 + rng(20) decorrelation
    # steps each: with 4 envs and this seed at least one of them reaches step 2.
    sampler = make_sampler("raise", at_step=2, max_decorrelation_steps=20)
    leaks.samplers.append(sampler)
    with pytest.raises(WorkerError) as excinfo:
        sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    msg = str(excinfo.value)
    assert "FaultyEnv" in msg and "injected step fault at step 2" in msg, msg
    assert "'fault': 'raise'" in msg and "'at_step': 2" in msg, msg  # the kwargs (A2)
    assert re.search(r"worker [01] \(pid \d+\)", msg), msg
    leaks.track(sampler)


# -- A3: a worker dies hard -----------------------------------------------------------


@pytest.mark.timeout(60)
def test_worker_exits_hard_reports_exit_code(leaks):
    sampler = make_sampler("exit")
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    msg, elapsed = expect_worker_error(
        sampler, r"worker [01] \(pid \d+\) exited with code 3 during itr 2"
    )
    assert elapsed < 3, f"a dead worker must be noticed within ~1 s, took {elapsed:.1f} s"


@pytest.mark.timeout(60)
def test_worker_segfault_reports_signal(leaks):
    sampler = make_sampler("segv")
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    msg, elapsed = expect_worker_error(
        sampler, r"worker [01] \(pid \d+\) died with signal SIGSEGV during itr 2"
    )
    assert elapsed < 3, f"a dead worker must be noticed within ~1 s, took {elapsed:.1f} s"


# -- A4: an env step hangs ------------------------------------------------------------


@pytest.mark.timeout(60)
def test_hung_env_step_hits_batch_timeout_and_workers_are_killed(leaks):
    sampler = make_sampler("hang", batch_timeout=2.0)
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    msg, elapsed = expect_worker_error(
        sampler,
        r"worker [01] \(pid \d+\), env [0-3] \(FaultyEnv\) in step\(\) at its step 17, did "
        r"not finish itr 2 within batch_timeout=2\.0 s",
    )
    check_env_of_worker(msg)
    assert 1.9 <= elapsed < 8, f"timed out after {elapsed:.1f} s, batch_timeout=2.0"


# -- A5: NaN reward or observation ------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault, field", [("nan_reward", "reward"), ("nan_obs", "observation")])
def test_nan_from_env_raises_naming_field_and_env(leaks, fault, field):
    sampler = make_sampler(fault)
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    msg, _ = expect_worker_error(sampler, rf"\b{field}\b")
    assert re.search(r"\benv [0-3]\b", msg), msg
    assert "nan" in msg.lower(), msg
    assert re.search(r"worker [01] \(pid \d+\)", msg), msg


@pytest.mark.timeout(60)
def test_nan_check_off_lets_nan_through(leaks):
    sampler = make_sampler("nan_reward", nan_check="off")
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    for itr in range(3):
        samples, _ = sampler.obtain_samples(itr)
    # Step 17 is the first of itr 2: every env returned a NaN reward there.
    assert samples.env.reward[0].isnan().all()
    assert not samples.env.reward[1:].isnan().any()
    sampler.shutdown()


# -- B4: an exception in the master while workers run ----------------------------------


@pytest.mark.timeout(60)
def test_exception_in_master_surfaces_unchanged_and_workers_stop(leaks):
    sampler = make_sampler("none")
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    start = time.monotonic()
    with pytest.raises(ZeroDivisionError, match="optimize_agent failed") as excinfo:
        try:
            sampler.obtain_samples(0)
            raise ZeroDivisionError("optimize_agent failed")
        finally:
            sampler.shutdown()
    assert time.monotonic() - start < 5
    assert excinfo.value.__context__ is None  # not masked by (or chained to) a shutdown error


# -- B5: shutdown twice, use after shutdown ----------------------------------------------


@pytest.mark.timeout(60)
def test_shutdown_is_idempotent_and_use_after_shutdown_is_an_error(leaks):
    sampler = CpuSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3, 5)),
        batch_T=4,
        batch_B=2,
        max_decorrelation_steps=0,
        eval_n_envs=2,
        eval_max_steps=20,
    )
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    sampler.obtain_samples(0)
    sampler.shutdown()
    sampler.shutdown()
    with pytest.raises(RuntimeError, match="shutdown"):
        sampler.obtain_samples(1)
    with pytest.raises(RuntimeError, match="shutdown"):
        sampler.evaluate_agent(1)


# -- B6: start methods, unpicklable factories --------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_start_methods_collect_a_batch(leaks, start_method):
    sampler = CpuSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3,)),
        batch_T=5,
        batch_B=2,
        max_decorrelation_steps=0,
        start_method=start_method,
    )
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    try:
        samples, completed = sampler.obtain_samples(0)
        # Each env is stepped in its own worker: observation = steps since reset.
        assert samples.env.observation[:, :, 0].tolist() == [[0, 0], [1, 1], [2, 2], [0, 0], [1, 1]]
        assert samples.env.done[:, 0].tolist() == [False, False, True, False, False]
        assert len(completed) == 2 and all(info.Length == 3 for info in completed)
        samples, _ = sampler.obtain_samples(1)
        assert samples.env.observation[:, 0, 0].tolist() == [2, 0, 1, 2, 0]
    finally:
        sampler.shutdown()


def _count_env(**kwargs):
    return CountingEnv(**kwargs)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_unpicklable_env_factory_under_spawn_is_named_before_any_process_starts(
    leaks, start_method
):
    sampler = CpuSampler(
        EnvCls=lambda **kw: CountingEnv(**kw),
        env_kwargs=dict(lengths=(3,)),
        batch_T=4,
        batch_B=2,
        max_decorrelation_steps=0,
        start_method=start_method,
    )
    leaks.samplers.append(sampler)
    with pytest.raises(Exception) as excinfo:  # noqa: PT011 - checked by message below
        sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    msg = str(excinfo.value)
    assert "EnvCls" in msg and "<lambda>" in msg, msg
    assert start_method in msg, msg
    assert not worker_pids(sampler), "no worker may start before the pickling check"


@pytest.mark.timeout(60)
def test_picklable_factory_function_works_under_spawn(leaks):
    sampler = CpuSampler(
        EnvCls=_count_env,
        env_kwargs=dict(lengths=(3,)),
        batch_T=3,
        batch_B=2,
        max_decorrelation_steps=0,
        start_method="spawn",
    )
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    try:
        samples, _ = sampler.obtain_samples(0)
        assert samples.env.observation[:, 1, 0].tolist() == [0, 1, 2]
    finally:
        sampler.shutdown()


# -- B1/B2: Ctrl-C and SIGTERM --------------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests_dir!r})
    from faulty_envs import SyncRecordingAgent as RecordingAgent
    from probe_envs import CountingEnv
    from rlpyt.samplers.parallel.cpu.sampler import CpuSampler

    if {on_term}:
        signal.signal(signal.SIGTERM, lambda *args: sys.exit(143))
    sampler = CpuSampler(
        EnvCls=CountingEnv, env_kwargs=dict(lengths=(3, 5)), batch_T=8, batch_B=4,
        max_decorrelation_steps=0,
    )
    try:
        sampler.initialize(RecordingAgent(), affinity=dict(workers_cpus=[0, 1]), seed=0)
        print("workers", *[w.pid for w in sampler.workers], flush=True)
        itr = 0
        while True:
            sampler.obtain_samples(itr)
            itr += 1
            if itr == 3:
                print("ready", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    finally:
        sampler.shutdown()
        print("shut down", flush=True)
    """
)


def _group_processes(pgid):
    left = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(p.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return left


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "sig, to_group, exit_code",
    [
        (signal.SIGINT, True, 130),  # Ctrl-C in a terminal: the whole foreground group
        (signal.SIGINT, False, 130),  # kill -INT <master>
        (signal.SIGTERM, False, 143),  # cluster preemption
    ],
    ids=["sigint-group", "sigint-master", "sigterm-master"],
)
def test_interrupt_stops_everything_quickly_without_worker_tracebacks(
    tmp_path, sig, to_group, exit_code
):
    script = tmp_path / "sample_forever.py"
    script.write_text(SCRIPT.format(tests_dir=TESTS_DIR, on_term=sig == signal.SIGTERM))
    env = dict(os.environ, PYTHONPATH=REPO_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job in a terminal
        cwd=tmp_path,
        env=env,
    )
    pgid = proc.pid
    try:
        line = read_line(proc, 30)
        assert line.startswith("workers"), line
        worker_pids = [int(p) for p in line.split()[1:]]
        assert len(worker_pids) == 2
        assert read_line(proc, 30).strip() == "ready"
        start = time.monotonic()
        if to_group:
            os.killpg(pgid, sig)
        else:
            os.kill(proc.pid, sig)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 5 s after {sig.name}")
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(pgid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == exit_code, f"exit code {proc.returncode}; stderr:\n{err}"
    assert elapsed < 5
    assert "shut down" in out
    assert "Traceback" not in err, f"tracebacks after {sig.name}:\n{err}"
    assert "leaked" not in err, err  # the resource tracker's warning about shared memory
    deadline = time.monotonic() + 3
    while (left := _group_processes(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes of the group left after exit: {left}"
    for pid in worker_pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    segments = shm_segments([proc.pid, *worker_pids])
    assert not segments, f"shared memory left: {sorted(segments)}"
