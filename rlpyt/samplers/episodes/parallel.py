"""Episode sampling in worker processes: each worker plays a contiguous slice of the envs.

Each worker holds its envs and its own copy of the agent (unpickled from the agent as
it was passed to :meth:`CpuEpisodeSampler.initialize`, then initialized for the
worker's env ranks), and plays its envs' episodes in lockstep with the
:class:`~rlpyt.samplers.episodes.collector.EpisodeCollector`: the searches of a
worker's envs are batched together in that worker. Each epoch the master sends the
current network weights (``agent.state_dict()``, as numpy) and the epoch number; the
workers answer with their episodes and trajectory infos, which the master
concatenates in env order.

Protocol and faults follow :mod:`rlpyt.samplers.parallel`: one duplex pipe per
worker, every answer ``("ok", payload)`` or ``("error", summary)``; the master waits
on all pipes and all process sentinels with a deadline, so a worker that raises,
dies or hangs becomes a :class:`~rlpyt.samplers.parallel.errors.WorkerError` naming
it (with its traceback), raised after every worker was stopped. Workers ignore
SIGINT (the master stops them) and exit when their master is gone (pipe EOF, or
re-parented).
"""

import multiprocessing as mp
import pickle
from dataclasses import dataclass
from typing import Any

import torch

from rlpyt.envs.model import require_model_env
from rlpyt.samplers.collections import TrajInfoFactory
from rlpyt.samplers.episodes.base import BaseEpisodeSampler
from rlpyt.samplers.episodes.collector import make_collector
from rlpyt.samplers.parallel.env_groups import make_example_env, split_envs
from rlpyt.samplers.parallel.pipes import (
    START_METHODS,
    PipeWorkers,
    PipeWorkersOwner,
    cpu_list,
    serve_pipe,
)
from rlpyt.utils.seed import make_seed
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = [
    "CpuEpisodeSampler",
    "EpisodeWorkerSpec",
    "episode_worker_main",
    "load_numpy_weights",
    "numpy_weights",
    "serve",
]


def numpy_weights(agent) -> dict:
    """The agent's ``state_dict()`` as numpy arrays (plain pickles through pipes and Ray;
    nested dicts, e.g. one per network, stay nested)."""
    return _map_tensors(agent.state_dict(), lambda v: v.detach().cpu().numpy())


def load_numpy_weights(agent, weights: dict) -> None:
    """Load :func:`numpy_weights` of another copy of the agent into ``agent``."""
    agent.load_state_dict(_map_tensors(weights, torch.as_tensor))


def _map_tensors(tree: dict, fn) -> dict:
    return {k: _map_tensors(v, fn) if isinstance(v, dict) else fn(v) for k, v in tree.items()}


@dataclass
class EpisodeWorkerSpec:
    """Everything one episode worker (process or Ray actor) needs to build its collector."""

    rank: int
    env_ranks: list
    EnvCls: Any
    env_kwargs: dict
    agent_bytes: bytes  # the pickled, not yet initialized agent
    global_B: int
    traj_info_factory: Any
    episode_time_limit: int | None
    seed: int
    cpus: list | None = None
    share_memory: bool = False  # of the agent's model (Ray actors, see make_collector)

    def build(self):
        """Its :class:`~rlpyt.samplers.episodes.collector.EpisodeCollector` (agent included)."""
        return make_collector(
            self.EnvCls,
            self.env_kwargs,
            self.env_ranks,
            agent=pickle.loads(self.agent_bytes),
            global_B=self.global_B,
            traj_info_factory=self.traj_info_factory,
            episode_time_limit=self.episode_time_limit,
            seed=self.seed,
            share_memory=self.share_memory,
        )


def serve(collector, command, argument):
    """One command of the master to a worker's collector: the payload of its answer."""
    if command == "collect":  # argument: (epoch, numpy weights or None: keep the agent's)
        epoch, weights = argument
        if weights is not None:
            load_numpy_weights(collector.agent, weights)
        return collector.collect(epoch)
    if command == "get_state":
        return collector.agent.sampling_state_dict()
    if command == "load_state":
        collector.agent.load_sampling_state_dict(argument)
        return None
    raise ValueError(f"unknown command {command!r}")


def episode_worker_main(spec: EpisodeWorkerSpec, conn, master_pid: int, inherited=()) -> None:
    """Entry point of a worker process (see the module docstring and
    :func:`~rlpyt.samplers.parallel.pipes.serve_pipe`)."""
    serve_pipe(conn, master_pid, inherited, spec.cpus, spec.build, serve, spec.env_kwargs)


