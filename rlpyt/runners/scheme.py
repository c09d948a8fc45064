"""Decoupled collection / gradient / update training on Ray (a Nappo / PyTorchRL-style scheme).

::

    collection workers (N)        gradient workers (M)             update stage
    envs + policy copy   --rollouts-->  loss -> gradient   --gradients-->  central learner
    C_0 ... C_{N/M-1}  ----------->  G_0                 ---------->  (averages, applies,
    ...                  collection  ...                  update       puts weights once)
    C_{N-N/M} ... C_{N-1} -------->  G_{M-1}             link         or decentralised:
                         link                                          G_i all-reduce (gloo)
         <------------------ weights (object store, one put per version) ---------------

:class:`SchemeConfig` chooses N (``collection_workers``), M (``gradient_workers``), the
update stage (``update_stage``: ``central`` or ``decentralised``), and each link
(``collection``, ``update``: ``sync`` or ``async``); see
:mod:`rlpyt.runners.scheme_workers` and :mod:`rlpyt.runners.scheme_update` for what each
mode does. Any algorithm with IMPALA's interface (``loss_terms(samples, valid)``,
``minibatch_columns``: :class:`~rlpyt.algos.pg.impala.IMPALA`, APPO) and any PG agent
work unchanged; V-trace corrects the lag of asynchronous modes.

**Placement.** Each collection worker is a Ray actor of ``collection_num_cpus`` CPUs
holding ``sampler.batch_spec.B`` envs, stepped in the actor or, with ``env_processes`` =
k, in k env processes it starts (give it the CPUs for them); each gradient worker one of
``gradient_num_cpus`` CPUs and ``gradient_num_gpus`` (fractional) GPUs. A placement
group holds one bundle per gradient worker with the resources of it and its collection
workers (``placement_strategy``: ``PACK`` keeps bundles on few nodes, ``SPREAD`` spreads
them; None: no placement group). ``remote=False`` runs every worker as a plain object
in this process (debug mode; no Ray). Ray is started with ``ray_init_kwargs``, joining
the cluster of ``RAY_ADDRESS`` when that is set, unless it is already initialized.

**Faults.** A worker that raises, dies or hangs (``rollout_timeout``) ends training
with a :class:`~rlpyt.samplers.parallel.errors.WorkerError` naming it (a collection
worker's error reaches the driver through its gradient worker, which names it), unless a
dead collection worker can be restarted (``max_restarts``, per gradient worker): then
its rollout is collected again by the restarted actor. Shutdown kills every actor and
removes the placement group.

The runner is a :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`: one iteration is
one update; logging, snapshots and SIGTERM behave as there. A resumed run continues
from the snapshot's weights, optimizer, schedules, counters and RNG states with fresh
workers, whose envs restart (not bit-for-bit as the uninterrupted run). ``sampler`` only carries the
collection settings (``EnvCls``, ``env_kwargs``, ``batch_T``, ``batch_B`` = envs per
collection worker, ``max_decorrelation_steps``, ``TrajInfoCls``); it is never started.
"""

import copy
import signal
import threading
import time
from collections import Counter, defaultdict

import numpy as np

from rlpyt.algos.pg.impala import IMPALA
from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.runners.minibatch_rl import MinibatchRlBase
from rlpyt.runners.scheme_config import SchemeConfig
from rlpyt.runners.scheme_placement import actor_options, make_placement_group, start_ray
from rlpyt.runners.scheme_update import CentralUpdate, DecentralisedUpdate, forget_old_versions
from rlpyt.runners.scheme_workers import GradientWorker
from rlpyt.samplers.buffer import get_example_outputs
from rlpyt.samplers.collections import BatchSpec, TrajInfoFactory
from rlpyt.samplers.parallel.env_groups import make_example_env
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.samplers.ray.collection import CollectionSpec, CollectionWorker
from rlpyt.utils.logging import logger
from rlpyt.utils.seed import derive_seed, make_seed, set_seed
from rlpyt.utils.signals import sigint_ignored

__all__ = ["SchemeConfig", "SchemeRl"]


