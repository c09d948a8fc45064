"""Runners: connect a sampler, an agent and an algorithm in the training loop.

One iteration: the sampler collects a ``[T, B]`` batch, the algorithm
optimizes the agent on it, diagnostics are stored; every
``log_interval_steps`` env steps they are logged and a snapshot is written.

Signals (in the main thread, during :meth:`MinibatchRlBase.train`):

* **SIGINT** (Ctrl-C) raises ``KeyboardInterrupt`` as usual; the runner shuts the
  sampler down (workers ignore SIGINT and are stopped by the master) and
  re-raises. The last snapshot is the one of the last log interval.
* **SIGTERM** (cluster preemption) lets the current iteration finish, writes a
  snapshot of it (atomically, even between log intervals), shuts down and
  raises :class:`Preempted`. Where there is nothing new to save (no iteration
  completed since the last snapshot, ``snapshot_mode="none"``, no logger
  context) or at a second SIGTERM, ``Preempted`` is raised at once.
"""

import math
import time
import warnings

import numpy as np
import psutil
import torch
from tqdm import tqdm

from rlpyt.runners.policy_lag import PolicyLag
from rlpyt.runners.preemption import Preempted, PreemptionMixin
from rlpyt.runners.snapshot import SnapshotMixin
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.utils.logging import logger
from rlpyt.utils.malloc import keep_freed_memory
from rlpyt.utils.reproducible import enter_reproducible_mode
from rlpyt.utils.seed import make_seed, set_seed
from rlpyt.utils.signals import sigint_ignored

__all__ = ["MinibatchRlBase", "MinibatchRl", "MinibatchRlEval", "Preempted"]