class CpuEpisodeSampler(PipeWorkersOwner, BaseEpisodeSampler):
    """The envs split among ``n_workers`` processes, each with its own agent copy.

    Keyword arguments beyond :class:`~rlpyt.samplers.episodes.base.BaseEpisodeSampler`:

    Args:
        n_workers: worker processes (default: ``len(affinity["workers_cpus"])`` when
            the affinity gives it, else 1); at most ``n_envs``. Envs are split
            contiguously, as evenly as possible.
        start_method: ``"fork"`` (default where available), ``"spawn"`` or ``"forkserver"``.
        epoch_timeout: seconds a worker may take for one epoch (else: declared hung).
        startup_timeout: seconds for the workers to build their envs and agents.

    Same seed, same episodes as :class:`~rlpyt.samplers.episodes.serial.SerialEpisodeSampler`
    for agents that draw only from their per-env generators
    (:mod:`rlpyt.agents.planning.base`). ``affinity["workers_cpus"]``: one entry (a CPU
    id or a list of them) per worker, which is pinned to it.
    """

    def __init__(
        self,
        *args,
        n_workers=None,
        start_method=None,
        epoch_timeout=3600.0,
        startup_timeout=60.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if n_workers is not None:
            n_workers = require_int_at_least("n_workers", n_workers, 1)
            if n_workers > self.n_envs:
                raise ValueError(
                    f"{type(self).__name__}: n_workers={n_workers} exceeds n_envs={self.n_envs}: "
                    "every worker needs at least one env; lower n_workers or raise n_envs"
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
        self.epoch = 0

    # -- start-up -----------------------------------------------------------------

    def initialize(self, agent, affinity=None, seed=None, traj_info_kwargs=None):
        """Check the env and the agent here, then start the workers; returns None.

        Raises, before any worker starts: :class:`~rlpyt.envs.model.CloneStateUnsupportedError`
        naming an env that cannot serve as a model (checked on one env built here),
        ``TypeError`` naming what cannot be pickled, :class:`WorkerError` for an env
        constructor that raises.
        """
        affinity = dict(affinity or {})
        self.seed = make_seed() if seed is None else int(seed)
        agent_bytes = self._pickled("agent", agent)  # before initialize: workers build their own
        if self.start_method != "fork":
            for name in ("EnvCls", "env_kwargs", "TrajInfoCls"):
                self._pickled(name, getattr(self, name))
        example_env = make_example_env(self.EnvCls, self.env_kwargs)
        try:
            require_model_env(example_env, user=type(agent).__name__)
            agent.initialize(
                example_env.spaces, global_B=self.n_envs, env_ranks=list(range(self.n_envs))
            )
        finally:
            example_env.close()
        self.agent = agent
        self.traj_info_factory = TrajInfoFactory(self.TrajInfoCls, traj_info_kwargs)
        cpus = affinity.get("workers_cpus")
        n_workers = self.n_workers or (len(cpus) if cpus is not None else 1)
        if cpus is not None and len(cpus) < n_workers:
            raise ValueError(f"affinity gives {len(cpus)} workers_cpus for {n_workers} workers")
        self.env_groups = split_envs(self.n_envs, min(n_workers, self.n_envs), "n_envs")
        self.epoch = 0
        specs = [
            EpisodeWorkerSpec(
                rank=w,
                env_ranks=group,
                EnvCls=self.EnvCls,
                env_kwargs=self.env_kwargs,
                agent_bytes=agent_bytes,
                global_B=self.n_envs,
                traj_info_factory=self.traj_info_factory,
                episode_time_limit=self.episode_time_limit,
                seed=self.seed,
                cpus=None if cpus is None else cpu_list(cpus[w]),
            )
            for w, group in enumerate(self.env_groups)
        ]
        labels = [f"envs {group}" for group in self.env_groups]
        self._pool = PipeWorkers(type(self).__name__, self.start_method, labels)
        self._pool.start(episode_worker_main, specs, "rlpyt-episodes", self.startup_timeout)

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

    # -- sampling -----------------------------------------------------------------

    def obtain_samples(self, itr):
        """Run one epoch in the workers: ``(episodes, traj_infos)`` in env order."""
        weights = numpy_weights(self.agent)
        results = self._command("collect", (self.epoch, weights), itr, self.epoch_timeout)
        self.epoch += 1
        episodes = [e for worker_episodes, _ in results for e in worker_episodes]
        traj_infos = [t for _, worker_infos in results for t in worker_infos]
        return episodes, traj_infos

    def state_dict(self) -> dict:
        """The epoch counter and every worker's agent generators (with the env split)."""
        states = self._command("get_state", None, None, self.epoch_timeout, "snapshot")
        return {"epoch": self.epoch, "env_groups": self.env_groups, "workers": states}

    def load_state_dict(self, state: dict) -> None:
        if state["env_groups"] != self.env_groups:
            raise ValueError(
                f"the snapshot's workers played envs {state['env_groups']}, these play "
                f"{self.env_groups}: resume with the same n_envs and n_workers"
            )
        self._pool_or_error().command("load_state", state["workers"], None,
                                      self.epoch_timeout, "resume")  # fmt: skip
        self.epoch = int(state["epoch"])

    # -- talking to workers -------------------------------------------------------

    def _command(self, command, argument, itr, timeout, what="collect"):
        pool = self._pool_or_error()
        return pool.command(command, [argument] * len(pool.conns), itr, timeout, what)

    def _pool_or_error(self) -> PipeWorkers:
        if self._pool is None:
            raise RuntimeError(f"{type(self).__name__} used before initialize()")
        self._pool.check_open()
        return self._pool
