"""Sampling on a Ray cluster: the CPU sampler's workers as Ray actors.

:class:`RaySampler` is a drop-in for :class:`~rlpyt.samplers.parallel.cpu.sampler.CpuSampler`
(same constructor keywords, same ``initialize / obtain_samples / evaluate_agent /
shutdown``), so :class:`~rlpyt.runners.minibatch_rl.MinibatchRl` runs it unchanged.
Its workers are Ray actors, placed by Ray on any node of the cluster that has
``actor_num_cpus`` free CPUs: the same script runs on a laptop (``ray.init()``) or a
cluster (``ray.init(address="auto")``). When Ray is not initialized yet,
:meth:`RaySampler.initialize` starts a local instance (``ray_init_kwargs``) and
:meth:`RaySampler.shutdown` stops it again.

**Same samples as CpuSampler.** Envs are split over the actors as over the CPU
sampler's workers (contiguous, as even as possible) and seeded by the same rule
(``derive_seed(seed, "env", r)`` for env rank ``r``, ``"eval_env"`` for eval envs,
``"decorrelate"`` for the start-up steps), so with ``n_workers`` equal to the CPU
sampler's worker count and an agent whose actions depend only on its inputs and
its own seeded generators, the batches are identical.

**Weights.** The tensors a worker acts with (:func:`~rlpyt.samplers.ray.actor.acting_tensors`:
the agent's shared CPU model, plus its other shared tensors) are put in the object
store only when they changed since the last broadcast. A change is detected from
the tensors' version counters (``Tensor._version``, bumped by every in-place write:
``optimizer.step()``, ``load_state_dict``, ``fill_``), read after
``agent.sync_shared_memory()``; tensors without one (inference tensors) are
broadcast at every batch. Each broadcast bumps a version number; the master sends
the weights to an actor only when the actor holds an older version.

**Faults.** An actor whose env raises is reported as a
:class:`~rlpyt.samplers.parallel.errors.WorkerError` naming the actor, its pid and the
env, with the actor's traceback. An actor that does not answer within
``batch_timeout`` (``startup_timeout`` at start-up) is declared hung. An actor that
dies (its process killed, its node lost) is an error, unless ``max_restarts > 0``:
then Ray restarts it (at most ``max_restarts`` times over the sampler's life), its
partial batch is dropped and the restarted actor collects its whole ``[T, B_w]``
slice of the batch again. A restarted actor starts from scratch: its envs are
rebuilt with their original seeds (and decorrelated again), its open trajectories
are lost (never reported), and it receives the current weights before collecting.
So after a restart the batch holds, in that actor's columns, the first ``T`` steps
of fresh episodes; the other columns continue as before. Every error first shuts
the sampler down.

**Shutdown** (idempotent) asks each actor to close its envs, kills every actor
(``ray.kill``, no restart) and, if this sampler started Ray, stops it.
"""

import time
import warnings

try:
    import ray
    from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "RaySampler needs Ray: install the optional extra with pip install 'rlpyt[ray]'"
    ) from err

