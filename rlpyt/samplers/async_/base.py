"""Asynchronous sampling: a sampler process that fills a shared double buffer.

An async sampler wraps one of the synchronous samplers (serial, CPU-parallel,
GPU-parallel, alternating) and runs it in its own child process (which, for
the parallel ones, starts its own worker processes). The training process and
the sampler process share, through POSIX shared memory:

* **slots**: ``max(2, max_lead)`` ``[T, B]`` samples buffers (a double buffer by
  default). The sampler process collects a batch, copies it into a free slot,
  stamps every step of it with the version of the weights it acted with
  (``versions_np[slot]``, ``[T, B]`` int64) and sends ``("batch", itr, slot,
  traj_infos)`` down a pipe; the runner hands the slot back as free once it has
  used it (appended it to a replay, or trained on it). Sampling of the next
  batch overlaps the copy and the optimisation.
* **weights** (:class:`~rlpyt.samplers.async_.weights.SharedWeights`): the
  optimizer writes new weights with their version; the sampler process loads them
  before a batch when they are newer than its own.
* **the optimizer's progress** (``opt_itr``): the sampler process collects
  batch ``s`` only while ``s < min_itr_learn + opt_itr + max_lead``, so it
  never runs more than ``max_lead`` batches ahead of the replay ratio.

Nothing waits without a timeout: the sampler process exits when the training
process dies (parent pid check) or says stop; the runner checks the sampler
process's sentinel while it waits (see :mod:`rlpyt.runners.async_rl`).
"""

import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
import warnings

import numpy as np
import psutil
import torch

from rlpyt.samplers.async_.weights import SharedWeights
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.parallel.env_groups import make_example_env
from rlpyt.utils.buffer import torchify_buffer
from rlpyt.utils.seed import derive_seed, make_seed
from rlpyt.utils.shared_memory import (
    allocate_shared_arrays,
    release_shared_memory,
    sweep_stale_shared_memory,
)
from rlpyt.utils.signals import sigint_ignored

__all__ = ["AsyncSamplerBase", "SharedWeights", "copy_buffer"]

N_SLOTS = 2  # the double buffer (at least; max_lead slots when max_lead is larger)
_POLL = 0.05  # seconds between liveness checks while waiting


def copy_buffer(dst, src) -> None:
    """Copy every leaf of the (nested) numpy/torch buffer ``src`` into ``dst``."""
    if dst is None:
        return
    if isinstance(dst, tuple):
        for d, s in zip(dst, src):
            copy_buffer(d, s)
        return
    if isinstance(src, torch.Tensor):
        src = src.numpy()
    np.copyto(dst, src)


