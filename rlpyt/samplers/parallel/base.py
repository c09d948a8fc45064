"""Parallel sampling: worker processes step their envs into shared ``[T, B]`` buffers.

The master talks to each worker over one pipe and waits on all pipes *and* all
process sentinels at once, with a timeout. So every failure becomes an error
in the master within one batch, naming the worker:

* a worker whose env raises reports the env, the iteration and its traceback;
* a worker that dies (``os._exit``, a signal, the OOM killer) is seen through its
  sentinel at once, with its exit code or signal;
* a worker that does not answer within ``batch_timeout`` is declared hung.

Before raising, the sampler stops every worker (close, join, terminate, kill)
and frees its shared memory. ``shutdown()`` is idempotent.
"""

import multiprocessing as mp
import os
import pickle
import time
import warnings
from multiprocessing.connection import wait

import numpy as np

from rlpyt.samplers.base import BaseSampler
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import TrajInfoFactory
from rlpyt.samplers.parallel.env_groups import make_example_env, split_envs
from rlpyt.samplers.parallel.errors import WorkerError, death_message, describe_itr, error_message
from rlpyt.samplers.parallel.worker import NAN_CHECKS, WorkerSpec, start_pipe_worker, worker_main
from rlpyt.utils.buffer import np_mp_array
from rlpyt.utils.seed import derive_seed, make_seed
from rlpyt.utils.shared_memory import release_shared_memory, sweep_stale_shared_memory

__all__ = ["ParallelSamplerBase"]

START_METHODS = ("fork", "spawn", "forkserver")
KILL_WAIT = 10.0  # seconds a SIGKILLed worker gets to be gone


def _join_all(processes, timeout):
    """Join every process, ``timeout`` seconds for all of them together."""
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))


