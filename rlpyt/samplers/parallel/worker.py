"""The sampler worker process: builds its envs, then serves commands from the master.

Protocol (one duplex pipe per worker; no semaphores that can desynchronise):
the master sends ``(command, itr)`` (``itr``: the command's argument, the saved
state for ``"load_state"``); the worker answers every command with
``("ok", payload)`` or ``("error", message)``. The master waits on all pipes
*and* all process sentinels with a timeout, so a worker that raises, dies or
hangs is noticed at once (see :mod:`rlpyt.samplers.parallel.base`). A worker
whose master is gone sees EOF on its pipe and exits.
"""

import math
import os
import signal
import traceback
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil
import torch

from rlpyt.samplers.parallel.errors import EnvFault
from rlpyt.samplers.parallel.worker_state import load_worker_state, worker_state
from rlpyt.utils.seed import derive_seed

__all__ = [
    "WorkerSpec",
    "worker_main",
    "set_cpu_affinity",
    "GuardedEnv",
    "observation_mismatch",
    "master_gone",
    "send_message",
    "start_pipe_worker",
]

NAN_CHECKS = ("raise", "warn", "off")


def set_cpu_affinity(cpus) -> bool:
    """Pin this process to ``cpus``; warn once and go on unpinned where refused."""
    if not cpus:
        return False
    try:
        psutil.Process().cpu_affinity(list(cpus))
        return True
    except (OSError, ValueError, AttributeError) as err:  # containers, macOS, bad ids
        warnings.warn(
            f"could not pin pid {os.getpid()} to CPUs {list(cpus)} ({err}); running unpinned",
            stacklevel=2,
        )
        return False


class GuardedEnv:
    """An env whose failures name it: index, class, what it was doing, which step.

    Also checks, unless ``nan_check="off"``, rewards, float observations and
    float actions (from the policy) for NaN/inf; and, once, at the first reset and
    the first step, that the observation fits ``observation_example`` (the samples
    buffer's): same shape, a dtype that casts within its kind (float64 into float32,
    never float into an integer buffer). ``in_step`` (a shared ``[3]`` int64 array,
    optional): ``(index, step, 0 for step() / 1 for reset())`` while the env is
    inside one of them, ``-1`` first otherwise, so the master can name a hung env.
    """

    def __init__(
        self, env, index: int, nan_check: str = "raise", observation_example=None, in_step=None
    ):
        self.env = env
        self.index = index
        self.name = type(env).__name__
        self.n_steps = 0
        self.nan_check = nan_check
        self.observation_example = observation_example
        self.in_step = in_step
        self._checked = {"reset": observation_example is None, "step": observation_example is None}
        self._warned_nan = False

    def step(self, action):
        self.n_steps += 1
        if self.nan_check != "off":
            self._check_action(action)
        in_step = self.in_step
        if in_step is not None:
            in_step[1] = self.n_steps
            in_step[2] = 0
            in_step[0] = self.index
        try:
            env_step = self.env.step(action)
        except Exception as err:
            raise EnvFault(self.index, self.name, "raised in step()", self.n_steps) from err
        finally:
            if in_step is not None:
                in_step[0] = -1
        if not self._checked["step"]:
            self._check_observation(env_step.observation, "step")
        if self.nan_check != "off":
            self._check_finite(env_step)
        return env_step

    def _check_action(self, action):
        dtype = getattr(action, "dtype", None)  # numpy arrays and scalars
        if dtype is not None and dtype.kind == "f" and not np.isfinite(action).all():
            self._nan(f"action from the policy is {action}")

    def _check_observation(self, observation, where):
        self._checked[where] = True
        mismatch = observation_mismatch(observation, self.observation_example)
        if mismatch:
            raise EnvFault(
                self.index,
                self.name,
                f"returned a wrong observation from {where}()",
                self.n_steps,
                f": {mismatch} (the samples buffer is built from the first observation of "
                "an example env: every observation must match it)",
            )

    def _check_finite(self, env_step):
        reward = env_step.reward
        if not math.isfinite(reward):
            self._nan(f"reward is {reward}")
        obs = env_step.observation
        if isinstance(obs, np.ndarray) and obs.dtype.kind == "f" and not np.isfinite(obs).all():
            self._nan("observation holds NaN or inf")

    def _nan(self, what):
        if self.nan_check == "raise":
            raise EnvFault(
                self.index,
                self.name,
                "met a non-finite value",
                self.n_steps,
                f": {what} (set nan_check='warn' or 'off' to allow it)",
            )
        if not self._warned_nan:
            self._warned_nan = True
            warnings.warn(
                f"env {self.index} ({self.name}) at its step {self.n_steps}: {what}", stacklevel=3
            )

    def reset(self):
        in_step = self.in_step
        if in_step is not None:
            in_step[1] = self.n_steps
            in_step[2] = 1
            in_step[0] = self.index
        try:
            observation = self.env.reset()
        except Exception as err:
            raise EnvFault(self.index, self.name, "raised in reset()", self.n_steps) from err
        finally:
            if in_step is not None:
                in_step[0] = -1
        if not self._checked["reset"]:
            self._check_observation(observation, "reset")
        return observation

    def __getattr__(self, name):  # spaces, seed, close, horizon...
        if name.startswith("__") or name == "env":  # e.g. during unpickling: not the env's
            raise AttributeError(name)
        # Delegation to the user's env.
        return getattr(self.env, name)