class AsyncSamplerBase:
    """Runs a synchronous sampler in a child process (see the module docstring).

    Args:
        SamplerCls: the synchronous sampler class run in the sampler process.
        *args: its constructor's positional arguments.
        **kwargs: its constructor's keyword arguments (the original's keywords:
            ``EnvCls``, ``env_kwargs``, ``batch_T``, ``batch_B``, ``eval_n_envs``...).
        max_lead: batches the sampler may run ahead of the optimizer (>= 1): of the replay
            ratio (:class:`~rlpyt.runners.async_rl.AsyncRl`), or of the learner, the bound
            of the rollout queue (:class:`~rlpyt.runners.actor_learner.ActorLearnerRl`).
        start_method: ``"fork"`` only (the sampler process inherits the agent,
            pipes and locks); kept as a keyword for the synchronous samplers' symmetry.
        startup_timeout: seconds for the sampler process to build its envs.
    """

    SamplerCls = None

    def __init__(self, *args, max_lead=2, start_method=None, startup_timeout=120.0, **kwargs):
        if int(max_lead) < 1:
            raise ValueError(f"max_lead must be >= 1 batch, got {max_lead!r}")
        if start_method is None:
            start_method = "fork"
        if start_method != "fork" or "fork" not in mp.get_all_start_methods():
            # The sampler process inherits the agent, the pipes and the locks by fork.
            raise ValueError(
                f"{type(self).__name__} needs start_method='fork' (got {start_method!r}; "
                f"this platform offers {mp.get_all_start_methods()}): use a synchronous "
                "sampler with MinibatchRl where fork is unavailable"
            )
        self.sampler_args = args
        self.sampler_kwargs = dict(kwargs)
        self.max_lead = int(max_lead)
        # Enough slots that the max_lead throttle, not a full set of slots, bounds the lead.
        self.n_slots = max(N_SLOTS, self.max_lead)
        self.start_method = start_method
        self.startup_timeout = float(startup_timeout)
        # Validates the settings now (D1), in this process, before anything starts.
        probe = self.SamplerCls(*args, **kwargs)
        self.batch_spec = probe.batch_spec
        self.mid_batch_reset = probe.mid_batch_reset
        self.TrajInfoCls = probe.TrajInfoCls
        self.eval_n_envs = probe.eval_n_envs
        self.EnvCls, self.env_kwargs = probe.EnvCls, probe.env_kwargs
        self.process = None
        self._workers = []
        self.conn = None
        self.buffers_np = None
        self.versions_np = None
        self.weights = None
        self._closed = True

    # -- training-process side ------------------------------------------------------

    def async_initialize(
        self,
        agent,
        affinity=None,
        seed=None,
        bootstrap_value=False,
        traj_info_kwargs=None,
        final_observation=False,
    ):
        """Build the agent, the double buffer and the shared weights; returns the examples.

        The sampler process is started later, by :meth:`start` (after the
        algorithm is initialized, so that the first weights are final).
        """
        sweep_stale_shared_memory()
        self.affinity = dict(affinity or {})
        self.seed = make_seed() if seed is None else seed
        self.bootstrap_value = bootstrap_value
        self.traj_info_kwargs = dict(traj_info_kwargs or {})
        self.final_observation = final_observation
        self.ctx = mp.get_context(self.start_method)
        example_env = make_example_env(self.EnvCls, self.env_kwargs)
        try:
            example_env.seed(derive_seed(self.seed, "example_env"))
            agent.initialize(
                example_env.spaces,
                share_memory=False,
                global_B=self.batch_spec.B,
                env_ranks=list(range(self.batch_spec.B)),
            )
            # From here on shutdown() frees what was built, whatever fails later in
            # this call or in the runner's start-up (before the sampler process starts).
            self.buffers_np, self._closed = [], False
            examples = None
            T, B = self.batch_spec
            self.versions_np = allocate_shared_arrays([((T, B), np.int64)] * self.n_slots)
            for _ in range(self.n_slots):
                _, samples_np, examples = build_samples_buffer(
                    agent, example_env, self.batch_spec, bootstrap_value,
                    examples=examples, final_observation=final_observation,
                )  # fmt: skip
                self.buffers_np.append(samples_np)
        finally:
            example_env.close()
        self.buffers_pyt = [torchify_buffer(b) for b in self.buffers_np]
        self.versions_pyt = [torchify_buffer(v) for v in self.versions_np]
        self.agent = agent
        return examples

    def start(
        self,
        n_itr: int,
        log_interval_itrs: int,
        min_itr_learn: int,
        evaluate: bool,
        start_itr: int = 0,
        opt_itr: int = 0,
        weights_version: int = 0,
    ):
        """Start the sampler process; returns once it has built its envs (or raises).

        A resumed run starts at sampler iteration ``start_itr`` with ``opt_itr``
        optimizer iterations done (the throttle's count); the first evaluation
        (``evaluate``) is made only when ``start_itr`` is 0. The agent's current
        weights are shared as version ``weights_version``.
        """
        self.weights = SharedWeights(self.agent.model, self.ctx, version=weights_version)
        self.opt_itr = self.ctx.RawValue("q", int(opt_itr))
        self.conn, child_conn = self.ctx.Pipe(duplex=True)
        self._send_lock = threading.Lock()  # the runner's two threads both send
        spec = dict(
            sampler=self, n_itr=n_itr, log_interval_itrs=log_interval_itrs,
            min_itr_learn=min_itr_learn, evaluate=evaluate, parent_pid=os.getpid(),
            start_itr=int(start_itr),
        )  # fmt: skip
        self.process = self.ctx.Process(
            target=_sampler_process, args=(spec, child_conn), name="rlpyt-async-sampler"
        )
        self._closed = False
        with sigint_ignored():  # the child inherits SIG_IGN for SIGINT
            self.process.start()
        child_conn.close()
        deadline = time.monotonic() + self.startup_timeout
        while not self.conn.poll(_POLL):
            if self.process.exitcode is not None:
                raise RuntimeError(
                    f"sampler process (pid {self.process.pid}) died at start-up with exit "
                    f"code {self.process.exitcode}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"sampler process did not finish start-up within {self.startup_timeout:g} s"
                )
        try:
            message = self.conn.recv()
        except (EOFError, ConnectionResetError):
            self.process.join(2.0)
            raise RuntimeError(
                f"sampler process (pid {self.process.pid}) died at start-up with exit "
                f"code {self.process.exitcode}"
            ) from None
        if message[0] == "error":
            raise RuntimeError(f"sampler process failed at start-up:\n{message[1]}")
        if message[0] != "ready":
            raise RuntimeError(f"sampler process sent {message[0]!r} before 'ready'")
        self._workers = _descendants(self.process.pid)  # reaped by shutdown, whatever happens

    def send(self, message) -> bool:
        """Send ``message`` to the sampler process (thread-safe); False if it has gone.

        A sampler process that has gone is reported by the runner's copier thread
        (its error message, or its exit code), not by this send.
        """
        with self._send_lock:
            try:
                self.conn.send(message)
            except (BrokenPipeError, ConnectionResetError):
                return False
        return True

    def report_progress(self, opt_itr: int) -> None:
        """The optimizer finished ``opt_itr`` iterations: the sampler may run further ahead."""
        self.opt_itr.value = opt_itr
        self.send(("progress",))

    def state_dict(self) -> None:
        """No sampling state is saved (the async runner does not resume exactly)."""
        return None

    def load_state_dict(self, state: dict) -> None:
        """Nothing to restore: see :meth:`state_dict`."""

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the sampler process (stop message, join, terminate, kill); free shared memory.

        Returns only when the sampler process and its own workers have exited (a worker
        left behind by a sampler process that was killed is killed here), so nothing
        outlives the training process as an orphan. Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        proc = self.process
        if proc is not None:
            descendants = {*self._workers, *_descendants(proc.pid)}  # before it can exit
            try:
                self.send(("stop",))
            except (OSError, ValueError):  # closed already
                pass
            proc.join(min(timeout, 2.0))  # then SIGTERM, which stops it as cleanly:
            if proc.exitcode is None:  # (one already stopping its workers ignores it)
                proc.terminate()
                proc.join(timeout)
            if proc.exitcode is None:
                proc.kill()
                proc.join(timeout)
            _reap(descendants, timeout)
            self.conn.close()
        if self.weights is not None:
            self.weights.release()
        release_shared_memory(self.buffers_np)
        release_shared_memory(self.versions_np)

    def __del__(self):
        try:
            self.shutdown(timeout=1.0)
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


