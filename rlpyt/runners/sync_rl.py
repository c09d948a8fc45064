"""Synchronous multi-learner data-parallel training (``torch.distributed``).

``SyncRl`` runs ``world_size`` learners, one per entry of the ``affinity`` list.
The calling process is rank 0; it starts ``world_size - 1`` worker learners
(spawned processes, see below). Every learner has its own sampler and its own
copy of the agent and algorithm, and runs the same loop: sample its ``[T, B]``
batch, optimize on it. The learners stay identical because

* rank 0's parameters and buffers are broadcast to every rank before training
  (so they start equal whatever their seeds, and after a resume);
* during each ``backward`` every parameter's gradient is all-reduced and
  averaged as soon as it is accumulated (see :class:`GradientAllReduce`), so
  gradient clipping, the non-finite check and the optimizer step see the same
  gradient on every rank: the mean over ranks, which for equal per-rank batches
  and mean losses is the gradient of the loss on the combined batch;
* the batch moments (count, mean, M2) of observation-normalisation statistics
  (:class:`~rlpyt.models.running_mean_std.RunningMeanStdModel`) are gathered
  from all ranks and folded in as one batch (see :class:`ObsRmsAllReduce`).

The samplers of the ranks together form one sampler of ``world_size * B`` envs:
rank ``r`` steps the envs ``r * B ... (r + 1) * B - 1`` of that global set
(their seeds, and e.g. per-env exploration rates, follow from those global
indices), so the envs of all ranks differ.

Why not ``DistributedDataParallel`` itself: wrapping ``agent.model`` in DDP
changes the keys of its ``state_dict`` (snapshots), hides the model's own
methods (``update_obs_rms``) behind ``.module`` and makes every sampling
forward pass broadcast buffers. The per-parameter hooks do what DDP's reducer
does (average gradients during backward, NCCL on GPUs, gloo on the CPU)
without touching the agent; they are unbucketed, which costs nothing for RL's
small networks.

Only rank 0 logs and writes snapshots; at each log interval the completed
trajectories of all ranks are gathered to it. ``SyncRlEval`` evaluates on rank
0 only (the other ranks wait at their next collective).

Processes and faults. Worker learners are started with the ``spawn`` method
(forking a process that already runs torch threads can deadlock), so a script
using ``SyncRl`` needs the ``if __name__ == "__main__":`` guard. A learner that
raises reports its traceback to rank 0 and exits; one that dies (SIGKILL, OOM)
is seen by a watchdog thread in rank 0. Either way the other workers are told
to stop, rank 0's next collective fails (its peer's connection closed, or at
worst the process-group ``timeout`` expires) and ``train`` raises
:class:`LearnerError` naming the rank that failed first. An exception in rank 0
itself (or Ctrl-C, or SIGTERM's :class:`~rlpyt.runners.minibatch_rl.Preempted`)
is re-raised unchanged after every worker is stopped. Stopping a worker: rank 0
closes a pipe to it, and a thread in the worker shuts its sampler down (worker
processes, shared memory) and ends the process -- even while its main thread is
blocked in a collective, where signals would wait. The same happens when rank 0
dies. Workers ignore SIGINT; on SIGTERM they shut their sampler down and exit.
Resuming
(``resume_from``) restores the agent, optimizer and algorithm state on every
rank and the sampler and RNG state of rank 0 (the other ranks' envs restart).
"""

import datetime
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
import traceback

import torch
import torch.distributed as dist

from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.runners.minibatch_rl import MinibatchRlBase, MinibatchRlEval
from rlpyt.utils.checkpoint import find_latest_checkpoint, load_checkpoint
from rlpyt.utils.collections import AttrDict
from rlpyt.utils.logging import logger
from rlpyt.utils.seed import derive_seed, make_seed, set_seed
from rlpyt.utils.shared_memory import sweep_stale_shared_memory
from rlpyt.utils.tensor import infer_leading_dims

__all__ = [
    "SyncRl",
    "SyncRlEval",
    "SyncRlMixin",
    "LearnerError",
    "GradientAllReduce",
    "ObsRmsAllReduce",
    "broadcast_agent_state",
]

