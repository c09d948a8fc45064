"""Synchronous multi-learner data-parallel training (``torch.distributed``).

``SyncRl`` runs ``world_size`` learners, one per entry of the ``affinity`` list.
The calling process is rank 0; it starts ``world_size - 1`` worker learners
(spawned processes, see :mod:`rlpyt.runners.sync_workers`). Every learner has
its own sampler and its own copy of the agent and algorithm, and runs the same
loop: sample its ``[T, B]`` batch, optimize on it. The learners stay identical
because (see :mod:`rlpyt.runners.distributed`)

* rank 0's parameters and buffers are broadcast to every rank before training
  (so they start equal whatever their seeds, and after a resume);
* during each ``backward`` every trained parameter's gradient (the agent's,
  and e.g. SAC's temperature, which the algorithm holds) is all-reduced and
  averaged as soon as it is accumulated (:class:`GradientAllReduce`), so
  gradient clipping, the non-finite check and the optimizer step see the same
  gradient on every rank: the mean over ranks, which for equal per-rank batches
  and mean losses is the gradient of the loss on the combined batch;
* the batch moments (count, mean, M2) of observation-normalisation statistics
  (:class:`~rlpyt.models.running_mean_std.RunningMeanStdModel`) are gathered
  from all ranks and folded in as one batch (:class:`ObsRmsAllReduce`).

The learners talk over NCCL when every one has a GPU (``cuda_idx``), over gloo
on the CPU. The samplers of the ranks together form one sampler of
``world_size * B`` envs: rank ``r`` steps the envs ``r * B ... (r + 1) * B - 1``
of that global set (their seeds, and e.g. per-env exploration rates, follow
from those global indices), so the envs of all ranks differ.

Only rank 0 logs and writes snapshots; at each log interval the completed
trajectories of all ranks are gathered to it. ``SyncRlEval`` evaluates on rank
0 only (the other ranks wait at their next collective).

Processes and faults. Worker learners are started with the ``spawn`` method
(forking a process that already runs torch threads can deadlock), so a script
using ``SyncRl`` needs the ``if __name__ == "__main__":`` guard. Each rank starts
its sampler before it joins the group, so a sampler that forks its workers
forks none of the group's threads and sockets. When a worker
raises or dies, the other workers are told to stop, rank 0's next collective
fails (its peer's connection closed, or at worst ``collective_timeout``
expires) and ``train`` raises :class:`LearnerError` naming the rank that failed
first. An exception in rank 0 itself (or Ctrl-C, or SIGTERM's
:class:`~rlpyt.runners.minibatch_rl.Preempted`) is re-raised unchanged after
every worker is stopped.

Resuming (``resume_from``) restores the agent, optimizer and algorithm state on
every rank and the sampler and RNG state of rank 0 (the other ranks' envs restart).

Replay-based algorithms keep one replay per rank, filled by that rank's sampler:
their ``min_steps_learn`` and ``replay_size`` count the steps of one rank, while
``n_steps`` and ``log_interval_steps`` count the steps of all ranks.
"""

import os
import pickle
import traceback

import torch
import torch.distributed as dist

from rlpyt.runners.distributed import (
    GradientAllReduce,
    ObsRmsAllReduce,
    agent_modules,
    broadcast_agent_state,
    free_port,
    init_process_group,
    trained_parameters,
)
from rlpyt.runners.minibatch_rl import MinibatchRlBase, MinibatchRlEval
from rlpyt.runners.sync_workers import LearnerError, WorkerLearners
from rlpyt.utils.checkpoint import find_latest_checkpoint, load_checkpoint
from rlpyt.utils.collections import AttrDict
from rlpyt.utils.logging import logger
from rlpyt.utils.seed import derive_seed, make_seed, set_seed

__all__ = [
    "SyncRl",
    "SyncRlEval",
    "SyncRlMixin",
    "LearnerError",
    "GradientAllReduce",
    "ObsRmsAllReduce",
    "broadcast_agent_state",
]


def _check_affinity(affinity, world_size):
    """Per-rank affinity dicts and the backend; errors before any process starts."""
    if isinstance(affinity, dict) or not isinstance(affinity, list | tuple):
        raise TypeError(
            "SyncRl needs affinity as a list of per-learner dicts, one per rank, e.g. "
            "[dict(workers_cpus=[0]), dict(workers_cpus=[1])] or affinity_from_code(code) "
            f"with gpu_per_run > 1; got {type(affinity).__name__}"
        )
    if not all(isinstance(a, dict) for a in affinity):
        raise TypeError("SyncRl: every entry of the affinity list must be a dict")
    affinity = [dict(a) for a in affinity]
    if len(affinity) < 1:
        raise ValueError("SyncRl: the affinity list is empty; give one dict per learner")
    if world_size is not None and int(world_size) != len(affinity):
        raise ValueError(
            f"SyncRl: world_size={world_size} but the affinity list has {len(affinity)} "
            "entries: give one affinity dict per learner"
        )
    cuda = [a.get("cuda_idx") for a in affinity]
    if all(c is None for c in cuda):
        return affinity, "gloo"
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
        raise ValueError(f"SyncRl: two learners share a GPU (cuda_idx {cuda}); NCCL needs one each")
    return affinity, "nccl"