def observation_mismatch(observation, example, field="observation") -> str | None:
    """What keeps ``observation`` from being written where ``example`` is, or None.

    Shapes must be equal (numpy would broadcast ``[1]`` into ``[4]`` silently) and the
    dtype must cast within its kind (float64 into float32 is fine, float into uint8 not).
    Namedtuple observations are compared field by field.
    """
    if isinstance(example, tuple) and hasattr(example, "_fields"):
        if not isinstance(observation, tuple) or len(observation) != len(example):
            return f"{field} is {type(observation).__name__}, expected {type(example).__name__}"
        for name, o, e in zip(example._fields, observation, example):
            mismatch = observation_mismatch(o, e, f"{field}.{name}")
            if mismatch:
                return mismatch
        return None
    actual, expected = np.asarray(observation), np.asarray(example)
    if actual.shape != expected.shape or not np.can_cast(actual.dtype, expected.dtype, "same_kind"):
        return (
            f"{field} has shape {actual.shape} dtype {actual.dtype}, expected shape "
            f"{expected.shape} dtype {expected.dtype}"
        )
    return None


@dataclass
class WorkerSpec:
    """Everything one worker needs (pickled to it under spawn/forkserver)."""

    rank: int
    env_ranks: list
    EnvCls: Any
    env_kwargs: dict
    samples_np: Any  # this worker's [T, B_w] slice of the shared buffer
    batch_T: int
    CollectorCls: Any
    traj_info_factory: Any  # TrajInfoFactory: the sampler's TrajInfoCls and traj_info_kwargs
    agent: Any
    step_buffer_np: Any
    global_B: int
    seed: int
    max_decorrelation_steps: int
    cpus: list | None
    nan_check: str
    eval_step_buffer_np: Any = None
    eval_env_kwargs: dict | None = None
    eval_env_ranks: list | None = None
    eval_CollectorCls: Any = None
    eval_max_T: int | None = None
    eval_max_trajectories: int | None = None
    observation_example: Any = None  # the samples buffer's (GuardedEnv checks the first ones)
    in_step: Any = None  # shared [3] int64: the env inside step()/reset() (GuardedEnv)


def make_envs(spec, env_ranks, env_kwargs, kind, observation_example=None, in_step=None):
    envs = []
    for r in env_ranks:
        try:
            env = spec.EnvCls(**env_kwargs)
        except Exception as err:
            # EnvCls is the user's: a class, a function or e.g. a partial (no __name__).
            name = getattr(spec.EnvCls, "__name__", repr(spec.EnvCls))
            raise EnvFault(r, name, f"raised in its constructor (kwargs {env_kwargs})", 0) from err
        env.seed(derive_seed(spec.seed, kind, r))
        envs.append(GuardedEnv(env, r, spec.nan_check, observation_example, in_step))
    return envs


def describe_error(err: BaseException, env_kwargs: dict | None = None) -> dict:
    """What the master reports: a one-line summary (env, original error) and the traceback."""
    fault, cause = None, err
    while cause is not None:
        if isinstance(cause, EnvFault):
            fault = cause
            break
        cause = cause.__cause__
    original = fault.__cause__ if fault is not None and fault.__cause__ is not None else err
    what = f"{type(original).__name__}: {original}"
    if fault is not None:
        where = f"env {fault.env_index} ({fault.env_name}) {fault.what} at its step {fault.step}"
        if fault.__cause__ is None:  # the guard's own finding (NaN): no original error
            what = f"{fault.env_name}: {fault}"
        env = f"env {fault.env_index} ({fault.env_name})"
        if env_kwargs is not None:  # at start-up: name the kwargs too (a config problem?)
            env = f"env {fault.env_index} ({fault.env_name}(**{env_kwargs!r}))"
        summary = {"env": env, "where": where, "what": what}
    else:
        summary = {"env": None, "where": None, "what": what}
    summary["traceback"] = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return summary