# Seconds a worker learner is given to stop by itself before it is terminated, then killed.
_JOIN_TIMEOUT = 10.0
# Seconds a stopping worker's main thread is given to finish closing before the process ends.
_STOP_GRACE = 2.0


class LearnerError(RuntimeError):
    """A worker learner of :class:`SyncRl` raised or died; the message names its rank."""

    def __init__(self, message, rank=None):
        super().__init__(message)
        self.rank = rank


# -- the synchronisation pieces ---------------------------------------------------


def _agent_modules(agent):
    """The torch modules an agent holds (its model, critics, targets), deduplicated."""
    modules, seen = [], set()
    for value in vars(agent).values():
        if isinstance(value, torch.nn.Module) and id(value) not in seen:
            seen.add(id(value))
            modules.append(value)
    return modules


class GradientAllReduce:
    """Averages every parameter's gradient over the process group during backward.

    A hook on each parameter (``register_post_accumulate_grad_hook``) all-reduces
    the gradient once it is accumulated. Every rank runs the same backward
    passes over the same graphs, so the collectives pair up in the same order.
    """

    def __init__(self, modules, world_size: int, group=None):
        self.world_size = world_size
        self.group = group
        self._handles = []
        seen = set()
        for module in modules:
            for p in module.parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    self._handles.append(p.register_post_accumulate_grad_hook(self._hook))

    def _hook(self, p):
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM, group=self.group)
        p.grad.div_(self.world_size)

    def remove(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []


class ObsRmsAllReduce:
    """Makes every ``RunningMeanStdModel`` of the modules fold in all ranks' batches.

    Each instance's ``update`` is replaced (on the instance, not the class) by
    one that gathers the batch moments ``(count, mean, M2)`` of every rank and
    folds them in as one batch (Chan et al.'s parallel formula), in rank order,
    so every rank ends with identical statistics: those of the combined batch.
    :meth:`remove` restores the original methods.
    """

    def __init__(self, modules, world_size: int, group=None):
        self.world_size = world_size
        self.group = group
        self._patched = []
        seen = set()
        for module in modules:
            for sub in module.modules():
                if isinstance(sub, RunningMeanStdModel) and id(sub) not in seen:
                    seen.add(id(sub))
                    sub.update = self._make_update(sub)
                    self._patched.append(sub)

    def _make_update(self, rms):
        @torch.no_grad()
        def update(x):
            self.update(rms, x)

        return update

    @torch.no_grad()
    def update(self, rms, x: torch.Tensor):
        """Fold this rank's batch ``x`` and every other rank's into ``rms``."""
        _, T, B, _ = infer_leading_dims(x, len(rms.shape))
        x = x.reshape(T * B, *rms.shape).to(device=rms.mean.device, dtype=torch.float64)
        n = x.shape[0]
        numel = rms.mean.numel()
        local = torch.zeros(1 + 2 * numel, dtype=torch.float64, device=rms.mean.device)
        local[0] = n
        if n > 0:
            mean = x.mean(dim=0)
            local[1 : 1 + numel] = mean.reshape(-1)
            local[1 + numel :] = ((x - mean) ** 2).sum(dim=0).reshape(-1)
        gathered = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(gathered, local, group=self.group)
        counts = torch.stack([g[0] for g in gathered])
        n_total = counts.sum()
        if float(n_total) == 0:
            return
        means = torch.stack([g[1 : 1 + numel] for g in gathered])
        m2s = torch.stack([g[1 + numel :] for g in gathered])
        batch_mean = (counts[:, None] * means).sum(dim=0) / n_total
        batch_m2 = (m2s + counts[:, None] * (means - batch_mean) ** 2).sum(dim=0)
        batch_mean = batch_mean.reshape(rms.shape)
        batch_var = (batch_m2 / n_total).reshape(rms.shape)
        # The running fold, as RunningMeanStdModel.update does it for one batch.
        total = rms.count + n_total
        delta = batch_mean - rms.mean
        m2 = rms.var * rms.count + batch_var * n_total + delta**2 * rms.count * n_total / total
        rms.mean += delta * n_total / total
        rms.var.copy_(m2 / total)
        rms.count.copy_(total)

    def remove(self):
        for rms in self._patched:
            del rms.update  # the class's method shows through again
        self._patched = []


def broadcast_agent_state(agent, src: int = 0, group=None):
    """Copy rank ``src``'s parameters and buffers into every rank's agent, in place."""
    for module in _agent_modules(agent):
        for tensor in module.state_dict(keep_vars=True).values():
            dist.broadcast(tensor.data, src=src, group=group)
    agent.sync_shared_memory()


# -- validation -------------------------------------------------------------------


def _check_affinity(affinity, world_size):
    """Per-rank affinity dicts and the backend; errors before any process starts."""
    if isinstance(affinity, dict) or not isinstance(affinity, list | tuple):
        raise TypeError(
            "SyncRl needs affinity as a list of per-learner dicts, one per rank, e.g. "
            "[dict(workers_cpus=[0]), dict(workers_cpus=[1])] or affinity_from_code(code) "
            f"with gpu_per_run > 1; got {type(affinity).__name__}"
        )
    affinity = [dict(a) for a in affinity]
    if not all(isinstance(a, dict) for a in affinity):
        raise TypeError("SyncRl: every entry of the affinity list must be a dict")
    if len(affinity) < 1:
        raise ValueError("SyncRl: the affinity list is empty; give one dict per learner")
    if world_size is not None and int(world_size) != len(affinity):
        raise ValueError(
            f"SyncRl: world_size={world_size} but the affinity list has {len(affinity)} "
            "entries: give one affinity dict per learner"
        )
    cuda = [a.get("cuda_idx") for a in affinity]
    if any(c is not None for c in cuda):
        if any(c is None for c in cuda):
            raise ValueError(
                f"SyncRl: cuda_idx {cuda} per rank: either every learner has a GPU (NCCL) "
                "or none does (gloo)"
            )
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"SyncRl: affinity asks for GPUs {cuda} but CUDA is not available; "
                "drop cuda_idx to train on the CPU with gloo"
            )
        if len(set(cuda)) != len(cuda):
            raise ValueError(
                f"SyncRl: two learners share a GPU (cuda_idx {cuda}); NCCL needs one each"
            )
        return affinity, "nccl"
    return affinity, "gloo"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the runner -------------------------------------------------------------------


