"""Episode sampling in Ray actors: the parallel episode sampler's workers as Ray actors.

Each actor holds a contiguous slice of the envs and its own agent copy, exactly as a
:class:`~rlpyt.samplers.episodes.parallel.CpuEpisodeSampler` worker (same
:class:`~rlpyt.samplers.episodes.parallel.EpisodeWorkerSpec`, same collector, same
seeds), so the same seed gives the same episodes. The actors run wherever Ray places
them (``ray.init()`` on a laptop, ``ray_init_kwargs=dict(address="auto")`` on a
cluster); when Ray is not initialized, :meth:`RayEpisodeSampler.initialize` starts a
local instance and :meth:`RayEpisodeSampler.shutdown` stops it.

The machinery is the Ray step sampler's (:mod:`rlpyt.samplers.ray`):
:class:`~rlpyt.samplers.ray.pool.ActorPool` calls the actors, turns an actor's error,
death or silence into a :class:`~rlpyt.samplers.parallel.errors.WorkerError` naming it
(with its traceback), and restarts dead actors up to ``max_restarts``; the network
weights go through the object store once per version
(:class:`~rlpyt.samplers.ray.weights.WeightsBroadcast`), to actors holding an older one.
A restarted actor replays its epoch with fresh per-env agent generators, so the run
continues, but not exactly.
"""

import os
import secrets

try:
    import ray
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "RayEpisodeSampler needs Ray: install the optional extra with pip install 'rlpyt[ray]'"
    ) from err
import torch

from rlpyt.envs.model import require_model_env
from rlpyt.samplers.collections import TrajInfoFactory
from rlpyt.samplers.episodes.base import BaseEpisodeSampler
from rlpyt.samplers.episodes.parallel import (
    EpisodeWorkerSpec,
    load_numpy_weights,
    numpy_weights,
    serve,
)
from rlpyt.samplers.parallel.env_groups import make_example_env, split_envs
from rlpyt.samplers.parallel.worker import describe_error
from rlpyt.samplers.ray.pool import ActorPool
from rlpyt.samplers.ray.weights import WeightsBroadcast, load_acting_tensors
from rlpyt.utils.seed import make_seed
from rlpyt.utils.validation import require_int_at_least, require_non_negative, require_positive

__all__ = ["RayEpisodeSampler", "EpisodeActor", "ActorStates"]


class ActorStates(list):
    """The actors' sampling states, in actor order (each takes its own); short in messages."""

    def __str__(self) -> str:
        return "(the snapshot's states)"

    __repr__ = __str__


class EpisodeActor:
    """One Ray actor: the envs of ``spec.env_ranks`` and an agent copy that plays them.

    Every method answers ``(status, incarnation, payload)`` as the Ray step sampler's
    actors do (:mod:`rlpyt.samplers.ray.actor`); set-up errors are kept and reported
    by :meth:`start`. ``initial_weights``: the master's network weights (numpy), which
    the actor acts with until newer ones arrive (version 0).
    """

    def __init__(self, spec: EpisodeWorkerSpec, initial_weights: dict):
        self.rank = spec.rank
        self.version = 0
        self.collector = None
        self._setup_error = None
        self.incarnation = (os.getpid(), secrets.token_hex(8))
        torch.set_num_threads(1)
        try:
            self.collector = spec.build()
            load_numpy_weights(self.collector.agent, initial_weights)
        except BaseException as err:  # noqa: BLE001 - reported by start()
            self._setup_error = describe_error(err, env_kwargs=spec.env_kwargs)

    def start(self):
        if self._setup_error is not None:
            return "error", self.incarnation, self._setup_error
        return "ok", self.incarnation, None

    def collect(self, epoch, version, tensors):
        """Epoch ``epoch`` of this actor's envs: payload ``(episodes, traj_infos)``."""
        return self._serve("collect", epoch, version, tensors)

    def get_state(self, itr, version, tensors):
        """Payload: the agent's sampling state (its generators)."""
        return self._serve("get_state", itr, version, tensors)

    def load_state(self, states, version, tensors):
        """Load this actor's entry of ``states`` (an :class:`ActorStates`)."""
        return self._serve("load_state", states, version, tensors)

    def _serve(self, command, argument, version, tensors):
        try:
            if tensors is not None and version > self.version:
                load_acting_tensors(self.collector.agent, tensors)
                self.version = version
            if command == "collect":
                argument = (argument, None)  # the weights came above
            elif command == "load_state":
                argument = argument[self.rank]
            payload = serve(self.collector, command, argument)
        except BaseException as err:  # noqa: BLE001 - reported to the master
            return "error", self.incarnation, describe_error(err)
        return "ok", self.incarnation, payload

    def close(self):
        if self.collector is not None:
            try:
                self.collector.close()
            except Exception:  # noqa: BLE001 - closing is best effort at shutdown
                pass
        return "ok", self.incarnation, None