class SyncRlMixin:
    """What makes a :class:`MinibatchRlBase` runner a synchronous multi-learner one.

    Arguments besides those of :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`:

    Args:
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
        reproducible=False,
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
            reproducible=reproducible,
        )
        self.affinities = affinities
        self.world_size = len(affinities)
        self.backend = backend
        self.collective_timeout = float(collective_timeout)
        self.rank = 0
        self.worker_pids = []  # of the worker learners (ranks 1...), kept after they end
        self._workers = None  # rank 0's WorkerLearners while training
        self._sync_hooks = []
        self._pg_owned = False
        self._failure = None
        self._finished = False
        self.init_method = None  # the process group's rendezvous address, set by train()
        self.current_itr = None  # the iteration in progress (named when a worker fails)
        self.worker_closed = False  # a worker learner's sampler and group are shut down

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
                # err is this rank's failed collective: its frames' locals hold the
                # process group, which must not outlive the run.
                traceback.clear_frames(err.__traceback__)
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
        self.init_method = f"tcp://127.0.0.1:{free_port()}"
        state = pickle.dumps(self._worker_state())  # before the sampler and agent initialize
        examples = self.start_sampler()
        self._workers = WorkerLearners(self.world_size, startup_timeout=self.collective_timeout)
        self.worker_pids = self._workers.pids
        self._workers.start(state)
        self.join_process_group(rank=0)
        return self._learner_startup(examples)

    def _worker_state(self):
        """What a worker learner is built from (see :func:`~.sync_workers.worker_main`)."""
        return dict(
            cls=type(self),
            init_method=self.init_method,
            algo=self.algo,
            agent=self.agent,
            sampler=self.sampler,
            n_steps=self.n_steps,
            seed=self.seed,
            affinity=self.affinities,
            log_interval_steps=self.log_interval_steps,
            resume_from=self.resume_from,
            collective_timeout=self.collective_timeout,
        )

    def join_process_group(self, rank):
        """Join the learners' process group as ``rank`` (at ``init_method``)."""
        init_process_group(
            self.backend, self.init_method, rank, self.world_size, self.collective_timeout
        )
        self._pg_owned = True

    def shutdown(self):
        """Stop the sampler, the workers (joined, then terminated, then killed) and the group."""
        try:
            super().shutdown()
        finally:
            if self._workers is not None:
                failure = self._workers.stop(self._finished, leave_group=self.teardown_group)
                self._workers = None
                self._failure = self._failure or failure
            self.teardown_group()

    def teardown_group(self):
        """Remove the gradient hooks and leave the process group (if this rank joined it)."""
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

    def start_sampler(self):
        """Seed and initialize this rank's sampler; returns its examples.

        Before this rank joins the group (or, on rank 0, starts the workers): a
        sampler that forks its workers then forks a process without the group's
        threads (a thread holding a lock at fork time can hang the child) and
        sockets (which would keep a dead rank's connections open).
        """
        self._set_affinity()
        given = {"torch_threads", "master_torch_threads"} & self.affinity.keys()
        if not (given or self.reproducible):
            # world_size learners, each with torch's default of one thread per core,
            # oversubscribe the cores and slow every collective by an order of magnitude.
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
            torch.set_num_threads(max(1, cores // self.world_size))
        set_seed(self.seed if self.rank == 0 else derive_seed(self.seed, "learner", self.rank))
        return self.sampler.initialize(
            agent=self.agent,
            affinity=self.affinity,
            seed=self.seed + 1,  # the same on every rank: envs are told apart by rank
            bootstrap_value=self.algo.bootstrap_value,
            final_observation=self.algo.final_observation,
            traj_info_kwargs=self.get_traj_info_kwargs(),
            rank=self.rank,
            world_size=self.world_size,
        )

    def _learner_startup(self, examples):
        """Initialize this rank's agent and algorithm (and resume); synchronise them."""
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
        self._sync_hooks = [
            GradientAllReduce(trained_parameters(self.agent, self.algo), self.world_size),
            ObsRmsAllReduce(agent_modules(self.agent), self.world_size),
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

    def worker_train(self, examples):
        """The loop of a worker learner (rank > 0; its sampler started, in the group):
        no logging, no snapshots."""
        n_itr = self._learner_startup(examples)
        pending = []
        for itr in range(self._start_itr, n_itr):
            self.current_itr = itr
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
        if self.sampler.eval_n_envs < 1:
            raise ValueError(
                "SyncRlEval needs a sampler with eval_n_envs >= 1 "
                "(and eval_max_steps); use SyncRl to log training episodes"
            )
        return SyncRlMixin.startup(self)