class SyncRlMixin:
    """What makes a :class:`MinibatchRlBase` runner a synchronous multi-learner one.

    Args (besides those of :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`):
        affinity: a list of per-learner dicts (``cuda_idx``, ``workers_cpus``,
            ``master_cpus``, ``torch_threads``...), one per rank; its length is
            the world size.
        world_size: optional check on ``len(affinity)``.
        collective_timeout: seconds a collective may wait for a peer before it
            fails (a backstop: a peer that raises or dies is noticed sooner).
    """

    def __init__(
        self,
        algo,
        agent,
        sampler,
        n_steps,
        seed=None,
        affinity=None,
        log_interval_steps=1e5,
        resume_from=None,
        progress_bar=True,
        world_size=None,
        collective_timeout=600.0,
    ):
        affinities, backend = _check_affinity(affinity, world_size)
        if collective_timeout <= 0:
            raise ValueError(f"collective_timeout must be > 0, got {collective_timeout}")
        super().__init__(
            algo=algo,
            agent=agent,
            sampler=sampler,
            n_steps=n_steps,
            seed=seed,
            affinity=affinities[0],
            log_interval_steps=log_interval_steps,
            resume_from=resume_from,
            progress_bar=progress_bar,
        )
        self.affinities = affinities
        self.world_size = len(affinities)
        self.backend = backend
        self.collective_timeout = float(collective_timeout)
        self.rank = 0
        self._workers = []
        self._pipes = []
        self._stop_pipes = []  # closing one tells that worker to stop at once
        self._sync_hooks = []
        self._pg_owned = False
        self._failed_ranks = {}
        self._failure = None
        self._finished = False
        self.worker_pids = []
        self._watchdog = None
        self._stop_watchdog = threading.Event()
        self._failure_lock = threading.Lock()

    # -- rank 0 ---------------------------------------------------------------

    def train(self):
        """Train on every rank; returns the number of iterations done.

        Raises :class:`LearnerError` when a worker learner raised or died,
        otherwise what :meth:`MinibatchRlBase.train` raises.
        """
        self._finished = False
        self._failure = None
        try:
            n_itr = super().train()
        except Exception as err:
            if self._preempt_requested:
                # SIGTERM sent to the whole process group also stops the workers: their
                # exits are the preemption, not the error to report.
                raise self._preempted_now("stopped by SIGTERM") from err
            if self._failure is not None:
                raise self._failure from err
            raise
        if self._failure is not None:
            raise self._failure
        return n_itr

    def startup(self):
        if dist.is_available() and dist.is_initialized():
            raise RuntimeError(
                "SyncRl creates its own torch.distributed process group, but one is already "
                "initialized in this process: call dist.destroy_process_group() first"
            )
        if self.seed is None:
            self.seed = make_seed()
        self._start_workers()
        self._init_process_group(rank=0)
        return self._learner_startup()

    def _start_workers(self):
        self._init_method = f"tcp://127.0.0.1:{_free_port()}"
        ctx = multiprocessing.get_context("spawn")
        self.worker_pids = []  # of the worker learners (ranks 1...), kept after they end
        for rank in range(1, self.world_size):
            reader, writer = ctx.Pipe(duplex=False)
            stop_reader, stop_writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_worker_main,
                args=(self._worker_state(), rank, writer, stop_reader),
                name=f"SyncRl-learner-{rank}",
                daemon=False,  # they start sampler processes of their own
            )
            proc.start()
            writer.close()
            stop_reader.close()
            self._stop_pipes.append(stop_writer)
            self._workers.append(proc)
            self.worker_pids.append(proc.pid)
            self._pipes.append(reader)
        # Wait for every worker to be running (unpickled, imports done) before the
        # rendezvous, which would otherwise wait the whole timeout for a dead one.
        pending = set(range(len(self._workers)))
        deadline = time.monotonic() + self.collective_timeout
        while pending:
            if time.monotonic() > deadline:
                raise LearnerError(
                    f"SyncRl: learner ranks {sorted(i + 1 for i in pending)} did not start "
                    f"within {self.collective_timeout} s"
                )
            for i in list(pending):
                if self._pipes[i].poll(0.05):
                    message = self._pipes[i].recv()
                    if message[0] == "error":
                        raise self._learner_error(i + 1, message)
                    pending.discard(i)
                elif not self._workers[i].is_alive():
                    raise self._death_error(i + 1)
        self._stop_watchdog.clear()
        self._watchdog = threading.Thread(target=self._watch, name="SyncRl-watchdog", daemon=True)
        self._watchdog.start()

    def _worker_state(self):
        return dict(
            cls=type(self),
            algo=self.algo,
            agent=self.agent,
            sampler=self.sampler,
            n_steps=self.n_steps,
            seed=self.seed,
            affinity=self.affinities,
            log_interval_steps=self.log_interval_steps,
            resume_from=self.resume_from,
            collective_timeout=self.collective_timeout,
            init_method=self._init_method,
        )

    def _watch(self):
        """Watchdog thread: a worker that exits during training stops the others."""
        waiting = {p.sentinel: i for i, p in enumerate(self._workers)}
        while waiting and not self._stop_watchdog.is_set():
            ready = multiprocessing.connection.wait(list(waiting), timeout=0.2)
            for sentinel in ready:
                i = waiting.pop(sentinel)
                if self._stop_watchdog.is_set() or self._exit_code(i) == 0:
                    continue
                self._record_failure(i)
                for pipe in self._stop_pipes:  # their collectives would wait for the dead peer
                    pipe.close()

    def _record_failure(self, i):
        with self._failure_lock:  # the watchdog thread and the main thread both call it
            self._record_failure_locked(i)

    def _record_failure_locked(self, i):
        if i + 1 in self._failed_ranks:
            return
        message = None
        while self._pipes[i].poll():
            try:
                msg = self._pipes[i].recv()
            except (EOFError, OSError):
                break
            if msg[0] == "error":
                message = msg
        self._failed_ranks[i + 1] = (
            time.time(),
            self._learner_error(i + 1, message) if message else self._death_error(i + 1),
        )

    def _learner_error(self, rank, message):
        _, kind, text, tb, itr = message
        where = f" during itr {itr}" if itr is not None else " at start-up"
        return LearnerError(
            f"SyncRl learner rank {rank} raised {kind}{where}: {text}\n"
            f"--- traceback of rank {rank} ---\n{tb}",
            rank=rank,
        )

    def _death_error(self, rank):
        proc = self._workers[rank - 1]
        code = self._exit_code(rank - 1)
        if code is not None and code < 0:
            try:
                how = f"signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"signal {-code}"
        else:
            how = f"exit code {code}"
        return LearnerError(
            f"SyncRl learner rank {rank} (pid {proc.pid}) died with {how}", rank=rank
        )

    def _exit_code(self, i, wait=2.0):
        """Exit code of worker ``i``, which has ended (its sentinel is ready).

        Its status may not be collectable yet, and when the watchdog thread and the
        main thread both reap it, the one that loses the race reads None until the
        other has stored the code: poll a little.
        """
        proc = self._workers[i]
        deadline = time.monotonic() + wait
        while (code := proc.exitcode) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return code

    def _init_process_group(self, rank):
        dist.init_process_group(
            backend=self.backend,
            init_method=self._init_method,
            rank=rank,
            world_size=self.world_size,
            timeout=datetime.timedelta(seconds=self.collective_timeout),
        )
        self._pg_owned = True

    def shutdown(self):
        """Stop the sampler, the workers (joined, then terminated, then killed) and the group."""
        try:
            super().shutdown()
        finally:
            if self.rank == 0:
                self._stop_all_workers()
            self._teardown_group()

    def _stop_all_workers(self):
        finished = self._finished
        if not finished and self._workers:
            # Which worker failed first: its own report, or its death.
            multiprocessing.connection.wait(
                [p.sentinel for p in self._workers] + self._pipes, timeout=0.5
            )
            for i, proc in enumerate(self._workers):
                if self._pipes[i].poll() or (not proc.is_alive() and proc.exitcode != 0):
                    self._record_failure(i)
        if self._watchdog is not None:
            self._stop_watchdog.set()
            self._watchdog.join(5.0)
            self._watchdog = None
        if not finished:
            # A worker blocked in a collective would wait for rank 0 until the timeout
            # (destroying rank 0's group does not fail it): its stop thread shuts its
            # sampler down and ends it.
            for pipe in self._stop_pipes:
                pipe.close()
            self._teardown_group()
        deadline = time.monotonic() + (_JOIN_TIMEOUT if finished else _JOIN_TIMEOUT / 2)
        for proc in self._workers:
            proc.join(max(deadline - time.monotonic(), 0.05))
        for proc in self._workers:
            if proc.is_alive():  # e.g. in a long sampling phase: SIGTERM shuts it down
                proc.terminate()
                proc.join(_JOIN_TIMEOUT / 2)
            if proc.is_alive():
                proc.kill()
                proc.join(2.0)
        if any(proc.exitcode is not None and proc.exitcode < 0 for proc in self._workers):
            # A worker killed by a signal could not free its shared memory (its own
            # sampler's buffers): its segments carry its pid, which is now gone.
            sweep_stale_shared_memory()
        if finished:  # a worker that failed after the last collective
            for i, proc in enumerate(self._workers):
                if proc.exitcode != 0:
                    self._record_failure(i)
        if self._failed_ranks and self._failure is None:
            self._failure = min(self._failed_ranks.values(), key=lambda t: t[0])[1]
        for pipe in self._pipes + self._stop_pipes:
            pipe.close()
        for proc in self._workers:
            proc.close()
        self._workers, self._pipes, self._stop_pipes = [], [], []

    def _teardown_group(self):
        for hook in self._sync_hooks:
            hook.remove()
        self._sync_hooks = []
        if self._pg_owned:
            self._pg_owned = False
            try:
                dist.destroy_process_group()
            except Exception:  # noqa: BLE001 - a broken group is being discarded anyway
                pass

    # -- every rank -----------------------------------------------------------

    def _learner_startup(self):
        """Seed, initialize this rank's sampler, agent and algorithm; synchronise them."""
        self._set_affinity()
        if not ({"torch_threads", "master_torch_threads"} & self.affinity.keys()):
            # world_size learners, each with torch's default of one thread per core,
            # oversubscribe the cores and slow every collective by an order of magnitude.
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
            torch.set_num_threads(max(1, cores // self.world_size))
        set_seed(self.seed if self.rank == 0 else derive_seed(self.seed, "learner", self.rank))
        examples = self.sampler.initialize(
            agent=self.agent,
            affinity=self.affinity,
            seed=self.seed + 1,  # the same on every rank: envs are told apart by rank
            bootstrap_value=getattr(self.algo, "bootstrap_value", False),
            final_observation=getattr(self.algo, "final_observation", False),
            traj_info_kwargs=self.get_traj_info_kwargs(),
            rank=self.rank,
            world_size=self.world_size,
        )
        self.itr_batch_size = self.sampler.batch_spec.size * self.world_size
        n_itr = self._n_itr = self.get_n_itr()
        self.agent.to_device(self._cuda_idx())
        self.algo.initialize(
            agent=self.agent,
            n_itr=n_itr,
            batch_spec=self.sampler.batch_spec,
            mid_batch_reset=self.sampler.mid_batch_reset,
            examples=examples,
            world_size=self.world_size,
            rank=self.rank,
        )
        self._start_itr = 0
        if self.rank == 0:
            self.initialize_logging()
            if self.resume_from is not None:
                self._start_itr = self.load_snapshot(self.resume_from) + 1
        elif self.resume_from is not None:
            self._start_itr = self._load_learner_state(self.resume_from) + 1
        broadcast_agent_state(self.agent)
        modules = _agent_modules(self.agent)
        self._sync_hooks = [
            GradientAllReduce(modules, self.world_size),
            ObsRmsAllReduce(modules, self.world_size),
        ]
        if self.rank == 0:
            logger.log(
                f"SyncRl: {self.world_size} learners ({self.backend}), {n_itr} iterations of "
                f"{self.itr_batch_size} env steps in all (seed {self.seed}), from iteration "
                f"{self._start_itr}."
            )
        return n_itr

    def _load_learner_state(self, path) -> int:
        """A worker's share of a resume: agent, optimizer and algorithm state."""
        if os.path.isdir(path):
            found = find_latest_checkpoint(path)
            if found is None:
                raise FileNotFoundError(f"no valid snapshot (params.pkl or itr_*.pkl) in {path}")
            snapshot = found.checkpoint
        else:
            snapshot = load_checkpoint(path)
        self.agent.load_state_dict(snapshot["agent_state_dict"])
        self.algo.load_optim_state_dict(snapshot["optimizer_state_dict"])
        self.algo.load_state_dict(snapshot["algo_state_dict"])
        return snapshot["itr"]

    def _gather_traj_infos(self, traj_infos):
        """Rank 0 receives every worker's completed trajectories (list in rank order)."""
        gathered = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object([dict(info) for info in traj_infos], gathered, dst=0)
        return gathered

    def log_interval(self, itr):
        """Gather the workers' trajectories, then log (and evaluate) as the base runner does."""
        gathered = self._gather_traj_infos([])
        for infos in gathered[1:]:
            self._cum_completed_trajs += len(infos)
            if not self._eval:
                self._traj_infos.extend(AttrDict(info) for info in infos)
        super().log_interval(itr)
        if itr + 1 == self._n_itr:
            # The last collective is behind every rank: the workers now finish by themselves.
            self._finished = True

    def worker_train(self):
        """The loop of a worker learner (rank > 0): no logging, no snapshots."""
        n_itr = self._learner_startup()
        pending = []
        for itr in range(self._start_itr, n_itr):
            self._itr = itr
            self.agent.sample_mode(itr)
            samples, traj_infos = self.sampler.obtain_samples(itr)
            self.agent.train_mode(itr)
            self.algo.optimize_agent(itr, samples)
            pending.extend(traj_infos)
            if (itr + 1) % self.log_interval_itrs == 0:
                self._gather_traj_infos(pending)
                pending = []
        return n_itr


class SyncRl(SyncRlMixin, MinibatchRlBase):
    """Synchronous data-parallel :class:`~rlpyt.runners.minibatch_rl.MinibatchRl`.

    Logs the training trajectories of all ranks. See the module docstring.
    """


class SyncRlEval(SyncRlMixin, MinibatchRlEval):
    """Synchronous data-parallel :class:`~rlpyt.runners.minibatch_rl.MinibatchRlEval`.

    Evaluates on rank 0 only (its sampler needs ``eval_n_envs >= 1``).
    """

    def startup(self):
        if getattr(self.sampler, "eval_n_envs", 0) < 1:
            raise ValueError(
                "SyncRlEval needs a sampler with eval_n_envs >= 1 "
                "(and eval_max_steps); use SyncRl to log training episodes"
            )
        return SyncRlMixin.startup(self)


# -- the worker processes -----------------------------------------------------------


def _worker_main(state, rank, pipe, stop_pipe):
    """Entry point of worker learner ``rank`` (a spawned process).

    Reports ``("ready",)``, then ``("error", type, message, traceback, itr)`` if it
    fails, through ``pipe``. When rank 0 closes ``stop_pipe`` (it stops, or dies) a
    thread shuts the sampler down and ends the process, even while the main thread
    is blocked in a collective.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to rank 0, which stops us

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    runner = None
    try:
        cls = state["cls"]
        runner = cls(
            algo=state["algo"],
            agent=state["agent"],
            sampler=state["sampler"],
            n_steps=state["n_steps"],
            seed=state["seed"],
            affinity=state["affinity"],
            log_interval_steps=state["log_interval_steps"],
            resume_from=state["resume_from"],
            progress_bar=False,
            collective_timeout=state["collective_timeout"],
        )
        runner.rank = rank
        runner.affinity = runner.affinities[rank]
        runner._init_method = state["init_method"]
        runner._itr = None
        threading.Thread(
            target=_stop_on_request, args=(runner, stop_pipe), name="SyncRl-stop", daemon=True
        ).start()
        pipe.send(("ready",))
        runner._init_process_group(rank=rank)
        runner.worker_train()
    except SystemExit:
        raise
    except BaseException as err:  # noqa: BLE001 - reported to rank 0, then exit 1
        itr = getattr(runner, "_itr", None)
        try:
            pipe.send(("error", type(err).__name__, str(err), traceback.format_exc(), itr))
        except (OSError, EOFError):
            pass
        raise SystemExit(1) from None
    finally:
        _shutdown_worker(runner)
        pipe.close()


_CLOSE_LOCK = threading.Lock()


def _shutdown_worker(runner, from_thread=False):
    """Shut the worker's sampler down and leave the group (once, from either thread)."""
    with _CLOSE_LOCK:
        if runner is None or getattr(runner, "_worker_closed", False):
            return False
        runner._worker_closed = True
    if not from_thread:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
    try:
        runner.sampler.shutdown()
    except Exception:  # noqa: BLE001 - the first error has been reported already
        pass
    if not from_thread:
        runner._teardown_group()
    return True


def _stop_on_request(runner, stop_pipe):
    """Thread of a worker: on rank 0's stop (or death), clean up and end the process."""
    try:
        stop_pipe.recv()
    except (EOFError, OSError):
        pass
    if not _shutdown_worker(runner, from_thread=True):
        # The main thread is already closing (e.g. on SIGTERM): its sampler shutdown
        # comes first, but leaving the group may block while rank 0 is gone.
        time.sleep(_STOP_GRACE)
    os._exit(1)