class SchemeRl(MinibatchRlBase):
    """Trains with the scheme of ``scheme`` (a :class:`SchemeConfig`); see the module doc.

    Args: those of :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`, plus ``scheme``.

    Attributes after :meth:`train`: ``lag_histogram`` (policy lag -> valid samples,
    whole run), ``staleness_histogram`` (gradient staleness -> gradients),
    ``round_seconds`` (collection time of each gradient-worker batch), ``min_valid_steps``
    (fewest valid steps of a rollout, per batch), ``loop_seconds`` (the training loop,
    after start-up), ``collection_pids``, ``env_process_pids`` (of the collection workers'
    env processes), ``gradient_pids``, ``weights_puts`` (weights version -> objects put in
    the object store: 1 each), ``weights_received`` (weights version -> the published
    objects the rollouts trained on were collected with: one each; both for the last
    :data:`~rlpyt.runners.scheme_update.RECENT_VERSIONS` versions or more); ``valid_steps``
    counts the env steps trained on.
    """

    def __init__(self, algo, agent, sampler, n_steps, scheme: SchemeConfig, **kwargs):
        kwargs.setdefault("progress_bar", False)
        super().__init__(algo, agent, sampler, n_steps, **kwargs)
        if not isinstance(scheme, SchemeConfig):
            raise TypeError(f"scheme must be a SchemeConfig, got {type(scheme).__name__}")
        if not isinstance(algo, IMPALA):
            raise TypeError(
                f"SchemeRl needs an algorithm with IMPALA's loss_terms(samples, valid) and "
                f"minibatch_columns (IMPALA, APPO), got {type(algo).__name__}"
            )
        if scheme.env_processes > sampler.batch_spec.B:
            raise ValueError(
                f"scheme env_processes={scheme.env_processes} exceeds the "
                f"{sampler.batch_spec.B} envs of each collection worker (sampler batch_B): "
                "each env process steps at least one env; lower env_processes or raise batch_B"
            )
        self.scheme = scheme
        self.collectors, self.gradient_workers = [], []
        self.collection_pids, self.env_process_pids, self.gradient_pids = [], [], []
        self._placement_group = None
        self._started_ray = False
        self.stage = None
        self.loop_seconds = float("nan")

    # -- the loop -----------------------------------------------------------------

    def train(self):
        """Run the training; returns the number of updates (see MinibatchRlBase.train)."""
        self.completed_itr = self._saved_itr = None
        self._preempt_requested = self._in_shutdown = False
        with self._signal_handlers():
            try:
                n_itr = self.startup()
                self.completed_itr = self._saved_itr = self._start_itr - 1
                loop_start = time.perf_counter()
                for itr in range(self._start_itr, n_itr):
                    with logger.prefix(f"itr #{itr} "):
                        step_start = time.perf_counter()
                        report = self.stage.step(itr)
                        # The driver's wait for each update (CumTrainTime, UpdatesPerSecond).
                        self._interval_train_time += time.perf_counter() - step_start
                        self.store_report(itr, report)
                        if (itr + 1) % self.log_interval_itrs == 0:
                            self.log_interval(itr)
                    self.completed_itr = itr
                    if self._preempt_requested:
                        self._preempt(itr)
                self.loop_seconds = time.perf_counter() - loop_start
            except WorkerError as err:
                if self._preempt_requested:
                    # SIGTERM sent to a whole process group also stops workers: their
                    # deaths are the preemption, not the error to report.
                    raise self._preempted_now("stopped by SIGTERM") from err
                raise
            finally:
                self._in_shutdown = True
                self.shutdown()
        return n_itr

    # -- start-up ---------------------------------------------------------------

    def startup(self):
        self._set_affinity()  # the driver's torch threads (runner affinity)
        if self.seed is None:
            self.seed = make_seed()
        set_seed(self.seed)
        scheme, sampler = self.scheme, self.sampler
        T, B_w = sampler.batch_spec
        examples = self._initialize_agent(scheme.collection_workers * B_w)
        k = sum(1 for _ in self.algo.minibatch_columns(B_w * self._per_gradient_worker))
        batches_per_update = 1 if self._central_async else scheme.gradient_workers
        self.itr_batch_size = max(1, batches_per_update * self._per_gradient_worker * B_w * T // k)
        n_itr = self.get_n_itr()
        self.algo.initialize(
            self.agent, n_itr, BatchSpec(T, B_w * self._per_gradient_worker), True, examples
        )
        self._initialize_scheme_logging()
        self._start_itr = 0
        if self.resume_from is not None:
            self._start_itr = self.load_snapshot(self.resume_from) + 1
        self._start_workers(examples, n_itr)
        Stage = CentralUpdate if scheme.update_stage == "central" else DecentralisedUpdate
        self.stage = Stage(
            self.agent,
            self.algo,
            self.gradient_workers,
            scheme.update,
            scheme.remote,
            scheme.rollout_timeout + scheme.startup_timeout,
        )
        self.stage.start()
        logger.log(
            f"Scheme: {scheme.collection_workers} collection / {scheme.gradient_workers} "
            f"gradient workers, {scheme.update_stage} update, collection {scheme.collection}, "
            f"update {scheme.update}; {n_itr} updates of ~{self.itr_batch_size} env steps "
            f"(seed {self.seed}), from update {self._start_itr}."
        )
        return n_itr

    @property
    def _per_gradient_worker(self) -> int:
        return self.scheme.collection_workers // self.scheme.gradient_workers

    @property
    def _central_async(self) -> bool:
        return self.scheme.update_stage == "central" and self.scheme.update == "async"

    def _initialize_agent(self, global_B):
        """Initialize the agent on an example env; the examples the buffers are built from."""
        sampler = self.sampler
        env = make_example_env(sampler.EnvCls, sampler.env_kwargs)
        try:
            env.seed(derive_seed(self.seed, "example_env"))
            self.agent.initialize(env.spaces, share_memory=False, global_B=global_B)
            examples = get_example_outputs(self.agent, env)
        finally:
            env.close()
        if any(isinstance(m, RunningMeanStdModel) for m in self.agent.model.modules()):
            raise ValueError(
                "SchemeRl does not update observation-normalisation statistics "
                "(RunningMeanStdModel in the model): build the model without normalisation"
            )
        if self.scheme.preempts and "timeout" not in getattr(examples["env_info"], "_fields", ()):
            raise ValueError(
                "straggler pre-emption ends shortened rollouts like a time-limit cut, which "
                "needs env_info.timeout: wrap the env with GymEnvWrapper (gym_make) or set "
                "fraction_workers = fraction_samples = 1"
            )
        return examples

    def _start_workers(self, examples, n_itr):
        """Start Ray (if remote), the placement group, the collection and gradient workers."""
        scheme, sampler = self.scheme, self.sampler
        T, B_w = sampler.batch_spec
        traj_info_factory = TrajInfoFactory(sampler.TrajInfoCls, self.get_traj_info_kwargs())
        if scheme.remote:
            self._start_ray()
        per = self._per_gradient_worker
        for g in range(scheme.gradient_workers):
            collectors = []
            for c in range(g * per, (g + 1) * per):
                spec = CollectionSpec(
                    rank=c,
                    env_ranks=list(range(c * B_w, (c + 1) * B_w)),
                    EnvCls=sampler.EnvCls,
                    env_kwargs=sampler.env_kwargs,
                    batch_spec=BatchSpec(T, B_w),
                    examples=examples,
                    traj_info_factory=traj_info_factory,
                    global_B=scheme.collection_workers * B_w,
                    seed=self.seed + 1,
                    max_decorrelation_steps=sampler.max_decorrelation_steps,
                    nan_check=scheme.nan_check,
                    env_processes=scheme.env_processes,
                    env_start_method=scheme.env_start_method,
                    env_step_timeout=scheme.rollout_timeout,
                    startup_timeout=scheme.startup_timeout,
                )
                collectors.append(self._new_collector(g, spec))
            self.collectors.extend(collectors)
            self.gradient_workers.append(self._new_gradient_worker(g, collectors, examples, n_itr))
        from rlpyt.runners.scheme_calls import fetch_within, submit

        refs = [submit(w, "start") for w in self.gradient_workers]
        for g, ref in enumerate(refs):
            started = fetch_within(ref, f"gradient worker {g}", scheme.startup_timeout)
            self.collection_pids.extend(pid for pid, _token, _env_pids in started)
            self.env_process_pids.extend(pid for *_, env_pids in started for pid in env_pids)
        refs = [submit(w, "pid") for w in self.gradient_workers]
        self.gradient_pids = [fetch_within(r, "gradient worker", 60.0) for r in refs]
        if scheme.update_stage == "decentralised" and scheme.gradient_workers > 1:
            address = fetch_within(
                submit(self.gradient_workers[0], "rendezvous_address"), "gradient worker 0", 60.0
            )
            refs = [
                submit(w, "join_group", address, scheme.gradient_workers, scheme.collective_timeout)
                for w in self.gradient_workers
            ]
            for g, ref in enumerate(refs):
                fetch_within(ref, f"gradient worker {g}", scheme.collective_timeout)

    def _start_ray(self):
        if start_ray(self.scheme.ray_init_kwargs):
            self._started_ray = True
            if threading.current_thread() is threading.main_thread():
                # ray.init replaced the SIGTERM handler (with sys.exit): this runner's again.
                signal.signal(signal.SIGTERM, self._on_sigterm)
        self._placement_group = make_placement_group(self.scheme, self._per_gradient_worker)

    def _actor_options(self, g: int, num_cpus: float) -> dict:
        return actor_options(self._placement_group, g, num_cpus)

    def _new_collector(self, g, spec):
        if not self.scheme.remote:
            return CollectionWorker(spec, copy.deepcopy(self.agent))
        import ray

        options = self._actor_options(g, self.scheme.collection_num_cpus)
        options.update(max_concurrency=2, max_restarts=self.scheme.max_restarts, max_task_retries=0)
        return ray.remote(CollectionWorker).options(**options).remote(spec, self.agent)

    def _new_gradient_worker(self, g, collectors, examples, n_itr):
        kwargs = dict(
            index=g,
            agent=self.agent,
            algo=self.algo,
            collectors=collectors,
            config=self.scheme,
            batch_T=self.sampler.batch_spec.T,
            envs_per_worker=self.sampler.batch_spec.B,
            examples=examples,
            n_itr=n_itr,
            seed=derive_seed(self.seed, "gradient_worker", g),
        )
        if not self.scheme.remote:
            # One deep copy of both: the algorithm's agent is the worker's agent.
            kwargs["agent"], kwargs["algo"] = copy.deepcopy((self.agent, self.algo))
            return GradientWorker(**kwargs)
        import ray

        options = self._actor_options(g, self.scheme.gradient_num_cpus)
        if self.scheme.gradient_num_gpus:
            options["num_gpus"] = self.scheme.gradient_num_gpus
            kwargs["cuda_idx"] = 0  # Ray makes the actor's GPU the only visible one
        return ray.remote(GradientWorker).options(**options).remote(**kwargs)

    # -- diagnostics ------------------------------------------------------------

    def _initialize_scheme_logging(self):
        self.initialize_logging()
        self.lag_histogram, self.staleness_histogram = Counter(), Counter()
        self.weights_received = defaultdict(set)
        self.round_seconds, self.min_valid_steps = [], []
        self._interval_staleness = Counter()
        self._cum_valid_steps = self._interval_valid_steps = 0
        self._interval_shortened = 0

    def store_report(self, itr, report):
        """Fold one update's report into the diagnostics (and the run's histograms)."""
        opt_info = self.algo.empty_opt_info()
        for info in report.opt_infos:
            for key in ("loss", "entropy", "perplexity", "rho"):
                getattr(opt_info, key).append(info[key])
        opt_info.gradNorm.append(report.grad_norm)
        opt_info.skipped.append(0.0 if report.applied else 1.0)
        self.store_diagnostics(itr, report.traj_infos, opt_info)
        self.lag_histogram.update(report.lag)
        self._policy_lag.add(report.lag)
        self.staleness_histogram.update(report.staleness)
        self._interval_staleness.update(report.staleness)
        self.round_seconds.extend(report.collect_seconds)
        self.min_valid_steps.extend(report.min_valid_steps)
        for version, ids in report.weights_ids.items():
            self.weights_received[version] |= ids
        if report.weights_ids:
            forget_old_versions(self.weights_received, max(report.weights_ids))
        self._cum_valid_steps += report.n_steps
        self._interval_valid_steps += report.n_steps
        self._interval_shortened += report.n_shortened

    @property
    def weights_puts(self) -> Counter:
        """Weights version -> objects put in the object store (the update stage's count)."""
        return self.stage.puts

    @property
    def valid_steps(self) -> int:
        """Valid env steps collected and trained on so far."""
        return self._cum_valid_steps

    def log_diagnostics(self, itr, eval_traj_infos=None, eval_time=0.0):
        """MinibatchRlBase's row (with the policy lag's columns and histogram) plus
        gradient staleness and valid steps."""
        values = np.array(sorted(self._interval_staleness.elements()) or [np.nan], dtype=float)
        logger.record_tabular("StalenessMin", values.min())
        logger.record_tabular("StalenessMean", values.mean())
        logger.record_tabular("StalenessMax", values.max())
        logger.record_tabular("CumValidSteps", self._cum_valid_steps)
        logger.record_tabular("ShortenedRollouts", self._interval_shortened)
        self._interval_staleness = Counter()
        self._interval_valid_steps = self._interval_shortened = 0
        super().log_diagnostics(itr, eval_traj_infos, eval_time)

    def get_itr_snapshot(self, itr) -> dict:
        self.stage.sync_driver()  # decentralised: the weights live in the gradient workers
        return super().get_itr_snapshot(itr)

    def sampler_state_dict(self) -> None:
        """None: the envs live in the collection workers, which restart them on resume
        (the snapshot keeps weights, optimizer, schedules, counters and RNG states)."""
        return None

    # -- shutdown ---------------------------------------------------------------

    def shutdown(self):
        """Kill every actor, remove the placement group, stop Ray if this runner started it."""
        from rlpyt.runners.scheme_calls import kill

        with sigint_ignored():
            kill(self.gradient_workers + self.collectors)
            self.gradient_workers, self.collectors = [], []
            if self._placement_group is not None:
                from ray.util.placement_group import remove_placement_group

                remove_placement_group(self._placement_group)
                self._placement_group = None
            if self._started_ray:
                import ray

                ray.shutdown()
                self._started_ray = False