from rlpyt.samplers.base import BaseSampler
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec
from rlpyt.samplers.parallel.base import _make_example_env, _split
from rlpyt.samplers.parallel.cpu.collectors import CpuEvalCollector, CpuResetCollector
from rlpyt.samplers.parallel.errors import WorkerError, describe_itr, error_message
from rlpyt.samplers.parallel.worker import NAN_CHECKS
from rlpyt.samplers.ray.actor import ActorSpec, SamplerActor, acting_tensors
from rlpyt.utils.seed import derive_seed, make_seed
from rlpyt.utils.validation import require_int_at_least

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
            require_int_at_least("n_workers", n_workers, 1)
        require_int_at_least("max_restarts", max_restarts, 0)
        if not actor_num_cpus >= 0:
            raise ValueError(f"actor_num_cpus must be >= 0, got {actor_num_cpus!r}")
        if nan_check not in NAN_CHECKS:
            raise ValueError(f"nan_check must be one of {NAN_CHECKS}, got {nan_check!r}")
        for name, value in (("batch_timeout", batch_timeout), ("startup_timeout", startup_timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
        self.n_workers = n_workers
        self.actor_num_cpus = actor_num_cpus
        self.actor_options = dict(actor_options or {})
        self.max_restarts = int(max_restarts)
        self.batch_timeout = float(batch_timeout)
        self.startup_timeout = float(startup_timeout)
        self.nan_check = nan_check
        self.ray_init_kwargs = dict(ray_init_kwargs or {})
        self.actors = []
        self._incarnations = []  # (pid, token) of each actor's current life
        self.n_restarts = 0  # actor restarts so far (at most max_restarts)
        self._started_ray = False
        self._closed = True

    @property
    def n_worker(self) -> int:
        return len(self.actors)

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
            return self._start(agent, affinity, seed, bootstrap_value, traj_info_kwargs,
                               final_observation, rank, world_size)  # fmt: skip
        except BaseException:
            self.shutdown()
            raise

    def _start(
        self, agent, affinity, seed, bootstrap_value, traj_info_kwargs, final_observation,
        rank, world_size,
    ):  # fmt: skip
        B = self.batch_spec.B
        groups = _split(B, self._n_actors(affinity), "batch_B")
        self._actor_env_indices = groups
        eval_groups = _split(self.eval_n_envs, len(groups), "eval_n_envs")
        eval_groups += [[] for _ in range(len(groups) - len(eval_groups))]
        self._eval_actors = [w for w, group in enumerate(eval_groups) if group]
        global_B = B * world_size
        env_ranks = [rank * B + b for b in range(B)]
        example_env = _make_example_env(self.EnvCls, self.env_kwargs)
        try:
            example_env.seed(derive_seed(seed, "example_env"))
            # share_memory marks what the workers act with (see acting_tensors); the
            # actors get copies through the object store, never the shared memory itself.
            agent.initialize(
                example_env.spaces, share_memory=True, global_B=global_B, env_ranks=env_ranks
            )
            try:
                samples_pyt, samples_np, examples = build_samples_buffer(
                    agent,
                    example_env,
                    self.batch_spec,
                    bootstrap_value,
                    agent_shared=False,
                    env_shared=False,
                    final_observation=final_observation,
                )
            except Exception as err:
                name = getattr(self.EnvCls, "__name__", repr(self.EnvCls))
                raise WorkerError(
                    f"one example step (env.reset, env.step, agent.step) of env "
                    f"{name}(**{self.env_kwargs!r}) failed: {type(err).__name__}: {err}"
                ) from err
        finally:
            example_env.close()
        if traj_info_kwargs:
            for k, v in traj_info_kwargs.items():
                setattr(self.TrajInfoCls, "_" + k, v)
        self.agent = agent
        self.samples_pyt, self.samples_np = samples_pyt, samples_np
        self.mid_batch_reset = getattr(self.CollectorCls, "mid_batch_reset", True)
        # Version 0 is what the actors start with (the agent as initialized here).
        self._weights_version = 0
        self._weights_ref = None
        self._fingerprint = _fingerprint(acting_tensors(agent))
        # Held for the sampler's life: Ray re-reads it to restart an actor.
        self._agent_ref = agent_ref = ray.put(agent)
        remote_cls = ray.remote(SamplerActor)
        options = dict(num_cpus=self.actor_num_cpus, max_restarts=self.max_restarts)
        options.update(self.actor_options)
        options["max_task_retries"] = 0  # a lost batch is re-collected by this sampler
        for w, (envs, eval_envs) in enumerate(zip(groups, eval_groups)):
            spec = ActorSpec(
                rank=w,
                env_ranks=[env_ranks[b] for b in envs],
                EnvCls=self.EnvCls,
                env_kwargs=self.env_kwargs,
                batch_spec=BatchSpec(self.batch_spec.T, len(envs)),
                examples=examples,
                bootstrap_value=bootstrap_value,
                final_observation=final_observation,
                CollectorCls=self.CollectorCls,
                TrajInfoCls=self.TrajInfoCls,
                global_B=global_B,
                seed=seed,
                max_decorrelation_steps=self.max_decorrelation_steps,
                nan_check=self.nan_check,
                traj_info_kwargs=traj_info_kwargs,
                eval_env_kwargs=self.eval_env_kwargs,
                eval_env_ranks=list(eval_envs),
                eval_CollectorCls=self.eval_CollectorCls,
                eval_max_T=(self.eval_max_steps // self.eval_n_envs) if self.eval_n_envs else None,
                eval_max_trajectories=self._eval_quota(len(eval_envs)),
            )
            self.actors.append(remote_cls.options(**options).remote(spec, agent_ref))
            self._incarnations.append(None)
        self._sent_version = [0] * len(self.actors)
        self._call_all("start", None, self.startup_timeout, "start-up")
        return examples

    def _n_actors(self, affinity) -> int:
        B = self.batch_spec.B
        n = self.n_workers
        if n is None and affinity.get("workers_cpus") is not None:
            n = len(affinity["workers_cpus"])
        if n is None:
            cpus = ray.cluster_resources().get("CPU", 1)
            n = max(1, int(cpus // self.actor_num_cpus)) if self.actor_num_cpus else 1
        if n > B:
            warnings.warn(f"{n} actors for batch_B={B} envs: using {B} actors", stacklevel=4)
            n = B
        return n

    def _eval_quota(self, n_envs):
        """This actor's share of ``eval_max_trajectories`` (as the CPU sampler's workers)."""
        if self.eval_max_trajectories is None or not n_envs:
            return None
        return max(1, round(self.eval_max_trajectories * n_envs / self.eval_n_envs))

    # -- talking to actors ----------------------------------------------------------

    def _call_all(self, method, itr, timeout, what, actors=None):
        """Call ``method`` on ``actors`` (all by default); their payloads, in order.

        Collect and evaluation calls carry the weights to actors whose version is old.
        An actor that died (seen as a failed call, or as a new incarnation answering)
        is restarted while ``n_restarts < max_restarts`` and its call made again;
        anything else raises a :class:`WorkerError` after shutdown.
        """
        actors = list(range(len(self.actors))) if actors is None else list(actors)
        pending = {self._submit(w, method, itr): w for w in actors}
        results = {}
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=max(0.0, remaining))
            if not ready:
                w = min(pending.values())
                limit = "startup_timeout" if itr is None else "batch_timeout"
                raise self._fail(
                    f"Ray actor {w} ({self._pid(w)}) did not finish "
                    f"{describe_itr(itr, what)} within {limit}={timeout} s (an env step hung?)"
                )
            ref = ready[0]
            w = pending.pop(ref)
            try:
                status, incarnation, payload = ray.get(ref)
            except RayActorError as err:
                self._restart(w, itr, what, err)
                pending[self._submit(w, method, itr)] = w
                deadline = max(deadline, time.monotonic() + self.startup_timeout)
                continue
            if method != "start" and incarnation != self._incarnations[w]:
                # Died and restarted by Ray between two calls: this answer came from
                # fresh envs with the initial weights; drop it and ask again.
                self._restart(w, itr, what, None, incarnation)
                pending[self._submit(w, method, itr)] = w
                continue
            if status == "error":
                self._incarnations[w] = incarnation
                raise self._fail(self._error_message(w, itr, what, payload))
            self._incarnations[w] = incarnation
            results[w] = payload
        return [results[w] for w in actors]

    def _submit(self, w, method, itr):
        actor = self.actors[w]
        if method == "start":
            return actor.start.remote()
        tensors = None
        if self._sent_version[w] < self._weights_version:
            tensors = self._weights_ref  # resolved by Ray before the call
            self._sent_version[w] = self._weights_version
        return getattr(actor, method).remote(itr, self._weights_version, tensors)

    def _restart(self, w, itr, what, err, incarnation=None):
        """Actor ``w`` died: an error, or (within ``max_restarts``) use its restarted self."""
        if self.n_restarts >= self.max_restarts:
            raise self._fail(self._death(w, itr, what, err))
        self.n_restarts += 1
        old = self._pid(w)
        if incarnation is None:  # wait for Ray to bring it back
            status, incarnation, payload = self._wait_restarted(w, itr, what, old)
            if status == "error":
                self._incarnations[w] = incarnation
                raise self._fail(self._error_message(w, itr, "restart", payload))
        self._incarnations[w] = incarnation
        self._sent_version[w] = 0  # the restarted actor holds the initial weights again
        warnings.warn(
            f"Ray actor {w} ({old}) died before or during {describe_itr(itr, what)}: "
            f"restarted as {self._pid(w)} (restart {self.n_restarts} of "
            f"max_restarts={self.max_restarts}); its partial batch was dropped and its envs "
            "start over",
            stacklevel=4,
        )

    def _wait_restarted(self, w, itr, what, old):
        """The restarted actor's answer to ``start`` (unavailable while Ray restarts it)."""
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                return ray.get(self.actors[w].start.remote(), timeout=max(0.1, remaining))
            except ActorUnavailableError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                err = "still restarting after startup_timeout"
            except (RayActorError, GetTimeoutError) as exc:
                err = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            raise self._fail(
                f"Ray actor {w} ({old}) died during {describe_itr(itr, what)} and could "
                f"not be restarted ({err})"
            )

    def _pid(self, w):
        incarnation = self._incarnations[w] if w < len(self._incarnations) else None
        return "pid unknown" if incarnation is None else f"pid {incarnation[0]}"

    @property
    def actor_pids(self) -> list:
        """The process id of each actor (None before it started)."""
        return [None if i is None else i[0] for i in self._incarnations]

    def _error_message(self, w, itr, what, payload):
        """As a worker process's error (env, iteration, traceback), naming the Ray actor."""
        message = error_message(w, self.actor_pids[w], itr, what, payload)
        return "Ray actor" + message[len("worker") :]

    def _death(self, w, itr, what, err):
        cause = "restarted by Ray" if err is None else _ray_cause(err)
        limit = (
            f"max_restarts={self.max_restarts} used up"
            if self.max_restarts
            else "max_restarts=0: set it to restart dead actors"
        )
        return (
            f"Ray actor {w} ({self._pid(w)}, envs {self._actor_env_indices[w]}) died during "
            f"{describe_itr(itr, what)} ({limit}): {cause}"
        )

    def _fail(self, message):
        self.shutdown()
        return WorkerError(message)

    def _check_open(self):
        if self._closed:
            raise RuntimeError(
                f"{type(self).__name__} used before initialize() or after shutdown()"
            )

    def _broadcast_if_changed(self):
        """Put the acting tensors in the object store if they changed since the last time."""
        self.agent.sync_shared_memory()
        tensors = acting_tensors(self.agent)
        fingerprint = _fingerprint(tensors)
        if fingerprint is not None and fingerprint == self._fingerprint:
            return
        self._fingerprint = fingerprint
        self._weights_version += 1
        self._weights_ref = ray.put({k: v.detach().cpu().clone() for k, v in tensors.items()})

    # -- sampling -----------------------------------------------------------------

    def obtain_samples(self, itr):
        """Collect one ``[T, B]`` batch in the actors; returns ``(samples, traj_infos)``.

        The samples are views of this sampler's buffer, overwritten by the next call.
        """
        self._check_open()
        self._broadcast_if_changed()
        results = self._call_all("collect", itr, self.batch_timeout, "collect")
        completed = []
        for envs, (samples_np, infos) in zip(self._actor_env_indices, results):
            self.samples_np[:, envs[0] : envs[-1] + 1] = samples_np
            completed.extend(infos)
        return self.samples_pyt, completed

    def evaluate_agent(self, itr):
        """Evaluation episodes in the actors' eval envs; complete episodes only."""
        self._check_open()
        if not self.eval_n_envs:
            raise RuntimeError("evaluate_agent needs eval_n_envs > 0 in the sampler")
        self._broadcast_if_changed()
        results = self._call_all(
            "evaluate", itr, self.batch_timeout, "evaluation", actors=self._eval_actors
        )
        unfinished = sum(n for _, n in results)
        if unfinished:
            warnings.warn(
                f"evaluation at itr {itr}: {unfinished} episode(s) still running after "
                f"eval_max_steps={self.eval_max_steps} were not counted",
                stacklevel=2,
            )
        return [info for infos, _ in results for info in infos]

    # -- shutdown -----------------------------------------------------------------

    def shutdown(self):
        """Close the actors' envs, kill every actor, stop Ray if this sampler started it."""
        if self._closed:
            return
        self._closed = True
        if ray.is_initialized():
            closing = [actor.close.remote() for actor in self.actors]
            if closing:
                ray.wait(closing, num_returns=len(closing), timeout=2.0)
            for actor in self.actors:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # noqa: BLE001 - already dead or Ray gone: nothing to kill
                    pass
        self.actors = []
        self._weights_ref = self._agent_ref = None
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
            self._started_ray = False

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - interpreter teardown: best effort
            pass


def _fingerprint(tensors: dict):
    """The tensors' names, storages and version counters (None: not trackable)."""
    try:
        return tuple((k, v.data_ptr(), v._version) for k, v in tensors.items())
    except RuntimeError:  # inference tensors have no version counter
        return None


def _ray_cause(err) -> str:
    """Ray's many-line actor error in short: its first line and its root cause."""
    lines = [line.strip() for line in str(err).strip().splitlines()]
    lines = [line for line in lines if line and set(line) - set("^~ ")]
    cause = f"{type(err).__name__}: {lines[0] if lines else ''}"
    if len(lines) > 1 and lines[-1] != lines[0]:
        cause += f" ... {lines[-1]}"
    if "ModuleNotFoundError" in cause or "could not be computed" in cause:
        cause += (
            " (the actor could not unpickle its env, agent or collector: are their modules "
            "importable on the Ray workers? Install them there, or pass runtime_env to ray.init)"
        )
    return cause