class MinibatchRlBase(SnapshotMixin, PreemptionMixin):
    """The loop and its bookkeeping; subclasses decide what is logged.

    Args:
        algo, agent, sampler: the three components (not yet initialized).
        n_steps: total environment steps to train for (rounded up to a whole
            number of log intervals).
        seed: run seed (random when None, and logged); every env, worker and
            eval env derives its own seed from it.
        affinity: ``dict(cuda_idx=None, workers_cpus=[...], torch_threads=N,
            master_cpus=[...], set_affinity=True, keep_freed_memory=True)`` as in the
            original (e.g. from :func:`~rlpyt.utils.launching.affinity.affinity_from_code`);
            all keys optional. ``set_affinity=False`` leaves every process unpinned;
            ``keep_freed_memory=False`` leaves glibc's malloc at its defaults (see
            :mod:`rlpyt.utils.malloc`).
        log_interval_steps: env steps between log lines and snapshots.
        resume_from: a run directory or snapshot file to continue from.
        reproducible: give the same results on any x86-64 machine, at a speed cost (see
            :mod:`rlpyt.utils.reproducible`; the process must have been started with its
            environment). Without it a seeded serial run repeats exactly on one machine.
    """

    _eval = False

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
        reproducible=False,
    ):
        n_steps = int(n_steps)
        log_interval_steps = int(log_interval_steps)
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        if log_interval_steps < 1:
            raise ValueError(f"log_interval_steps must be >= 1, got {log_interval_steps}")
        self.algo = algo
        self.agent = agent
        self.sampler = sampler
        self.n_steps = n_steps
        self.seed = seed
        self.affinity = dict(affinity or {})
        self.log_interval_steps = log_interval_steps
        self.resume_from = resume_from
        self.progress_bar = progress_bar
        self.reproducible = bool(reproducible)
        self.completed_itr = None  # the last iteration train() finished (None before the first)
        self._pbar = None

    # -- the loop ---------------------------------------------------------------

    def train(self):
        """Run the whole training; returns the number of iterations done.

        Raises ``KeyboardInterrupt`` on SIGINT and :class:`Preempted` on SIGTERM,
        after shutting the sampler down (see the module docstring).
        """
        self.completed_itr = self._saved_itr = None
        self._preempt_requested = self._in_shutdown = False
        with self._signal_handlers():
            try:
                n_itr = self.startup()
                self.completed_itr = self._saved_itr = self._start_itr - 1
                self.log_before_training()
                for itr in range(self._start_itr, n_itr):
                    with logger.prefix(f"itr #{itr} "):
                        self.agent.sample_mode(itr)
                        behaviour_version = self.algo.update_counter
                        samples, traj_infos = self.obtain_samples(itr)
                        self.agent.train_mode(itr)
                        self.record_policy_lag(behaviour_version)
                        opt_info = self.optimize_agent(itr, samples)
                        self.store_diagnostics(itr, traj_infos, opt_info)
                        if (itr + 1) % self.log_interval_itrs == 0:
                            self.log_interval(itr)
                    self.completed_itr = itr
                    if self._preempt_requested:
                        self._preempt(itr)
            except WorkerError as err:
                if self._preempt_requested:
                    # SIGTERM sent to the whole process group also kills the sampler
                    # workers: their deaths are the preemption, not the error to report.
                    raise self._preempted_now("stopped by SIGTERM") from err
                raise
            finally:
                self._in_shutdown = True
                self.shutdown()
        return n_itr

    def log_before_training(self):
        """Hook: the evaluation runner logs a first evaluation here."""

    def log_interval(self, itr):
        """At each log interval: a progress.csv row, then a snapshot."""
        self.log_diagnostics(itr)

    # -- set-up and tear-down ---------------------------------------------------

    def startup(self):
        """Seed, initialize sampler, agent and algorithm; resume if asked."""
        cuda_idx = self._cuda_idx()  # refused before any worker starts
        self._set_affinity()
        if self.seed is None:
            self.seed = make_seed()
        set_seed(self.seed)
        examples = self.initialize_sampler()
        self._reclaim_sigterm()
        self.itr_batch_size = self.sampler.batch_spec.size
        n_itr = self.get_n_itr()
        self.agent.to_device(cuda_idx)
        self.initialize_algo(n_itr, examples)
        self.initialize_logging()
        self._start_itr = 0
        if self.resume_from is not None:
            self._start_itr = self.load_snapshot(self.resume_from) + 1
        logger.log(
            f"Running {n_itr} iterations of batch {self.itr_batch_size} env steps "
            f"(seed {self.seed}), from iteration {self._start_itr}."
        )
        return n_itr

    def initialize_sampler(self):
        """Build the sampler's envs (and workers) and initialize the agent; returns the
        sampler's examples (one sample of each buffer field) for the algorithm."""
        return self.sampler.initialize(
            agent=self.agent,
            affinity=self.affinity,
            seed=self.seed + 1,
            bootstrap_value=self.algo.bootstrap_value,
            final_observation=self.algo.final_observation,
            traj_info_kwargs=self.get_traj_info_kwargs(),
            rank=0,
            world_size=1,
        )

    def initialize_algo(self, n_itr, examples):
        """Bind the algorithm to the agent for ``n_itr`` iterations of the sampler's batches."""
        self.algo.initialize(
            agent=self.agent,
            n_itr=n_itr,
            batch_spec=self.sampler.batch_spec,
            mid_batch_reset=self.sampler.mid_batch_reset,
            examples=examples,
            world_size=1,
            rank=0,
        )

    def _cuda_idx(self):
        """``affinity["cuda_idx"]``, refused (before anything starts) where there is no such GPU."""
        cuda_idx = self.affinity.get("cuda_idx")
        if cuda_idx is None:
            return None
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"{type(self).__name__}: affinity cuda_idx={cuda_idx} asks for a GPU, but CUDA "
                "is not available on this machine: pass cuda_idx=None to train on the CPU"
            )
        if not 0 <= int(cuda_idx) < torch.cuda.device_count():
            raise RuntimeError(
                f"{type(self).__name__}: affinity cuda_idx={cuda_idx}, but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s) (0 to "
                f"{torch.cuda.device_count() - 1}): pick one of them or cuda_idx=None"
            )
        return int(cuda_idx)

    def _set_affinity(self):
        cpus = self.affinity.get("master_cpus")
        if cpus and self.affinity.get("set_affinity", True):
            try:
                psutil.Process().cpu_affinity(list(cpus))
            except (OSError, AttributeError, ValueError) as err:
                warnings.warn(
                    f"could not pin to CPUs {cpus} ({err}); running unpinned", stacklevel=3
                )
        threads = self.affinity.get("master_torch_threads", self.affinity.get("torch_threads"))
        if threads:
            torch.set_num_threads(int(threads))
        if self.reproducible:  # one thread, whatever the affinity says
            enter_reproducible_mode("runner reproducible=True")
        if self.affinity.get("keep_freed_memory", True):
            keep_freed_memory()  # tensors freed by one step are reused by the next

    def get_traj_info_kwargs(self):
        """Class attributes set on the TrajInfo class (the algorithm's discount)."""
        return dict(discount=self.algo.discount)

    def get_n_itr(self):
        """Iterations to run: ``n_steps`` rounded up to whole log intervals."""
        self.log_interval_itrs = max(self.log_interval_steps // self.itr_batch_size, 1)
        n_log = math.ceil(self.n_steps / (self.log_interval_itrs * self.itr_batch_size))
        return n_log * self.log_interval_itrs

    def shutdown(self):
        """Close the progress bar and the sampler (Ctrl-C is ignored meanwhile)."""
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        with sigint_ignored():
            self.sampler.shutdown()

    # -- diagnostics ------------------------------------------------------------

    def initialize_logging(self):
        self._opt_infos = {k: [] for k in self.algo.opt_info_fields}
        self._traj_infos = []
        self._start_time = self._last_time = time.time()
        self._cum_time = 0.0
        self._cum_completed_trajs = 0
        self._last_cum_steps = 0  # cum_steps at the last log
        self._pbar = None
        self._cum_train_time = 0.0  # seconds in algo.optimize_agent, up to the last log
        self._interval_train_time = 0.0  # ... and since the last log
        self._last_update_counter = self.algo.update_counter
        self._policy_lag = PolicyLag() if self.algo.corrects_policy_lag else None

    def record_policy_lag(self, behaviour_versions):
        """Count the policy lag of a batch about to be trained on (algorithms that correct
        for it, :attr:`~rlpyt.algos.base.RlAlgorithm.corrects_policy_lag`).

        ``behaviour_versions``: the weights version (``update_counter``) each sample was
        collected with: an int for the whole batch (this runner's sampler acts with the
        learner's weights of the iteration), or per-step versions ``[T, B]``.
        """
        if self._policy_lag is None:
            return
        if isinstance(behaviour_versions, int):
            behaviour_versions = np.full(tuple(self.sampler.batch_spec), behaviour_versions)
        self._policy_lag.record(self.algo.update_counter, behaviour_versions)

    def obtain_samples(self, itr):
        """``sampler.obtain_samples``: ``(samples, traj_infos)`` of iteration ``itr``."""
        return self.sampler.obtain_samples(itr)

    def cum_steps(self, itr) -> int:
        """Env steps sampled in iterations ``0..itr`` (``itr`` the latest one completed)."""
        return (itr + 1) * self.itr_batch_size

    def optimize_agent(self, itr, samples, **kwargs):
        """``algo.optimize_agent``, timed: the training time of ``CumTrainTime`` and
        ``UpdatesPerSecond``."""
        start = time.perf_counter()
        opt_info = self.algo.optimize_agent(itr, samples, **kwargs)
        self._interval_train_time += time.perf_counter() - start
        return opt_info

    def store_diagnostics(self, itr, traj_infos, opt_info):
        self._cum_completed_trajs += len(traj_infos)
        if not self._eval:
            self._traj_infos.extend(traj_infos)
        for k, values in self._opt_infos.items():
            new = getattr(opt_info, k)  # the OptInfo field named in algo.opt_info_fields
            values.extend(new if isinstance(new, list | tuple) else [new])
        self._update_progress_bar(itr)

    def _update_progress_bar(self, itr):
        if not self.progress_bar:
            return
        if self._pbar is None:
            self._pbar = tqdm(
                total=self.log_interval_itrs,
                desc="to next log",
                unit="itr",
                leave=False,
                disable=None,
            )
        self._pbar.update(1)

    def log_diagnostics(self, itr, eval_traj_infos=None, eval_time=0.0):
        """Write one row of progress.csv, then a snapshot."""
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        now = time.time()
        interval_time = now - self._last_time
        self._cum_time += interval_time
        cum_steps = self.cum_steps(itr)
        new_steps = cum_steps - self._last_cum_steps
        samples_per_second = new_steps / max(interval_time - eval_time, 1e-9)
        logger.record_tabular("Iteration", itr)
        logger.record_tabular("CumSteps", cum_steps)
        logger.record_tabular("CumTime (s)", self._cum_time)
        logger.record_tabular("StepsPerSecond", samples_per_second)
        logger.record_tabular("CumCompletedTrajs", self._cum_completed_trajs)
        logger.record_tabular("CumUpdates", self.algo.update_counter)
        self._log_training_rates(new_steps)
        if self._policy_lag is not None:
            self._policy_lag.log(step=self.cum_steps(itr))
        if eval_traj_infos is not None:
            logger.record_tabular("EvalTime (s)", eval_time)
            logger.record_tabular("StepsInEval", sum(info["Length"] for info in eval_traj_infos))
        self._log_infos(eval_traj_infos if eval_traj_infos is not None else self._traj_infos)
        logger.dump_tabular()
        self._last_time = now
        self._last_cum_steps = cum_steps
        self._traj_infos = []
        for values in self._opt_infos.values():
            values.clear()
        self.save_snapshot(itr)

    def _log_training_rates(self, new_steps):
        """``CumTrainTime``, ``UpdatesPerSecond``, ``ReplayRatio`` (off-policy) and
        ``CumSkippedSteps`` for the ``new_steps`` env steps since the last log.

        Training time is the time spent in ``algo.optimize_agent``; the replay ratio,
        as the original defined it, is the data the gradient updates of the interval
        consumed (``batch_size`` samples each, on every learner) per env step collected.
        """
        algo = self.algo
        new_updates = algo.update_counter - self._last_update_counter
        train_time = self._interval_train_time
        self._cum_train_time += train_time
        logger.record_tabular("CumTrainTime", self._cum_train_time)
        logger.record_tabular(
            "UpdatesPerSecond", new_updates / train_time if train_time > 0 else float("nan")
        )
        if algo.replay_ratio is not None:
            consumed = new_updates * algo.batch_size * algo.world_size
            logger.record_tabular(
                "ReplayRatio", consumed / new_steps if new_steps > 0 else float("nan")
            )
        logger.record_tabular("CumSkippedSteps", algo.skipped_steps)
        self._last_update_counter = algo.update_counter
        self._interval_train_time = 0.0

    def _log_infos(self, traj_infos):
        keys = [
            k
            for k in (traj_infos[0] if traj_infos else self.sampler.TrajInfoCls())
            if not k.startswith("_")
        ]
        for k in keys:
            logger.record_tabular_misc_stat(k, [info[k] for info in traj_infos])
        for k, values in self._opt_infos.items():
            logger.record_tabular(k, sum(values) / len(values) if values else float("nan"))


class MinibatchRl(MinibatchRlBase):
    """Logs the trajectories completed during training since the last log."""


class MinibatchRlEval(MinibatchRlBase):
    """Logs offline evaluation episodes, run before training and at every log.

    Needs a sampler built with ``eval_n_envs > 0``.
    """

    _eval = True

    def log_before_training(self):
        if self._start_itr == 0:  # a resumed run logged this already
            with logger.prefix("itr #0 "):
                eval_traj_infos, eval_time = self.evaluate_agent(0)
                self.log_diagnostics(-1, eval_traj_infos, eval_time)

    def log_interval(self, itr):
        eval_traj_infos, eval_time = self.evaluate_agent(itr)
        self.log_diagnostics(itr, eval_traj_infos, eval_time)

    def startup(self):
        if self.sampler.eval_n_envs < 1:
            raise ValueError(
                "MinibatchRlEval needs a sampler with eval_n_envs >= 1 "
                "(and eval_max_steps); use MinibatchRl to log training episodes"
            )
        return super().startup()

    def evaluate_agent(self, itr):
        start = time.time()
        self.agent.eval_mode(itr)
        traj_infos = self.sampler.evaluate_agent(itr)
        return traj_infos, time.time() - start
