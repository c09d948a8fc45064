"""PEARL's collection and meta-test with the tasks spread over worker processes.

Each worker holds a task env and its own CPU copy of the agent (unpickled from the agent
as it was passed to :meth:`MetaCpuSampler.initialize`, then initialized on the env's
spaces). Before each collection and each meta-test the master sends the agent's current
weights (``agent.state_dict()`` as numpy, see
:func:`~rlpyt.samplers.episodes.parallel.numpy_weights`), the iteration and the items:
worker ``w`` of ``W`` gets items ``w, w + W, ...`` of the plan and runs each whole, the
posterior phase included (its agent copy infers z from the item's encoder data), then
answers with the results, which the master puts back in the plan's order. As every item
is seeded by itself (:mod:`rlpyt.samplers.meta.base`), the data are identical to
:class:`~rlpyt.samplers.meta.MetaSerialSampler`'s for the same seed, whatever the number of
workers (with one torch thread in the master too: matrix products may round differently
with more).

Processes and faults follow :mod:`rlpyt.samplers.parallel.pipes`: a worker that raises,
dies or hangs becomes a :class:`~rlpyt.samplers.parallel.errors.WorkerError` naming it,
with its traceback, raised after every worker was stopped; workers ignore SIGINT and exit
when their master is gone.
"""

import multiprocessing as mp
import pickle
from dataclasses import dataclass
from typing import Any

from rlpyt.samplers.episodes.parallel import load_numpy_weights, numpy_weights
from rlpyt.samplers.meta.base import BaseMetaSampler
from rlpyt.samplers.meta.collector import MetaCollector, MetaSchedule
from rlpyt.samplers.parallel.pipes import (
    START_METHODS,
    PipeWorkers,
    PipeWorkersOwner,
    cpu_list,
    serve_pipe,
)
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = ["MetaCpuSampler", "MetaWorkerSpec", "meta_worker_main", "serve_meta"]


@dataclass
class MetaWorkerSpec:
    """Everything one meta worker needs to build its collector."""

    rank: int
    EnvCls: Any
    env_kwargs: dict
    agent_bytes: bytes  # the pickled, not yet initialized agent
    traj_info_factory: Any
    schedule: MetaSchedule
    cpus: list | None = None

    def build(self) -> MetaCollector:
        """The worker's env and initialized agent copy, in a collector."""
        env = self.EnvCls(**self.env_kwargs)
        agent = pickle.loads(self.agent_bytes)
        agent.initialize(env.spaces, share_memory=False, global_B=1, env_ranks=[0])
        return MetaCollector(env, agent, self.traj_info_factory, self.schedule)


def serve_meta(collector: MetaCollector, command: str, argument):
    """One command of the master: ``argument`` is ``(itr, weights, min_itr_learn, items)``;
    the payload is the list of the items' results."""
    itr, weights, min_itr_learn, items = argument
    agent = collector.agent
    load_numpy_weights(agent, weights)
    agent.give_min_itr_learn(min_itr_learn)
    if command == "collect":
        agent.sample_mode(itr)
        return [collector.collect(item) for item in items]
    if command == "meta_test":
        agent.eval_mode(itr)
        return [collector.meta_test(task, seed) for task, seed in items]
    raise ValueError(f"unknown command {command!r}")


def meta_worker_main(spec: MetaWorkerSpec, conn, master_pid: int, inherited=()) -> None:
    """Entry point of a worker process (:func:`~rlpyt.samplers.parallel.pipes.serve_pipe`)."""
    serve_pipe(conn, master_pid, inherited, spec.cpus, spec.build, serve_meta, spec.env_kwargs)