def worker_main(spec: WorkerSpec, conn, master_pid: int, inherited=()) -> None:
    """Entry point of a worker process.

    ``inherited``: the master's pipe ends a forked worker got by inheritance;
    closed at once, so the worker sees EOF when the master is gone.
    """
    for other in inherited:
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    torch.set_num_threads(1)
    set_cpu_affinity(spec.cpus)
    from rlpyt.samplers.env_batch import close_envs, worker_envs  # it imports this module

    try:
        envs = worker_envs(spec, spec.env_ranks, spec.env_kwargs, "env", spec.in_step)
        collector = spec.CollectorCls(
            rank=spec.rank,
            envs=envs,
            samples_np=spec.samples_np,
            batch_T=spec.batch_T,
            TrajInfoCls=spec.traj_info_factory,
            agent=spec.agent,
            global_B=spec.global_B,
            env_ranks=spec.env_ranks,
            seed=spec.seed,
            step_buffer_np=spec.step_buffer_np,
        )
        eval_collector = None
        if spec.eval_env_ranks:
            eval_envs = worker_envs(spec, spec.eval_env_ranks, spec.eval_env_kwargs, "eval_env")
            eval_collector = spec.eval_CollectorCls(
                rank=spec.rank,
                envs=eval_envs,
                TrajInfoCls=spec.traj_info_factory,
                max_T=spec.eval_max_T,
                agent=spec.agent,
                max_trajectories=spec.eval_max_trajectories,
                step_buffer_np=spec.eval_step_buffer_np,
            )
        agent_inputs, traj_infos = collector.start_envs(spec.max_decorrelation_steps)
        collector.start_agent()
    except BaseException as err:  # noqa: BLE001 - report anything, then exit
        send_message(conn, ("error", describe_error(err, env_kwargs=spec.env_kwargs)))
        return
    send_message(conn, ("ok", None))
    while True:
        try:
            while not conn.poll(1.0):  # a second without orders: is the master alive?
                if not psutil.pid_exists(master_pid) or master_gone(master_pid):
                    return
            command, itr = conn.recv()
        except (EOFError, OSError):
            return  # the master is gone: nothing to report to
        if command == "close":
            break
        try:
            if command == "collect":
                spec.agent.sample_mode(itr)
                collector.reset_if_needed(agent_inputs)
                agent_inputs, traj_infos, completed = collector.collect_batch(
                    agent_inputs, traj_infos, itr
                )
                payload = completed
            elif command == "step":  # GPU sampler: one time step, actions from the master
                payload = collector.step_envs(*itr)
            elif command == "begin":  # GPU sampler: start of a batch
                payload = collector.begin_batch(itr)
            elif command == "eval_begin":  # GPU sampler evaluation: reset eval envs
                payload = eval_collector.begin(itr)
            elif command == "eval_step":  # GPU sampler evaluation: one step
                payload = eval_collector.step_envs(itr)
            elif command == "eval":
                payload = eval_collector.collect_evaluation(itr)
                payload = (payload, eval_collector.n_unfinished)
            elif command == "get_state":  # between batches: for the master's snapshot
                payload = worker_state(
                    collector, eval_collector, agent_inputs, traj_infos, spec.agent
                )
            elif command == "load_state":  # resuming: ``itr`` carries the saved state
                agent_inputs, traj_infos, payload = load_worker_state(
                    itr, collector, eval_collector, agent_inputs, traj_infos, spec.agent
                )
            else:
                raise ValueError(f"unknown command {command!r}")
        except BaseException as err:  # noqa: BLE001
            send_message(conn, ("error", describe_error(err)))
            return
        if not send_message(conn, ("ok", payload)):
            return
    close_envs(collector.envs)
    if eval_collector is not None:
        close_envs(eval_collector.envs)


def master_gone(master_pid: int) -> bool:
    """Whether the master process has exited (gone, or a zombie its parent has not reaped).

    Not ``os.getppid()``: under forkserver a worker's parent is the fork server."""
    try:
        return psutil.Process(master_pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def send_message(conn, message) -> bool:
    """Send on a worker's pipe; False when the master's end is closed (the master is gone)."""
    try:
        conn.send(message)
        return True
    except (BrokenPipeError, EOFError, OSError):
        return False


def start_pipe_worker(ctx, target, spec, name, start_method, master_conns):
    """Start ``target(spec, child_conn, master_pid, inherited)`` in a daemon process of ``ctx``.

    Returns ``(process, parent_conn)``. Under fork the child inherits the master's ends of the
    pipes (its own, and ``master_conns`` of the workers started before it): it is given them to
    close, or it would never see EOF when the master dies.
    """
    parent_conn, child_conn = ctx.Pipe()
    inherited = [parent_conn, *master_conns] if start_method == "fork" else []
    process = ctx.Process(
        target=target,
        args=(spec, child_conn, os.getpid(), inherited),
        name=name,
        daemon=True,
    )
    process.start()
    child_conn.close()
    return process, parent_conn
