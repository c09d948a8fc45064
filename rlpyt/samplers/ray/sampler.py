"""Sampling on a Ray cluster: the CPU sampler's workers as Ray actors.

:class:`RaySampler` is a drop-in for :class:`~rlpyt.samplers.parallel.cpu.sampler.CpuSampler`
(same constructor keywords, same ``initialize / obtain_samples / evaluate_agent /
shutdown``), so :class:`~rlpyt.runners.minibatch_rl.MinibatchRl` runs it unchanged.
Its workers are Ray actors (:mod:`rlpyt.samplers.ray.actor`), each stepping its share
of the envs with its own CPU copy of the agent, placed by Ray on any node of the
cluster that has ``actor_num_cpus`` free CPUs: the same script runs on a laptop
(``ray.init()``) or a cluster (``ray.init(address="auto")``). When Ray is not
initialized yet, :meth:`RaySampler.initialize` starts a local instance
(``ray_init_kwargs``) and :meth:`RaySampler.shutdown` stops it again.

**Same samples as CpuSampler.** Envs are split over the actors as over the CPU
sampler's workers (contiguous, as even as possible) and seeded by the same rule
(``derive_seed(seed, "env", r)`` for env rank ``r``, ``"eval_env"`` for eval envs,
``"decorrelate"`` for the start-up steps), so with ``n_workers`` equal to the CPU
sampler's worker count and an agent whose actions depend only on its inputs and
its own seeded generators, the batches are identical.

**Weights** go out through the object store only when they changed since the last
put (:class:`~rlpyt.samplers.ray.weights.WeightsBroadcast`), and to an actor only
when it holds an older version.

**Faults** (:mod:`rlpyt.samplers.ray.pool`). An actor whose env raises is reported as
a :class:`~rlpyt.samplers.parallel.errors.WorkerError` naming the actor, its pid and
the env, with the actor's traceback. An actor that does not answer within
``batch_timeout`` (``startup_timeout`` at start-up) is declared hung. An actor that
dies (its process killed, its node lost) is an error, unless ``max_restarts > 0``:
then Ray restarts it (at most ``max_restarts`` times over the sampler's life), its
partial batch is dropped and the restarted actor collects its whole ``[T, B_w]``
slice of the batch again. A restarted actor starts from scratch: its envs are
rebuilt with their original seeds (and decorrelated again), its open trajectories
are lost (never reported), and it receives the current weights before collecting.
So after a restart the batch holds, in that actor's columns, the first ``T`` steps
of fresh episodes; the other columns continue as before. Every error (and
``KeyboardInterrupt``) first shuts the sampler down.

**Shutdown** (idempotent) asks each actor to close its envs, kills every actor
(``ray.kill``, no restart) and, if this sampler started Ray, stops it.
"""

import warnings

try:
    import ray
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "RaySampler needs Ray: install the optional extra with pip install 'rlpyt[ray]'"
    ) from err

from rlpyt.samplers.base import BaseSampler
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec, TrajInfoFactory
from rlpyt.samplers.parallel.cpu.collectors import CpuEvalCollector, CpuResetCollector
from rlpyt.samplers.parallel.env_groups import make_example_env, split_envs
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.samplers.parallel.worker import NAN_CHECKS
from rlpyt.samplers.ray.actor import ActorSpec, SamplerActor
from rlpyt.samplers.ray.pool import ActorPool
from rlpyt.samplers.ray.weights import WeightsBroadcast
from rlpyt.utils.seed import derive_seed, make_seed
from rlpyt.utils.validation import require_int_at_least, require_non_negative, require_positive

__all__ = ["RaySampler"]