class MetaCpuSampler(PipeWorkersOwner, BaseMetaSampler):
    """The meta sampler with its items run by ``n_workers`` processes (module docstring).

    Keyword arguments beyond :class:`~rlpyt.samplers.meta.base.BaseMetaSampler`'s:

    Args:
        n_workers: worker processes (default: ``len(affinity["workers_cpus"])`` when the
            affinity gives it, else 1); at most the largest number of items of one
            command (:meth:`~rlpyt.samplers.meta.base.BaseMetaSampler.max_items`: the
            training tasks at the start, ``num_tasks_sample``, the meta-tested tasks).
        start_method: ``"fork"`` (default where available), ``"spawn"`` or ``"forkserver"``.
        epoch_timeout: seconds a worker may take for one command (else: declared hung).
        startup_timeout: seconds for the workers to build their envs and agents.

    ``affinity["workers_cpus"]``: one entry (a CPU id or a list of them) per worker, which
    is pinned to it.
    """

    def __init__(self, *, n_workers=None, start_method=None, epoch_timeout=3600.0,
                 startup_timeout=60.0, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        if n_workers is not None:
            n_workers = require_int_at_least("n_workers", n_workers, 1)
            if n_workers > self.max_items():
                raise ValueError(
                    f"{type(self).__name__}: n_workers={n_workers} exceeds {self.max_items()}, "
                    "the most tasks one collection or meta-test spreads over the workers "
                    "(n_train_tasks at the start, num_tasks_sample, n_test_tasks, "
                    "n_eval_train_tasks): the others would idle; lower n_workers"
                )
        if start_method is None:
            start_method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        if start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS}, got {start_method!r}")
        self.n_workers = n_workers
        self.start_method = start_method
        require_positive("epoch_timeout", epoch_timeout)
        require_positive("startup_timeout", startup_timeout)
        self.epoch_timeout = float(epoch_timeout)
        self.startup_timeout = float(startup_timeout)
        self._pool = None  # PipeWorkers, from initialize()

    # -- start-up -----------------------------------------------------------------

    def initialize(self, agent, affinity=None, seed=None, bootstrap_value=False,
                   final_observation=True, traj_info_kwargs=None, rank=0, world_size=1):  # fmt: skip
        """Check the env and the agent here, then start the workers; returns
        :data:`~rlpyt.algos.qpg.pearl.MetaExamples`.

        Raises, before any worker starts: ``TypeError`` naming an env without tasks or what
        cannot be pickled, ``ValueError`` for an affinity with too few ``workers_cpus``.
        """
        if world_size != 1:
            raise ValueError(f"{type(self).__name__} serves one training process (world_size 1)")
        affinity = dict(affinity or {})
        cpus = affinity.get("workers_cpus")
        n_workers = self.n_workers or (len(cpus) if cpus is not None else 1)
        if cpus is not None and len(cpus) < n_workers:
            raise ValueError(f"affinity gives {len(cpus)} workers_cpus for {n_workers} workers")
        agent_bytes = self._pickled("agent", agent)  # before initialize: workers build their own
        if self.start_method != "fork":
            for name in ("EnvCls", "env_kwargs", "TrajInfoCls"):
                self._pickled(name, getattr(self, name))
        collector, examples = self.setup(agent, seed, traj_info_kwargs)
        collector.close()  # the master only needed it for the spaces, tasks and example
        specs = [
            MetaWorkerSpec(
                rank=w,
                EnvCls=self.EnvCls,
                env_kwargs=self.env_kwargs,
                agent_bytes=agent_bytes,
                traj_info_factory=self.traj_info_factory,
                schedule=self.schedule,
                cpus=None if cpus is None else cpu_list(cpus[w]),
            )
            for w in range(min(n_workers, self.max_items()))
        ]
        labels = [f"meta worker {w}" for w in range(len(specs))]
        self._pool = PipeWorkers(type(self).__name__, self.start_method, labels)
        self._pool.start(meta_worker_main, specs, "rlpyt-meta", self.startup_timeout)
        return examples

    @property
    def workers(self) -> list:
        """The worker processes (none before :meth:`initialize`)."""
        return [] if self._pool is None else self._pool.processes

    def _pickled(self, name, value) -> bytes:
        try:
            return pickle.dumps(value)
        except Exception as err:  # noqa: BLE001 - any pickling failure
            raise TypeError(
                f"{type(self).__name__}: {name}={value!r} cannot be pickled, which the workers "
                f"need ({type(err).__name__}: {err}); use module-level classes and functions"
            ) from None

    # -- running items ------------------------------------------------------------

    def run_collection(self, itr: int, work: list) -> list:
        return self._spread("collect", itr, work, "collect")

    def run_meta_test(self, itr: int, items: list) -> list:
        return self._spread("meta_test", itr, items, "meta-test")

    def _spread(self, command, itr, items, what) -> list:
        """Items ``w, w + W, ...`` to worker ``w``; the results back in the items' order."""
        if self._pool is None:
            raise RuntimeError(f"{type(self).__name__} used before initialize()")
        self._pool.check_open()
        n = len(self._pool.conns)
        weights = numpy_weights(self.agent)
        min_itr_learn = self.agent.min_itr_learn
        arguments = [(itr, weights, min_itr_learn, items[w::n]) for w in range(n)]
        answers = self._pool.command(command, arguments, itr, self.epoch_timeout, what)
        results = [None] * len(items)
        for w, answer in enumerate(answers):
            results[w::n] = answer
        return results
