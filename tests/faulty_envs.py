"""Envs that fail on purpose, for the parallel-sampler fault tests (FAULTS.md A1-A5).

Module-level classes only, so they pickle under the ``spawn`` and
``forkserver`` start methods (a child imports this module by name).
"""

import os
import signal
import time
from collections import namedtuple

import numpy as np

from rlpyt.envs.base import Env, EnvStep
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox

try:  # tests/ is on sys.path whenever this module is
    from probe_envs import RecordingAgent
except ImportError:  # pragma: no cover
    RecordingAgent = object

FaultInfo = namedtuple("FaultInfo", ["timeout"])

FAULTS = (
    "raise",
    "exit",
    "segv",
    "hang",
    "nan_reward",
    "nan_obs",
    "ctor",
    "reset",
    "ctor_in_worker",
    "reset_in_worker",
    "hang_ignore_term",
    "broadcast_obs",
    "float64_obs",
    "none",
)


def _in_child_process() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


class InjectedFault(ValueError):
    """The exception an env raises on purpose (its message never names the env class)."""


class FaultyEnv(Env):
    """A counting env (like ``probe_envs.CountingEnv``) that fails on purpose.

    ``fault`` picks the failure; step faults trigger at the ``at_step``-th call
    of ``step()`` since construction (decorrelation steps included), in every
    env that has this fault:

    * ``"raise"``: ``step()`` raises ``InjectedFault("injected step fault at step N")``;
    * ``"exit"``: the process exits with ``os._exit(3)``;
    * ``"segv"``: the process sends itself SIGSEGV;
    * ``"hang"``: ``step()`` sleeps for an hour;
    * ``"nan_reward"`` / ``"nan_obs"``: the step returns reward NaN / observation ``[NaN]``;
    * ``"ctor"``: ``__init__`` raises ``InjectedFault("injected constructor fault")``;
    * ``"reset"``: ``reset()`` raises ``InjectedFault("injected reset fault")``;
    * ``"ctor_in_worker"`` / ``"reset_in_worker"``: as ``"ctor"`` / ``"reset"``, but only
      in a child process (a worker), never in the master (its example env works);
    * ``"hang_ignore_term"``: as ``"hang"``, ignoring SIGTERM first (only SIGKILL stops it);
    * ``"broadcast_obs"``: ``step()`` returns observations of shape ``[3]``, ``reset()`` of
      shape ``[1]`` (numpy would broadcast them into a buffer built from a step's);
    * ``"float64_obs"``: ``step()`` returns uint8 observations, ``reset()`` float64 ones;
    * ``"none"``: never fails.

    Episodes last ``length`` steps; observation = steps since reset, reward = action + 1.
    """

    def __init__(self, fault="raise", at_step=17, length=5):
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}, got {fault!r}")
        if fault == "ctor" or (fault == "ctor_in_worker" and _in_child_process()):
            raise InjectedFault("injected constructor fault")
        self.fault = fault
        self.at_step = int(at_step)
        self.length = int(length)
        self._observation_space = FloatBox(0, 1000, shape=(1,))
        self._action_space = IntBox(0, 3)
        self.n_steps = 0  # step() calls since construction
        self.t = 0

    def reset(self):
        if self.fault == "reset" or (self.fault == "reset_in_worker" and _in_child_process()):
            raise InjectedFault("injected reset fault")
        self.t = 0
        if self.fault == "float64_obs":
            return np.array([0.0], dtype=np.float64)
        return np.array([0.0], dtype=np.float32)

    def step(self, action):
        self.n_steps += 1
        self.t += 1
        obs = np.array([self.t], dtype=np.float32)
        reward = float(action) + 1.0
        if self.n_steps == self.at_step:
            if self.fault == "raise":
                raise InjectedFault(f"injected step fault at step {self.n_steps}")
            if self.fault == "exit":
                os._exit(3)
            if self.fault == "segv":
                import faulthandler

                faulthandler.disable()  # a real crash, without the dump pytest's handler prints
                os.kill(os.getpid(), signal.SIGSEGV)
                time.sleep(10)  # the signal is delivered before this returns
            if self.fault == "hang":
                time.sleep(3600)
            if self.fault == "hang_ignore_term":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                time.sleep(3600)
            if self.fault == "nan_reward":
                reward = float("nan")
            if self.fault == "nan_obs":
                obs = np.array([np.nan], dtype=np.float32)
        if self.fault == "broadcast_obs":
            obs = np.full(3, self.t, dtype=np.float32)
        elif self.fault == "float64_obs":
            obs = obs.astype(np.uint8)
        done = self.t >= self.length
        return EnvStep(obs, reward, done, FaultInfo(timeout=False))