class ParallelSamplerBase(BaseSampler):
    """Common machinery of the parallel samplers (worker start, waits, shutdown).

    Extra keyword arguments (beyond :class:`~rlpyt.samplers.base.BaseSampler`):

    Args:
        start_method: ``"fork"`` (default on Linux), ``"spawn"`` or ``"forkserver"``.
        batch_timeout: seconds a worker may take for one batch (or one
            evaluation) before it is declared hung.
        startup_timeout: seconds for the workers to build and reset their envs.
        nan_check: ``"raise"`` (default), ``"warn"`` or ``"off"`` for NaN/inf
            rewards and float observations from the envs.
    """

    agent_in_workers = True  # CpuSampler: workers act; the GPU sampler overrides

    def __init__(
        self,
        *args,
        start_method=None,
        batch_timeout=300.0,
        startup_timeout=60.0,
        nan_check="raise",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if start_method is None:
            start_method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        if start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS}, got {start_method!r}")
        if nan_check not in NAN_CHECKS:
            raise ValueError(f"nan_check must be one of {NAN_CHECKS}, got {nan_check!r}")
        for name, value in (("batch_timeout", batch_timeout), ("startup_timeout", startup_timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
        self.start_method = start_method
        self.batch_timeout = float(batch_timeout)
        self.startup_timeout = float(startup_timeout)
        self.nan_check = nan_check
        self.workers = []
        self._conns = []
        self._closed = True
        # Shared memory built at initialize() (None before): released at shutdown().
        self.step_buffer_np = self.eval_step_buffer_np = self._in_step = None

    @property
    def n_worker(self) -> int:
        return len(self.workers)

    # -- start-up -----------------------------------------------------------------

    def initialize(
        self,
        agent,
        affinity=None,
        seed=None,
        bootstrap_value=False,
        traj_info_kwargs=None,
        final_observation=False,
        rank=0,
        world_size=1,
    ):
        """Build the shared buffer and start the workers; returns the examples."""
        self.seed = make_seed() if seed is None else seed
        B = self.batch_spec.B
        env_ranks = [rank * B + b for b in range(B)]
        example_env = make_example_env(self.EnvCls, self.env_kwargs)
        try:
            example_env.seed(derive_seed(self.seed, "example_env"))
            agent.initialize(
                example_env.spaces,
                share_memory=self.agent_in_workers,
                global_B=B * world_size,
                env_ranks=env_ranks,
            )
            try:
                samples_pyt, samples_np, examples = build_samples_buffer(
                    agent,
                    example_env,
                    self.batch_spec,
                    bootstrap_value,
                    final_observation=final_observation,
                )
            except Exception as err:
                # EnvCls is the user's: a class, a function or e.g. a partial (no __name__).
                name = getattr(self.EnvCls, "__name__", repr(self.EnvCls))
                raise WorkerError(
                    f"one example step (env.reset, env.step, agent.step) of env "
                    f"{name}(**{self.env_kwargs!r}) failed: {type(err).__name__}: {err}"
                ) from err
        finally:
            example_env.close()
        self.start_workers(
            agent,
            samples_pyt,
            samples_np,
            examples,
            TrajInfoFactory(self.TrajInfoCls, traj_info_kwargs),
            env_ranks,
            B * world_size,
            affinity,
        )
        return examples

    def start_workers(
        self,
        agent,
        samples_pyt,
        samples_np,
        examples,
        traj_info_factory,
        env_ranks,
        global_B,
        affinity=None,
    ) -> None:
        """Start the workers on a samples buffer the caller built (and its ``agent``).

        :meth:`initialize` builds the buffer from an example env; a caller that already
        holds an initialized agent and the examples (the Ray scheme's collection worker,
        :mod:`rlpyt.samplers.ray.env_processes`) builds it itself, with the fields the
        workers write (``samples_np.env``) in shared memory. ``env_ranks``: the global
        ranks of the ``B`` envs (their seeds); ``affinity``: ``workers_cpus`` gives the
        number of workers (and the CPUs they are pinned to unless ``set_affinity`` is False).
        Needs :attr:`seed` set. On failure every started worker is stopped and the buffers
        are freed (as by :meth:`shutdown`).
        """
        affinity = dict(affinity or {})
        sweep_stale_shared_memory()  # left by runs that were killed with SIGKILL
        worker_cpus = self._worker_cpus(affinity)
        groups = split_envs(self.batch_spec.B, len(worker_cpus), "batch_B")
        self._worker_env_indices = groups  # env columns [b] of each worker
        self._warned_unsaved = False
        eval_groups = split_envs(self.eval_n_envs, len(groups), "eval_n_envs")
        eval_groups += [[] for _ in range(len(groups) - len(eval_groups))]
        # Evaluation commands go only to workers with eval envs (fewer eval envs than workers).
        self._eval_workers = [w for w, group in enumerate(eval_groups) if group]
        self._worker_env_ranks = [[env_ranks[b] for b in group] for group in groups]
        self.traj_info_factory = traj_info_factory
        self.agent = agent
        self.samples_pyt, self.samples_np = samples_pyt, samples_np
        self.step_buffer_np = self._build_step_buffer(examples)
        self._observation_example = examples["observation"]
        # Which env each worker is inside step()/reset() of (-1: none), to name a hung one.
        self._in_step = np_mp_array((len(groups), 3), np.int64)
        self._in_step[:, 0] = -1
        self.mid_batch_reset = self.CollectorCls.mid_batch_reset
        self._closed = False
        ctx = mp.get_context(self.start_method)
        try:  # on failure, shutdown() frees the buffers too
            if self.start_method != "fork":
                self._check_picklable()
            for w, (envs, eval_envs) in enumerate(zip(groups, eval_groups)):
                spec = self._worker_spec(
                    w, envs, eval_envs, env_ranks, global_B, self.seed, worker_cpus[w]
                )
                process, parent_conn = start_pipe_worker(
                    ctx, worker_main, spec, f"rlpyt-sampler-{w}", self.start_method, self._conns
                )
                self.workers.append(process)
                self._conns.append(parent_conn)
            self._gather(None, self.startup_timeout, "start-up")
        except BaseException:
            self.shutdown()
            raise

    def _build_step_buffer(self, examples):
        """Shared ``[B]`` buffer between master and workers (GPU sampler only)."""
        return None

    def _worker_spec(self, w, envs, eval_envs, env_ranks, global_B, seed, cpus):
        return WorkerSpec(
            rank=w,
            env_ranks=[env_ranks[b] for b in envs],
            EnvCls=self.EnvCls,
            env_kwargs=self.env_kwargs,
            samples_np=self.samples_np[:, envs[0] : envs[-1] + 1],
            batch_T=self.batch_spec.T,
            CollectorCls=self.CollectorCls,
            traj_info_factory=self.traj_info_factory,
            agent=self.agent if self.agent_in_workers else None,
            step_buffer_np=(
                None if self.step_buffer_np is None else self.step_buffer_np[envs[0] : envs[-1] + 1]
            ),
            global_B=global_B,
            seed=seed,
            observation_example=self._observation_example,
            in_step=self._in_step[w],
            max_decorrelation_steps=self.max_decorrelation_steps,
            cpus=cpus,
            nan_check=self.nan_check,
            eval_env_kwargs=self.eval_env_kwargs,
            eval_env_ranks=list(eval_envs),
            eval_CollectorCls=self.eval_CollectorCls,
            eval_max_T=(self.eval_max_steps // self.eval_n_envs) if self.eval_n_envs else None,
            eval_max_trajectories=self._eval_quota(len(eval_envs)),
            eval_step_buffer_np=(
                self.eval_step_buffer_np[eval_envs[0] : eval_envs[-1] + 1]
                if self.eval_step_buffer_np is not None and eval_envs
                else None
            ),
        )

    def _eval_quota(self, n_envs):
        """This worker's share of ``eval_max_trajectories`` (in proportion to its eval envs)."""
        if self.eval_max_trajectories is None or not n_envs:
            return None
        return max(1, round(self.eval_max_trajectories * n_envs / self.eval_n_envs))

    def _worker_cpus(self, affinity):
        """One entry per worker: the CPUs it is pinned to (None: unpinned)."""
        available = (
            sorted(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (list(range(os.cpu_count() or 1)))
        )
        cpus = affinity.get("workers_cpus")
        if cpus is None:
            cpus = available
        pin = affinity.get("set_affinity", True) and affinity.get("workers_cpus") is not None
        B = self.batch_spec.B
        if len(cpus) > B:
            warnings.warn(
                f"{len(cpus)} workers for batch_B={B} envs: using {B} workers", stacklevel=3
            )
            cpus = cpus[:B]
        # An entry is one CPU id or a list of them (a worker on several cores or hyperthreads).
        return [([c] if isinstance(c, int) else list(c)) if pin else None for c in cpus]

    def _check_picklable(self):
        for name, value in (
            ("EnvCls", self.EnvCls),
            ("env_kwargs", self.env_kwargs),
            ("TrajInfoCls", self.TrajInfoCls),
        ):
            try:
                pickle.dumps(value)
            except Exception as err:  # noqa: BLE001 - any pickling failure
                raise TypeError(
                    f"{name}={value!r} cannot be pickled, which start_method="
                    f"{self.start_method!r} needs to send it to the workers ({err}); use a "
                    "module-level class or function, or start_method='fork'"
                ) from None

    # -- talking to workers -------------------------------------------------------

    def _command(self, command, itr, timeout, what, workers=None):
        """Send a command to ``workers`` (all by default) and gather their answers."""
        self._send(command, itr, workers)
        return self._gather(itr, timeout, what, workers)

    def _send(self, command, itr, workers=None):
        self._check_open()
        for w in range(len(self._conns)) if workers is None else workers:
            self._conns[w].send((command, itr))

    def _gather(self, itr, timeout, what, workers=None):
        """One answer from each of ``workers`` (all by default), or a WorkerError.

        Before raising, the sampler shuts down (every worker stopped, memory freed).
        """
        workers = range(len(self.workers)) if workers is None else workers
        results = {}
        pending = {w: self._conns[w] for w in workers}
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                w = min(pending)
                limit = "startup_timeout" if what == "start-up" else "batch_timeout"
                raise self._fail(
                    f"worker {w} (pid {self.workers[w].pid}){self._hung_env(w)} did not "
                    f"finish {describe_itr(itr, what)} within {limit}={timeout} s"
                )
            waitables = list(pending.values()) + [self.workers[w].sentinel for w in pending]
            ready = wait(waitables, timeout=remaining)
            for w in list(pending):
                conn, process = pending[w], self.workers[w]
                if conn in ready or (process.sentinel in ready and conn.poll()):
                    try:
                        status, payload = conn.recv()
                    except (EOFError, OSError):
                        raise self._fail(self._death(w, itr, what)) from None
                    if status == "error":
                        raise self._fail(self._error_message(w, itr, what, payload))
                    results[w] = payload
                    del pending[w]
                elif process.sentinel in ready:
                    raise self._fail(self._death(w, itr, what))
        return [results[w] for w in workers]

    def _hung_env(self, w) -> str:
        """``, env 3 (PongEnv) in step() at its step 17`` while worker ``w`` is inside one."""
        index, step, in_reset = (int(x) for x in self._in_step[w])
        if index < 0:
            return " (no env was inside step() or reset())"
        # EnvCls is the user's: a class, a function or e.g. a partial (no __name__).
        name = getattr(self.EnvCls, "__name__", repr(self.EnvCls))
        return f", env {index} ({name}) in {'reset' if in_reset else 'step'}() at its step {step},"

    def _error_message(self, w, itr, what, error):
        return error_message(w, self.workers[w].pid, itr, what, error)

    def _death(self, w, itr, what):
        process = self.workers[w]
        process.join(timeout=1.0)
        return death_message(w, process.pid, process.exitcode, itr, what)

    def _fail(self, message):
        self.shutdown()
        return WorkerError(message)

    def _check_open(self):
        if self._closed:
            raise RuntimeError(
                f"{type(self).__name__} used before initialize() or after shutdown()"
            )

    # -- sampling -----------------------------------------------------------------

    def obtain_samples(self, itr):
        """Collect one ``[T, B]`` batch in the workers; returns ``(samples, traj_infos)``."""
        self._check_open()
        self.agent.sync_shared_memory()
        results = self._command("collect", itr, self.batch_timeout, "collect")
        return self.samples_pyt, [info for completed in results for info in completed]

    def evaluate_agent(self, itr):
        """Evaluation episodes in the workers' eval envs; complete episodes only."""
        self._check_open()
        if not self.eval_n_envs:
            raise RuntimeError("evaluate_agent needs eval_n_envs > 0 in the sampler")
        self.agent.sync_shared_memory()
        results = self._command(
            "eval", itr, self.batch_timeout, "evaluation", workers=self._eval_workers
        )
        unfinished = sum(n for _, n in results)
        if unfinished:
            warnings.warn(
                f"evaluation at itr {itr}: {unfinished} episode(s) still running after "
                f"eval_max_steps={self.eval_max_steps} were not counted",
                stacklevel=2,
            )
        return [info for infos, _ in results for info in infos]

    # -- resume -------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Every worker's sampling state between batches (envs, RNGs, open trajectories).

        See :mod:`rlpyt.samplers.parallel.worker_state`. Envs that cannot be pickled
        are left out, with one warning: a resumed run restarts them.
        """
        states = self._command("get_state", None, self.batch_timeout, "snapshot")
        unsaved = [
            f"env {rank}: {error}"
            for state in states
            for rank, error in zip(state["env_ranks"], state["env_errors"])
            if error is not None
        ]
        if unsaved and not self._warned_unsaved:
            self._warned_unsaved = True
            warnings.warn(
                f"{len(unsaved)} env(s) cannot be saved in the snapshot ({unsaved[0]}); a "
                "resumed run restarts them and continues, but not exactly",
                stacklevel=3,
            )
        return {"workers": states}

    def load_state_dict(self, state: dict) -> None:
        """Give every worker its saved state back (after ``initialize``, before sampling)."""
        self._check_open()
        saved = [s["env_ranks"] for s in state["workers"]]
        current = self._worker_env_ranks
        if saved != current:
            warnings.warn(
                f"the snapshot's workers stepped envs {saved}, these workers step {current}: "
                "every env restarts (the run continues, but not exactly)",
                stacklevel=2,
            )
            return
        for conn, worker_state in zip(self._conns, state["workers"]):
            conn.send(("load_state", worker_state))
        restarted = sum(self._gather(None, self.batch_timeout, "resume"), [])
        if restarted:
            warnings.warn(
                f"env(s) {restarted} had no saved state in the snapshot: they restart "
                "(the run continues, but not exactly)",
                stacklevel=2,
            )

    # -- shutdown -----------------------------------------------------------------

    def shutdown(self):
        """Stop every worker (close, join, terminate, kill) and free shared memory."""
        if self._closed:
            return
        self._closed = True
        for conn in self._conns:
            try:
                conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        _join_all(self.workers, 2.0)
        for process in self.workers:
            if process.is_alive():
                process.terminate()
        _join_all(self.workers, 1.0)
        killed = [w for w, process in enumerate(self.workers) if process.is_alive()]
        for w in killed:
            self.workers[w].kill()
        # SIGKILL cannot be ignored, but a big process takes a moment to be torn down: wait
        # for it, so no worker outlives this call (and the training process) as an orphan.
        _join_all(self.workers, KILL_WAIT)
        if killed:
            left = [w for w in killed if self.workers[w].is_alive()]
            warnings.warn(
                "sampler worker(s) "
                + ", ".join(f"{w} (pid {self.workers[w].pid})" for w in killed)
                + " did not stop on SIGTERM and were killed (SIGKILL)"
                + (f"; still not gone after {KILL_WAIT} s: {left}" if left else ""),
                stacklevel=2,
            )
        for conn in self._conns:
            conn.close()
        for process in self.workers:
            if process.exitcode is not None:
                process.close()
        release_shared_memory(self.samples_np)
        release_shared_memory(self._in_step)
        release_shared_memory(self.step_buffer_np)
        release_shared_memory(self.eval_step_buffer_np)

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - interpreter teardown: best effort
            pass
