"""Asynchronous runners: sampling and optimisation at the same time, through the replay.

Three parties:

* the **sampler process** (an async sampler of :mod:`rlpyt.samplers.async_`)
  collects ``[T, B]`` batches into a shared-memory double buffer;
* the **copier thread** of this process appends each finished batch to the
  replay under the replay's write lock (:class:`~rlpyt.replays.async_.AsyncReplayBuffer`)
  and hands the slot back, gathering the batch's completed trajectories;
* the **optimizer** (this process's main thread) calls
  ``algo.optimize_agent(itr, samples=None, sampler_itr=...)``, which samples the
  replay under the read lock, and every ``algo.updates_per_sync`` updates writes
  the new weights to shared memory for the sampler.

**Replay-ratio throttle.** One optimizer iteration takes the gradient steps that
one sampler batch pays for (``replay_ratio * T * B / batch_size``, as
:class:`~rlpyt.runners.minibatch_rl.MinibatchRl`). Optimizer iteration ``o``
waits until ``min_itr_learn + o + 1`` batches are in the replay; the sampler
waits before batch ``s`` while ``s >= min_itr_learn + o + max_lead``. So the
ratio of data consumed to data generated after ``min_steps_learn`` stays at
``replay_ratio`` up to ``max_lead`` batches, either way. A row is logged for sampler
iteration ``itr`` once the optimizer finished the iteration that batch paid for, so
its ``ReplayRatio`` (the interval's, as in every runner) is ``replay_ratio`` once the
interval is past ``min_steps_learn``.

**No hangs.** Every wait is bounded and checks the sampler process: its death
or error is raised here (:class:`AsyncSamplerError`) with its traceback; an
error in this process stops the sampler process. Shared memory is released
and every process of the sampler (its workers too) has exited on every exit path.

**Concurrent appends.** Before the run the runner calls the algorithm's hook
``algo.enable_concurrent_append()``: the algorithm puts its replay behind a
readers-writer lock (:class:`~rlpyt.replays.async_.AsyncReplayBuffer`) and queues
the observations an append would fold into the agent's running normalisation
statistics (done in the copier thread, that would race with the optimizer's
forward passes and with the weights sent to the sampler). The runner calls
``algo.fold_obs_statistics()`` in the optimizer thread after each wait for
batches: before the optimizer iteration a batch pays for, as in the synchronous
runner.

**Snapshots and resuming.** Logging is per ``log_interval_steps`` env steps of
the sampler; a snapshot follows each log row, as in ``MinibatchRl``. It is taken
while the copier thread is held between two appends, so the replay, the agent's
statistics and the counters (sampler batches appended, optimizer iterations done)
agree. SIGTERM (to this process, or to the sampler process, e.g. a whole job
preempted) stops the sampler process and the copier, writes a snapshot of that
quiescent state and raises :class:`~rlpyt.runners.minibatch_rl.Preempted`;
Ctrl-C stops everything and the last snapshot stands. With ``resume_from`` the
run continues from a snapshot's counters, weights, optimizer, algorithm state,
RNG states and (when the algorithm snapshots it, ``snapshot_replay``) replay; a
fresh sampler process starts at the next sampler iteration. Async runs are not
reproducible, so a resumed run does not repeat an uninterrupted one exactly.
"""

import contextlib
import signal
import threading
import time

from rlpyt.runners.minibatch_rl import MinibatchRlBase, Preempted
from rlpyt.samplers.async_.base import AsyncSamplerBase
from rlpyt.utils.collections import AttrDict
from rlpyt.utils.logging import logger
from rlpyt.utils.seed import make_seed, set_seed
from rlpyt.utils.signals import sigint_ignored

__all__ = ["AsyncRlBase", "AsyncRl", "AsyncRlEval", "AsyncSamplerError"]

_POLL = 0.05


class AsyncSamplerError(RuntimeError):
    """The sampler process failed, died or stopped answering."""