def _descendants(pid: int) -> list:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _reap(processes: list, timeout: float) -> None:
    """Wait (bounded) for ``processes`` to exit; kill the ones still there, and wait again."""
    _, alive = psutil.wait_procs(list(processes), timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(alive, timeout=timeout)
    if alive:
        warnings.warn(
            "async sampler: worker process(es) "
            + ", ".join(str(p.pid) for p in alive)
            + f" still alive {2 * timeout:g} s after the sampler process exited (killed)",
            stacklevel=3,
        )


def _sampler_process(spec, conn):
    """The sampler process's main: build the synchronous sampler, then loop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the training process stops us
    signal.signal(signal.SIGTERM, _on_sigterm)  # not the runner's handler, inherited by fork
    torch.set_num_threads(1)
    owner = spec["sampler"]
    sampler = None
    try:
        sampler = owner.SamplerCls(*owner.sampler_args, **owner.sampler_kwargs)
        agent = owner.agent
        # This process acts on the CPU: a forked process cannot use the parent's CUDA,
        # and the optimizer's model (maybe on a GPU) is not ours to touch.
        agent.device = torch.device("cpu")
        agent.shared_model = None
        sampler.initialize(
            agent=agent,
            affinity=owner.affinity,
            seed=owner.seed,
            bootstrap_value=owner.bootstrap_value,
            traj_info_kwargs=owner.traj_info_kwargs,
            final_observation=owner.final_observation,
        )
        version = owner.weights.read_into(agent.model, -1)
        conn.send(("ready",))
        _sampling_loop(spec, conn, sampler, agent, version)
    except _Stop:
        if _sigterm_seen:  # e.g. the whole job preempted: the training process snapshots
            _send_quietly(conn, ("preempted",))
    except BaseException:  # noqa: BLE001 - everything goes to the training process
        # (A worker killed by the same SIGTERM is the preemption, not an error to report.)
        _send_quietly(conn, ("preempted",) if _sigterm_seen else ("error", traceback.format_exc()))
    finally:
        # A SIGTERM from now on must not cut the workers' shutdown short (orphans).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if sampler is not None:
            try:
                sampler.shutdown()
            except Exception as err:  # noqa: BLE001
                warnings.warn(
                    f"sampler shutdown in the sampler process failed: {err}", stacklevel=1
                )
        conn.close()


class _Stop(Exception):
    """The training process said stop (or died), or SIGTERM came."""


_sigterm_seen = False  # (in the sampler process)


def _on_sigterm(signum, frame):
    global _sigterm_seen
    if not _sigterm_seen:
        _sigterm_seen = True
        raise _Stop


def _send_quietly(conn, message) -> None:
    try:
        conn.send(message)
    except (OSError, ValueError):
        pass


def _sampling_loop(spec, conn, sampler, agent, version):
    owner = spec["sampler"]
    n_itr, log_interval_itrs = spec["n_itr"], spec["log_interval_itrs"]
    free = list(range(owner.n_slots))
    if spec["evaluate"] and spec["start_itr"] == 0:
        _evaluate(conn, sampler, agent, -1)
    for itr in range(spec["start_itr"], n_itr):
        _poll_parent(spec, conn, free, timeout=0)  # keep the pipe drained
        # Throttle: at most max_lead batches ahead of the optimizer, and a free slot.
        while not free or itr >= spec["min_itr_learn"] + owner.opt_itr.value + owner.max_lead:
            _poll_parent(spec, conn, free)
        version = owner.weights.read_into(agent.model, version)
        behaviour_version = version  # every step of the batch acts with these weights
        agent.sample_mode(itr)
        samples, traj_infos = sampler.obtain_samples(itr)
        slot = free.pop(0)
        copy_buffer(owner.buffers_np[slot], samples)
        owner.versions_np[slot].fill(behaviour_version)
        conn.send(("batch", itr, slot, traj_infos))
        if spec["evaluate"] and (itr + 1) % log_interval_itrs == 0:
            version = owner.weights.read_into(agent.model, version)
            _evaluate(conn, sampler, agent, itr)
    conn.send(("done",))
    while True:  # wait to be told to stop (the runner may still be optimizing)
        _poll_parent(spec, conn, free)


def _evaluate(conn, sampler, agent, itr):
    start = time.time()
    agent.eval_mode(max(itr, 0))
    traj_infos = sampler.evaluate_agent(max(itr, 0))
    conn.send(("eval", itr, traj_infos, time.time() - start))


def _poll_parent(spec, conn, free, timeout=_POLL):
    """Read every message from the training process, waiting up to ``timeout`` for the first."""
    if os.getppid() != spec["parent_pid"]:
        raise _Stop  # the training process died: exit (our workers notice us)
    wait = timeout
    while conn.poll(wait):
        wait = 0
        try:
            message = conn.recv()
        except EOFError:
            raise _Stop from None
        if message[0] == "stop":
            raise _Stop
        if message[0] == "free":
            free.append(message[1])
        # "progress": only a wake-up; the loop re-reads the shared opt_itr