class SyncRecordingAgent(RecordingAgent):
    """``probe_envs.RecordingAgent`` with the BaseAgent hook the parallel samplers call."""

    def sync_shared_memory(self):
        pass


class NanActionAgent(SyncRecordingAgent):
    """Float actions (0.5), NaN from its ``nan_at``-th call on (a policy gone bad)."""

    def __init__(self, nan_at=3, n_actions=3):
        super().__init__(n_actions=n_actions)
        self.nan_at = nan_at

    def step(self, observation, prev_action, prev_reward):
        agent_step = super().step(observation, prev_action, prev_reward)
        action = agent_step.action.float() * 0 + 0.5
        if self.k >= self.nan_at:
            action = action * float("nan")
        return agent_step._replace(action=action)


# -- leak checks shared by the parallel-sampler tests -------------------------------

SHM_DIR = "/dev/shm"
# Helper processes multiprocessing keeps for the life of the test process.
_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def process_alive(process) -> bool:
    """``Process.is_alive()``, false for a Process object already closed (``close()``)."""
    try:
        return process.is_alive()
    except ValueError:  # "process object is closed": joined and released
        return False


def worker_pids(sampler) -> list:
    """Pids of the sampler's worker processes (read before their Process objects are closed)."""
    pids = []
    for process in getattr(sampler, "workers", None) or []:
        try:
            if process.pid is not None:
                pids.append(process.pid)
        except ValueError:
            pass
    return pids


def shm_segments(pids) -> set:
    """Our shared-memory segments (``rlpyt_<pid>_*``) owned by any of ``pids``."""
    prefixes = tuple(f"rlpyt_{pid}_" for pid in pids)
    try:
        names = os.listdir(SHM_DIR)
    except FileNotFoundError:
        return set()
    return {n for n in names if n.startswith(prefixes)}


def worker_children() -> list:
    """Children of this process other than multiprocessing's own helpers (zombies included)."""
    import psutil

    left = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            cmdline = ""
        except psutil.AccessDenied:
            cmdline = ""
        if any(h in cmdline for h in _HELPERS):
            continue
        left.append(child)
    return left


class LeakCheck:
    """Records samplers and their worker pids (``track(sampler)``); :meth:`assert_clean` then
    asserts that no worker, child process or shared-memory segment of theirs is left.
    The ``leaks`` and ``no_leftovers`` fixtures (tests/samplers/conftest.py) hold one."""

    def __init__(self):
        self.pids = {os.getpid()}
        self.before = shm_segments(self.pids)
        self.samplers = []

    def track(self, sampler):
        self.samplers.append(sampler)
        self.pids.update(worker_pids(sampler))
        return sampler

    def shutdown(self) -> None:
        for sampler in self.samplers:
            sampler.shutdown()

    def assert_clean(self):
        for sampler in self.samplers:
            for w in getattr(sampler, "workers", None) or []:
                assert not process_alive(w), f"worker {w.name} still alive"
        left = wait_no_worker_children(timeout=2.0)
        assert not left, f"child processes left: {left}"
        segments = shm_segments(self.pids) - self.before
        assert not segments, f"shared memory left in /dev/shm: {sorted(segments)}"


def read_line(proc, timeout) -> str:
    """The next stdout line of the subprocess ``proc``; the test fails (and ``proc`` is
    killed) when none comes within ``timeout`` s."""
    import selectors

    import pytest

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"no output within {timeout} s; stderr:\n{err}")
        return proc.stdout.readline()
    finally:
        sel.close()


def wait_no_worker_children(timeout=2.0) -> list:
    """Children still there after ``timeout`` s (a worker not yet reaped gets that long)."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        left = []
        for child in worker_children():
            try:
                left.append(f"pid {child.pid} ({child.status()})")
            except psutil.NoSuchProcess:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