class AsyncRlBase(MinibatchRlBase):
    """The asynchronous loop (see the module docstring).

    Args: those of :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`
    (``reproducible`` must be False), and

        sampler_timeout: seconds the optimizer waits for the next batch
            before raising :class:`AsyncSamplerError`.
    """

    def __init__(self, *args, sampler_timeout=300.0, **kwargs):
        super().__init__(*args, **kwargs)
        if self.reproducible:
            raise ValueError(
                f"{type(self).__name__} cannot be reproducible (reproducible=True): sampling "
                "and training interleave differently in every run; use MinibatchRl"
            )
        if not sampler_timeout > 0:
            raise ValueError(f"sampler_timeout must be > 0 seconds, got {sampler_timeout!r}")
        if not isinstance(self.sampler, AsyncSamplerBase):
            raise TypeError(
                f"{type(self).__name__} needs an async sampler (rlpyt.samplers.async_), got "
                f"{type(self.sampler).__name__}"
            )
        self.sampler_timeout = float(sampler_timeout)

    # -- the loop -------------------------------------------------------------------

    def train(self):
        """Run the whole training; returns the number of sampler iterations.

        Raises ``KeyboardInterrupt`` on SIGINT and :class:`Preempted` on SIGTERM
        (after a snapshot), with every process of the sampler stopped.
        """
        self._sigterm = self._preempting = False
        self._copier = self._pbar = None
        with self._sigterm_handler():
            try:
                n_itr = self.startup()
                self.log_before_training()
                n_opt_itr = max(n_itr - self.min_itr_learn, 0)
                for opt_itr in range(self._opt_done, n_opt_itr):
                    self.wait_for_batches(self.min_itr_learn + opt_itr + 1)
                    self.algo.fold_obs_statistics()
                    self.log_due()
                    itr = self.min_itr_learn + opt_itr
                    self.agent.train_mode(itr)
                    opt_info = self.optimize_agent(itr, None, sampler_itr=self._n_appended - 1)
                    self._opt_done = opt_itr + 1
                    self.sampler.report_progress(self._opt_done)  # lets the sampler go on
                    self.store_diagnostics(itr, [], opt_info)
                    self.sync_weights()
                    self.log_due()
                    self._check_sigterm()
                self.wait_for_batches(n_itr)
                self.algo.fold_obs_statistics()
                self._all_optimized = True  # the remaining intervals can be logged
                self.log_due()
            except (Preempted, AsyncSamplerError) as err:
                if not self._sigterm:
                    raise
                self._preempt(err)
            finally:
                self.shutdown()
        return n_itr

    # -- set-up and tear-down -------------------------------------------------------

    def startup(self):
        cuda_idx = self._cuda_idx()  # refused before the sampler process starts
        self._set_affinity()
        if self.seed is None:
            self.seed = make_seed()
        set_seed(self.seed)
        examples = self.sampler.async_initialize(
            agent=self.agent,
            affinity=self.affinity,
            seed=self.seed + 1,
            bootstrap_value=self.algo.bootstrap_value,
            traj_info_kwargs=self.get_traj_info_kwargs(),
            final_observation=self.algo.final_observation,
        )
        self.itr_batch_size = self.sampler.batch_spec.size
        n_itr = self.get_n_itr()
        self.agent.to_device(cuda_idx)
        self.algo.initialize(
            agent=self.agent,
            n_itr=n_itr,
            batch_spec=self.sampler.batch_spec,
            mid_batch_reset=self.sampler.mid_batch_reset,
            examples=examples,
        )
        self.prepare_algo()
        self.initialize_logging()
        self._cond = threading.Condition()
        self._append_lock = threading.Lock()  # held by the copier over one whole append
        self._n_appended = 0
        self._opt_done = 0
        self._next_log_itr = self.log_interval_itrs - 1
        self._all_optimized = False
        self._error = None
        self._new_traj_infos = []
        self._evaluations = {}  # sampler itr -> (traj_infos, seconds)
        self._sampler_done = False
        if self.resume_from is not None:
            self.load_snapshot(self.resume_from)  # the counters: load_runner_state
        self._start_itr = self._n_appended
        self._completed_itr = self._start_itr - 1  # (as MinibatchRl's: set once resumed)
        self._synced_updates = self.algo.update_counter
        self.sampler.start(
            n_itr=n_itr,
            log_interval_itrs=self.log_interval_itrs,
            min_itr_learn=self.min_itr_learn,
            evaluate=self._eval,
            start_itr=self._start_itr,
            opt_itr=self._opt_done,
            weights_version=self.initial_weights_version(),
        )
        self._copier = threading.Thread(target=self._copy_loop, name="rlpyt-replay-copier")
        self._copier.daemon = True
        self._stop_copier = False
        self._copier.start()
        logger.log(
            f"Running {n_itr} sampler iterations of batch {self.itr_batch_size} env steps "
            f"asynchronously (seed {self.seed}), from iteration {self._start_itr}; learning "
            f"from iteration {self.min_itr_learn}."
        )
        self._n_itr = n_itr
        return n_itr

    def prepare_algo(self):
        """After ``algo.initialize``: concurrent appends to its replay; the throttle's settings."""
        self.algo.enable_concurrent_append()  # the algorithm's hook (module docstring)
        self.min_itr_learn = int(self.algo.min_itr_learn)
        self.updates_per_sync = max(int(self.algo.updates_per_sync), 1)

    def initial_weights_version(self) -> int:
        """The version the weights are first shared with (then one more per write)."""
        return 0

    def stop_sampling(self):
        """Stop the copier thread, then every process of the sampler (Ctrl-C ignored meanwhile)."""
        with sigint_ignored():
            if self._copier is not None:
                self._stop_copier = True
                self._copier.join(timeout=5.0)
            self.sampler.shutdown()

    def shutdown(self):
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self.stop_sampling()

    # -- the copier thread ------------------------------------------------------------

    def _copy_loop(self):
        """Append finished batches to the replay; collect traj_infos and evaluations."""
        sampler = self.sampler
        conn, proc = sampler.conn, sampler.process
        try:
            while not self._stop_copier:
                if not conn.poll(_POLL):
                    if proc.exitcode is not None and not conn.poll(0):
                        raise AsyncSamplerError(
                            f"sampler process (pid {proc.pid}) died with {_exit_text(proc.exitcode)} "
                            f"after {self._n_appended} batches"
                        )
                    continue
                message = conn.recv()
                kind = message[0]
                if kind == "batch":
                    self.receive_batch(*message[1:])
                elif kind == "eval":
                    _, itr, traj_infos, seconds = message
                    with self._cond:
                        self._evaluations[itr] = (traj_infos, seconds)
                        self._cond.notify_all()
                elif kind == "done":
                    with self._cond:
                        self._sampler_done = True
                        self._cond.notify_all()
                elif kind == "preempted":  # SIGTERM reached the sampler process
                    self._sigterm = True
                    raise AsyncSamplerError(f"sampler process (pid {proc.pid}) got SIGTERM")
                elif kind == "error":
                    raise AsyncSamplerError(f"the sampler process failed:\n{message[1]}")
        except (EOFError, ConnectionResetError):  # the sampler process is gone: say how
            proc.join(timeout=2.0)
            how = (
                "closed its pipe"
                if proc.exitcode is None
                else f"died with {_exit_text(proc.exitcode)}"
            )
            self._set_error(
                AsyncSamplerError(
                    f"sampler process (pid {proc.pid}) {how} after {self._n_appended} batches"
                )
            )
        except BaseException as err:  # noqa: BLE001 - handed to the optimizer thread
            self._set_error(err)

    def receive_batch(self, itr: int, slot: int, traj_infos: list):
        """(Copier thread) Append sampler batch ``itr`` from ``slot`` to the replay; free the slot."""
        with self._append_lock:  # a snapshot sees a batch wholly in or out
            self.algo.append_samples(self.sampler.buffers_pyt[slot])
            with self._cond:
                self._n_appended = itr + 1
                self._new_traj_infos.extend(traj_infos)
                self._cond.notify_all()
        self.sampler.send(("free", slot))

    def _set_error(self, err):
        with self._cond:
            self._error = err
            self._cond.notify_all()

    def _wait(self, ready, what):
        """Wait (bounded) until ``ready()``; raise the copier's error if there is one."""
        deadline = time.monotonic() + self.sampler_timeout
        with self._cond:
            while True:
                self._check_sigterm()
                if self._error is not None:
                    raise self._error
                if ready():
                    return
                if time.monotonic() > deadline:
                    raise AsyncSamplerError(
                        f"waited {self.sampler_timeout:g} s for {what}: the sampler process "
                        f"(pid {self.sampler.process.pid}) is hung"
                    )
                self._cond.wait(_POLL)

    def wait_for_batches(self, n: int):
        """Until ``n`` sampler batches are in the replay."""
        self._wait(lambda: self._n_appended >= n, f"sampler batch {n - 1}")

    # -- weights ----------------------------------------------------------------------

    def sync_weights(self):
        """Send the weights to the sampler every ``updates_per_sync`` updates."""
        updates = self.algo.update_counter
        if updates - self._synced_updates >= self.updates_per_sync:
            self.sampler.weights.write(self.agent.model)
            self._synced_updates = updates

    # -- logging ------------------------------------------------------------------------

    def log_due(self):
        """Log every interval the sampler has completed and the optimizer has caught up with.

        The optimizer has caught up with sampler iteration ``itr`` once it finished the
        optimizer iteration that batch paid for (during warm-up, once the batch is in).
        """
        while self._n_appended > self._next_log_itr and (
            self._all_optimized or self._next_log_itr < self.min_itr_learn + self._opt_done
        ):
            itr = self._next_log_itr
            self._next_log_itr += self.log_interval_itrs  # (before the snapshot that follows)
            if self._eval:
                self._wait(lambda itr=itr: itr in self._evaluations, f"the evaluation at itr {itr}")
            with self._cond:
                traj_infos, self._new_traj_infos = self._new_traj_infos, []
            self._cum_completed_trajs += len(traj_infos)
            if not self._eval:
                self._traj_infos.extend(traj_infos)
            self.log_interval(itr)

    def store_diagnostics(self, itr, traj_infos, opt_info):
        for k, values in self._opt_infos.items():
            new = getattr(opt_info, k, [])
            values.extend(new if isinstance(new, list | tuple) else [new])

    def log_diagnostics(self, itr, eval_traj_infos=None, eval_time=0.0):
        logger.record_tabular("SamplerItr", self._n_appended)
        logger.record_tabular("OptimizerItr", int(self.sampler.opt_itr.value))
        super().log_diagnostics(itr, eval_traj_infos, eval_time)

    # -- snapshots ----------------------------------------------------------------------

    def get_itr_snapshot(self, itr) -> dict:
        """The snapshot, with the copier held between two appends (see the module docstring)."""
        with self._append_lock:
            self.algo.fold_obs_statistics()  # the agent's statistics match the replay
            state = super().get_itr_snapshot(itr)
            with self._cond:
                state["async_counters"] = self.runner_counters()
        return state

    def runner_counters(self) -> dict:
        """The counters a resumed run starts from: sampler batches in the replay, optimizer
        iterations done, the next row's sampler iteration, traj_infos not yet logged."""
        return dict(
            sampler_itr=self._n_appended,
            opt_itr=self._opt_done,
            next_log_itr=self._next_log_itr,
            traj_infos=[dict(info) for info in self._new_traj_infos],
        )

    def load_runner_state(self, snapshot: dict) -> None:
        """The counters of an async snapshot (or those of a synchronous runner's)."""
        counters = snapshot.get("async_counters")
        if counters is None:  # a MinibatchRl snapshot: iterations 0..itr done, in lockstep
            n_done = snapshot["itr"] + 1
            interval = self.log_interval_itrs
            counters = dict(
                sampler_itr=n_done,
                opt_itr=max(n_done - self.min_itr_learn, 0),
                next_log_itr=(n_done // interval + 1) * interval - 1,
                traj_infos=[],
            )
        self._n_appended = counters["sampler_itr"]
        self._opt_done = counters["opt_itr"]
        self._next_log_itr = counters["next_log_itr"]
        self._new_traj_infos = [AttrDict(info) for info in counters["traj_infos"]]

    # -- signals --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _sigterm_handler(self):
        """SIGTERM ends the next wait or iteration with :class:`Preempted` (see :meth:`train`)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigterm(signum, frame):
            if self._preempting:  # a second SIGTERM while stopping: the stop goes on
                return
            self._sigterm = True

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _check_sigterm(self):
        if self._sigterm:
            raise Preempted("stopped by SIGTERM")

    def _preempt(self, cause):
        """After SIGTERM: stop the sampler and the copier, snapshot the state they left, stop."""
        self._preempting = True
        self.stop_sampling()
        self.algo.fold_obs_statistics()
        itr = self.runner_counters()["sampler_itr"] - 1  # the last batch the snapshot holds
        paths = []
        if itr >= 0 and logger.get_snapshot_dir() is not None:
            paths = self.save_snapshot(itr, force=True)
        where = f": snapshot {', '.join(paths)}" if paths else ""
        logger.log(f"Preempted (SIGTERM) after sampler iteration {itr}{where}.")
        raise Preempted(
            f"stopped by SIGTERM after sampler iteration {itr}{where}",
            itr=itr if itr >= 0 else None,
            snapshot_paths=paths,
        ) from (cause if isinstance(cause, AsyncSamplerError) else None)


class AsyncRl(AsyncRlBase):
    """Logs the training trajectories completed in each log interval."""


class AsyncRlEval(AsyncRlBase):
    """Logs offline evaluations, run by the sampler process at start and every log interval.

    Needs a sampler built with ``eval_n_envs > 0``.
    """

    _eval = True

    def startup(self):
        if self.sampler.eval_n_envs < 1:
            raise ValueError(
                "AsyncRlEval needs a sampler with eval_n_envs >= 1 (and eval_max_steps); "
                "use AsyncRl to log training episodes"
            )
        return super().startup()

    def log_before_training(self):
        if self._start_itr > 0:  # a resumed run logged it already
            return
        self._wait(lambda: -1 in self._evaluations, "the first evaluation")
        traj_infos, seconds = self._evaluations.pop(-1)
        self.log_diagnostics(-1, traj_infos, seconds)

    def log_interval(self, itr):
        traj_infos, seconds = self._evaluations.pop(itr)
        self.log_diagnostics(itr, traj_infos, seconds)


def _exit_text(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"