class RayEpisodeSampler(BaseEpisodeSampler):
    """The envs split among ``n_workers`` Ray actors, each with its own agent copy.

    Keyword arguments beyond :class:`~rlpyt.samplers.episodes.base.BaseEpisodeSampler`:

    Args:
        n_workers: actors (default: ``len(affinity["workers_cpus"])`` when the affinity
            gives it, else 1); at most ``n_envs``.
        actor_num_cpus: CPUs Ray reserves for each actor.
        actor_options: further ``ray.remote`` options of the actors.
        max_restarts: actor deaths survived in all by restarting the actor (0: an error).
        epoch_timeout: seconds an actor may take for one epoch.
        startup_timeout: seconds for the actors to start.
        ray_init_kwargs: ``ray.init`` keywords when Ray is not yet initialized.
    """

    def __init__(
        self,
        *args,
        n_workers=None,
        actor_num_cpus=1,
        actor_options=None,
        max_restarts=0,
        epoch_timeout=3600.0,
        startup_timeout=120.0,
        ray_init_kwargs=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if n_workers is not None:
            n_workers = require_int_at_least("n_workers", n_workers, 1)
            if n_workers > self.n_envs:
                raise ValueError(
                    f"{type(self).__name__}: n_workers={n_workers} exceeds n_envs={self.n_envs}: "
                    "every actor needs at least one env; lower n_workers or raise n_envs"
                )
        require_non_negative("actor_num_cpus", actor_num_cpus)
        require_positive("epoch_timeout", epoch_timeout)
        require_positive("startup_timeout", startup_timeout)
        self.n_workers = n_workers
        self.actor_num_cpus = actor_num_cpus
        self.actor_options = dict(actor_options or {})
        self.max_restarts = require_int_at_least("max_restarts", max_restarts, 0)
        self.epoch_timeout = float(epoch_timeout)
        self.startup_timeout = float(startup_timeout)
        self.ray_init_kwargs = dict(ray_init_kwargs or {})
        self.pool = None
        self.weights = None
        self.epoch = 0
        self._started_ray = False
        self._closed = True

    @property
    def actor_pids(self) -> list:
        """The process id of each actor (None before it started); kept after shutdown."""
        return [] if self.pool is None else self.pool.pids

    def initialize(self, agent, affinity=None, seed=None, traj_info_kwargs=None):
        """Check the env and the agent here, start Ray if needed, start the actors; returns None.

        Raises, before any actor starts, as
        :meth:`~rlpyt.samplers.episodes.parallel.CpuEpisodeSampler.initialize` does.
        """
        affinity = dict(affinity or {})
        self.seed = make_seed() if seed is None else int(seed)
        try:
            agent_bytes = ray.cloudpickle.dumps(agent)  # before initialize: actors build their own
        except Exception as err:  # noqa: BLE001 - any pickling failure
            raise TypeError(
                f"{type(self).__name__}: the agent {agent!r} cannot be pickled, which the "
                f"actors need ({type(err).__name__}: {err})"
            ) from None
        example_env = make_example_env(self.EnvCls, self.env_kwargs)
        try:
            require_model_env(example_env, user=type(agent).__name__)
            # share_memory marks the model as what the actors act with (WeightsBroadcast);
            # the actors get copies through the object store, never the memory itself.
            agent.initialize(
                example_env.spaces,
                share_memory=True,
                global_B=self.n_envs,
                env_ranks=list(range(self.n_envs)),
            )
        finally:
            example_env.close()
        self.agent = agent
        self.traj_info_factory = TrajInfoFactory(self.TrajInfoCls, traj_info_kwargs)
        cpus = affinity.get("workers_cpus")
        n_workers = self.n_workers or (len(cpus) if cpus is not None else 1)
        self.env_groups = split_envs(self.n_envs, min(n_workers, self.n_envs), "n_envs")
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
                share_memory=True,  # the actor's model is its shared_model: weights land there
            )
            for w, group in enumerate(self.env_groups)
        ]
        if not ray.is_initialized():
            ray.init(**self.ray_init_kwargs)
            self._started_ray = True
        self.epoch = 0
        self._closed = False
        try:
            options = dict(num_cpus=self.actor_num_cpus, max_restarts=self.max_restarts)
            options.update(self.actor_options)
            options["max_task_retries"] = 0  # a lost epoch is played again by the pool
            cluster = ray.cluster_resources().get("CPU", 0)
            if len(specs) * (options.get("num_cpus") or 0) > cluster:
                raise ValueError(
                    f"{len(specs)} Ray actors of num_cpus={options['num_cpus']} need more CPUs "
                    f"than the Ray cluster has ({cluster:g}): lower n_workers or actor_num_cpus"
                )
            self.weights = WeightsBroadcast(agent)  # version 0: the weights sent at start
            self.pool = ActorPool(
                env_groups=self.env_groups,
                max_restarts=self.max_restarts,
                startup_timeout=self.startup_timeout,
            )
            self.pool.start(ray.remote(EpisodeActor), options, specs, numpy_weights(agent))
        except BaseException:
            self.shutdown()
            raise

    def obtain_samples(self, itr):
        """Run one epoch in the actors: ``(episodes, traj_infos)`` in env order."""
        results = self._call("collect", self.epoch, "collect")
        self.epoch += 1
        episodes = [e for actor_episodes, _ in results for e in actor_episodes]
        traj_infos = [t for _, actor_infos in results for t in actor_infos]
        return episodes, traj_infos

    def state_dict(self) -> dict:
        """The epoch counter and every actor's agent generators (with the env split)."""
        states = self._call("get_state", None, "snapshot")
        return {"epoch": self.epoch, "env_groups": self.env_groups, "workers": states}

    def load_state_dict(self, state: dict) -> None:
        if state["env_groups"] != self.env_groups:
            raise ValueError(
                f"the snapshot's actors played envs {state['env_groups']}, these play "
                f"{self.env_groups}: resume with the same n_envs and n_workers"
            )
        self._call("load_state", ActorStates(state["workers"]), "resume")
        self.epoch = int(state["epoch"])

    def _call(self, method, argument, what):
        """New weights out if changed, then ``method`` on every actor; a failure shuts down."""
        if self._closed:
            raise RuntimeError(
                f"{type(self).__name__} used before initialize() or after shutdown()"
            )
        try:
            self.weights.update(ray.put)
            return self.pool.call(method, argument, self.epoch_timeout, what, None, self.weights)
        except BaseException:
            self.shutdown()
            raise

    def shutdown(self) -> None:
        """Close the actors' envs, kill every actor, stop Ray if this sampler started it."""
        if self._closed:
            return
        self._closed = True
        if self.pool is not None:
            self.pool.kill()
        if self.weights is not None:
            self.weights.release()
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - interpreter teardown: best effort
            pass