class RaySampler(BaseSampler):
    """CPU sampling in Ray actors, each with its own CPU agent copy; see the module doc.

    Keyword arguments beyond :class:`~rlpyt.samplers.base.BaseSampler` (whose
    ``CollectorCls`` defaults to :class:`CpuResetCollector` and ``eval_CollectorCls``
    to :class:`CpuEvalCollector`, as in the CPU sampler):

    Args:
        n_workers: number of actors. Default: ``len(affinity["workers_cpus"])`` when
            the affinity gives it, else as many as the cluster's CPUs allow
            (``cluster CPUs // actor_num_cpus``); at most ``batch_B``.
        actor_num_cpus: CPUs Ray reserves for each actor (may be fractional).
        actor_options: further ``ray.remote`` options for the actors (e.g.
            ``resources``, ``scheduling_strategy``).
        max_restarts: how many actor deaths the sampler survives in total by
            restarting the actor (0: a death is an error).
        batch_timeout: seconds an actor may take for one batch or evaluation.
        startup_timeout: seconds for the actors to start, build and decorrelate
            their envs.
        nan_check: ``"raise"`` (default), ``"warn"`` or ``"off"`` for NaN/inf rewards
            and float observations.
        ray_init_kwargs: keyword arguments of ``ray.init`` when Ray is not yet
            initialized (e.g. ``dict(address="auto")`` to join a cluster).
    """

    def __init__(
        self,
        *args,
        CollectorCls=CpuResetCollector,
        eval_CollectorCls=CpuEvalCollector,
        n_workers=None,
        actor_num_cpus=1,
        actor_options=None,
        max_restarts=0,
        batch_timeout=300.0,
        startup_timeout=120.0,
        nan_check="raise",
        ray_init_kwargs=None,
        **kwargs,
    ):
        super().__init__(
            *args, CollectorCls=CollectorCls, eval_CollectorCls=eval_CollectorCls, **kwargs
        )
        if n_workers is not None:
            n_workers = require_int_at_least("n_workers", n_workers, 1)
        max_restarts = require_int_at_least("max_restarts", max_restarts, 0)
        require_non_negative("actor_num_cpus", actor_num_cpus)
        require_positive("batch_timeout", batch_timeout)
        require_positive("startup_timeout", startup_timeout)
        if nan_check not in NAN_CHECKS:
            raise ValueError(f"nan_check must be one of {NAN_CHECKS}, got {nan_check!r}")
        self.n_workers = n_workers
        self.actor_num_cpus = actor_num_cpus
        self.actor_options = dict(actor_options or {})
        self.max_restarts = int(max_restarts)
        self.batch_timeout = float(batch_timeout)
        self.startup_timeout = float(startup_timeout)
        self.nan_check = nan_check
        self.ray_init_kwargs = dict(ray_init_kwargs or {})
        self.pool = None
        self.weights = None
        self._started_ray = False
        self._closed = True

    @property
    def n_worker(self) -> int:
        """Actors running (0 before initialize and after shutdown)."""
        return 0 if self.pool is None else len(self.pool.actors)

    @property
    def n_restarts(self) -> int:
        """Actor restarts so far (at most ``max_restarts``)."""
        return 0 if self.pool is None else self.pool.n_restarts

    @property
    def actor_pids(self) -> list:
        """The process id of each actor (None before it started); kept after shutdown."""
        return [] if self.pool is None else self.pool.pids

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
        """Start Ray if needed, build the samples buffer, start the actors; returns the examples."""
        affinity = dict(affinity or {})
        self.seed = seed = make_seed() if seed is None else seed
        if not ray.is_initialized():
            ray.init(**self.ray_init_kwargs)
            self._started_ray = True
        self._closed = False
        try:
            B = self.batch_spec.B
            env_ranks = [rank * B + b for b in range(B)]
            examples = self._build_buffer(
                agent, seed, bootstrap_value, final_observation, B * world_size, env_ranks
            )
            self.traj_info_factory = TrajInfoFactory(self.TrajInfoCls, traj_info_kwargs)
            specs = self._actor_specs(
                affinity, examples, seed, bootstrap_value, final_observation, world_size, env_ranks
            )
            self._start_actors(specs)
        except BaseException:
            self.shutdown()
            raise
        return examples

    def _build_buffer(self, agent, seed, bootstrap_value, final_observation, global_B, env_ranks):
        """Initialize ``agent`` on an example env and allocate the ``[T, B]`` buffer."""
        example_env = make_example_env(self.EnvCls, self.env_kwargs)
        try:
            example_env.seed(derive_seed(seed, "example_env"))
            # share_memory marks what the workers act with (see acting_tensors); the
            # actors get copies through the object store, never the shared memory itself.
            agent.initialize(
                example_env.spaces, share_memory=True, global_B=global_B, env_ranks=env_ranks
            )
            self.samples_pyt, self.samples_np, examples = build_samples_buffer(
                agent,
                example_env,
                self.batch_spec,
                bootstrap_value,
                agent_shared=False,
                env_shared=False,
                final_observation=final_observation,
            )
        except Exception as err:
            if isinstance(err, WorkerError):
                raise
            # EnvCls is the user's: a class, a function or e.g. a partial (no __name__).
            name = getattr(self.EnvCls, "__name__", repr(self.EnvCls))
            raise WorkerError(
                f"one example step (env.reset, env.step, agent.step) of env "
                f"{name}(**{self.env_kwargs!r}) failed: {type(err).__name__}: {err}"
            ) from err
        finally:
            example_env.close()
        self.agent = agent
        self.mid_batch_reset = self.CollectorCls.mid_batch_reset
        return examples

    def _actor_specs(
        self, affinity, examples, seed, bootstrap_value, final_observation, world_size, env_ranks
    ):
        """One :class:`ActorSpec` per actor: its envs and eval envs, as the CPU sampler splits them."""
        groups = split_envs(self.batch_spec.B, self._n_actors(affinity), "batch_B")
        eval_groups = split_envs(self.eval_n_envs, len(groups), "eval_n_envs")
        eval_groups += [[] for _ in range(len(groups) - len(eval_groups))]
        self._eval_actors = [w for w, group in enumerate(eval_groups) if group]
        self._env_groups = groups
        eval_max_T = (self.eval_max_steps // self.eval_n_envs) if self.eval_n_envs else None
        return [
            ActorSpec(
                rank=w,
                env_ranks=[env_ranks[b] for b in envs],
                EnvCls=self.EnvCls,
                env_kwargs=self.env_kwargs,
                batch_spec=BatchSpec(self.batch_spec.T, len(envs)),
                examples=examples,
                bootstrap_value=bootstrap_value,
                final_observation=final_observation,
                CollectorCls=self.CollectorCls,
                traj_info_factory=self.traj_info_factory,
                global_B=self.batch_spec.B * world_size,
                seed=seed,
                max_decorrelation_steps=self.max_decorrelation_steps,
                nan_check=self.nan_check,
                eval_env_kwargs=self.eval_env_kwargs,
                eval_env_ranks=list(eval_envs),
                eval_CollectorCls=self.eval_CollectorCls,
                eval_max_T=eval_max_T,
                eval_max_trajectories=self._eval_quota(len(eval_envs)),
            )
            for w, (envs, eval_envs) in enumerate(zip(groups, eval_groups))
        ]

    def _start_actors(self, specs):
        options = dict(num_cpus=self.actor_num_cpus, max_restarts=self.max_restarts)
        options.update(self.actor_options)
        options["max_task_retries"] = 0  # a lost batch is re-collected by the pool
        _check_cluster_cpus(len(specs), options.get("num_cpus") or 0)
        # Version 0 is what the actors start with (the agent as initialized here).
        self.weights = WeightsBroadcast(self.agent)
        self.pool = ActorPool(
            env_groups=self._env_groups,
            max_restarts=self.max_restarts,
            startup_timeout=self.startup_timeout,
        )
        # Held for the sampler's life: Ray re-reads it to restart an actor.
        self._agent_ref = ray.put(self.agent)
        self.pool.start(ray.remote(SamplerActor), options, specs, self._agent_ref)

    def _n_actors(self, affinity) -> int:
        B = self.batch_spec.B
        n = self.n_workers
        if n is None and affinity.get("workers_cpus") is not None:
            n = len(affinity["workers_cpus"])
        if n is None:
            cpus = ray.cluster_resources().get("CPU", 1)
            n = max(1, int(cpus // self.actor_num_cpus)) if self.actor_num_cpus else 1
        if n > B:
            warnings.warn(f"{n} actors for batch_B={B} envs: using {B} actors", stacklevel=5)
            n = B
        return n

    def _eval_quota(self, n_envs):
        """This actor's share of ``eval_max_trajectories`` (as the CPU sampler's workers)."""
        if self.eval_max_trajectories is None or not n_envs:
            return None
        return max(1, round(self.eval_max_trajectories * n_envs / self.eval_n_envs))

    # -- sampling -----------------------------------------------------------------

    def obtain_samples(self, itr):
        """Collect one ``[T, B]`` batch in the actors; returns ``(samples, traj_infos)``.

        The samples are views of this sampler's buffer, overwritten by the next call.
        """
        results = self._call("collect", itr, "collect")
        completed = []
        for envs, (samples_np, infos) in zip(self._env_groups, results):
            self.samples_np[:, envs[0] : envs[-1] + 1] = samples_np
            completed.extend(infos)
        return self.samples_pyt, completed

    def evaluate_agent(self, itr):
        """Evaluation episodes in the actors' eval envs; complete episodes only."""
        if not self.eval_n_envs:
            raise RuntimeError("evaluate_agent needs eval_n_envs > 0 in the sampler")
        results = self._call("evaluate", itr, "evaluation", actors=self._eval_actors)
        unfinished = sum(n for _, n in results)
        if unfinished:
            warnings.warn(
                f"evaluation at itr {itr}: {unfinished} episode(s) still running after "
                f"eval_max_steps={self.eval_max_steps} were not counted",
                stacklevel=2,
            )
        return [info for infos, _ in results for info in infos]

    def _call(self, method, itr, what, actors=None):
        """The weights out if changed, then ``method`` on the actors; any failure shuts down."""
        if self._closed:
            raise RuntimeError(
                f"{type(self).__name__} used before initialize() or after shutdown()"
            )
        try:
            self.weights.update(ray.put)
            return self.pool.call(method, itr, self.batch_timeout, what, actors, self.weights)
        except BaseException:
            self.shutdown()
            raise

    # -- shutdown -----------------------------------------------------------------

    def shutdown(self):
        """Close the actors' envs, kill every actor, stop Ray if this sampler started it."""
        if self._closed:
            return
        self._closed = True
        if self.pool is not None:
            self.pool.kill()
        if self.weights is not None:
            self.weights.release()
        self._agent_ref = None
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - interpreter teardown: best effort
            pass


def _check_cluster_cpus(n_actors, num_cpus):
    """Refuse actors that together need more CPUs than the cluster has (they would wait forever)."""
    cluster = ray.cluster_resources().get("CPU", 0)
    if n_actors * num_cpus > cluster:
        raise ValueError(
            f"{n_actors} Ray actors of num_cpus={num_cpus} need {n_actors * num_cpus} CPUs, "
            f"but the Ray cluster has {cluster:g}: lower n_workers or actor_num_cpus, or add nodes"
        )
