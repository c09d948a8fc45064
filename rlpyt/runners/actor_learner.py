"""On-policy actor-learner runner: actors collect rollouts while the learner trains on them.

IMPALA's layout on one machine (Espeholt et al. 2018, section 3). Three parties:

* the **actors**: an async sampler's process (:mod:`rlpyt.samplers.async_`) and its workers
  step the envs with a copy of the policy and collect ``[T, B]`` rollouts into shared-memory
  slots. Each rollout holds the behaviour policy's ``agent_info.dist_info`` (IMPALA's
  ``mu``, whose log-probabilities V-trace divides by) and, per step, the version of the
  weights it acted with (``sampler.versions_pyt[slot]``, ``[T, B]``);
* the **queue**: the slots handed to the learner, in order. It is bounded by the sampler's
  ``max_lead``: the actors start rollout ``s`` only once the learner has trained on
  rollout ``s - max_lead`` (so at most ``max_lead`` rollouts are collected, or in
  collection, ahead of the learner);
* the **learner** (this process's main thread) takes the rollouts as they arrive, each
  exactly once, in the order collected: one ``algo.optimize_agent(itr, rollout)`` per
  rollout (IMPALA: one gradient step; APPO: epochs x minibatches), then publishes its
  weights as version ``algo.update_counter`` and lets the actors go on.

**Policy lag.** The lag of a sample is the learner's update count when it first trains
on the sample minus the version the sample was collected with; it is logged per log
interval as ``PolicyLagMin/Mean/Max`` and a histogram (:mod:`rlpyt.runners.policy_lag`).
The weights are published before the actors may start the next rollout, so with ``K``
gradient steps per rollout the lag is at most ``(max_lead - 1) * K``: ``max_lead=1``
alternates collection and learning, every lag 0, as the synchronous runner; the default
``max_lead=2`` overlaps them, lag at most ``K``.

**Faults, signals, resuming** are those of :class:`~rlpyt.runners.async_rl.AsyncRl`:
every wait is bounded and checks the sampler process (its death or error raises
:class:`~rlpyt.runners.async_rl.AsyncSamplerError` with its traceback); SIGTERM snapshots
the state after the last rollout trained on and raises
:class:`~rlpyt.runners.minibatch_rl.Preempted`; Ctrl-C stops everything; no process of the
sampler outlives the run. A resumed run (``resume_from``) continues from the snapshot's
rollout count, weights, optimizer and algorithm state; the rollouts that were queued but
not yet trained on are collected again by a fresh sampler process.
"""

import collections

from rlpyt.runners.async_rl import AsyncRlBase, AsyncRlEval, AsyncSamplerError
from rlpyt.runners.minibatch_rl import MinibatchRlBase, Preempted

__all__ = ["ActorLearnerRlBase", "ActorLearnerRl", "ActorLearnerRlEval"]


class ActorLearnerRlBase(AsyncRlBase):
    """The actor-learner loop (see the module docstring).

    Args: those of :class:`~rlpyt.runners.async_rl.AsyncRlBase`; ``algo`` must correct
    for the policy lag (:attr:`~rlpyt.algos.base.RlAlgorithm.corrects_policy_lag`:
    IMPALA, APPO), ``sampler`` must be an async sampler, whose ``max_lead`` bounds the
    rollout queue.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.algo.corrects_policy_lag:
            raise TypeError(
                f"{type(self).__name__} trains on rollouts collected by lagging copies of the "
                f"policy, which {type(self.algo).__name__} does not correct for: use IMPALA or "
                "APPO (V-trace), or train it with MinibatchRl or SyncRl"
            )

    # -- the loop -------------------------------------------------------------------

    def train(self):
        """Run the whole training; returns the number of rollouts trained on.

        Raises ``KeyboardInterrupt`` on SIGINT and :class:`Preempted` on SIGTERM
        (after a snapshot), with every process of the sampler stopped.
        """
        self._sigterm = self._preempting = False
        self._copier = self._pbar = None
        with self._sigterm_handler():
            try:
                n_itr = self.startup()
                self.log_before_training()
                for itr in range(self._opt_done, n_itr):
                    slot, traj_infos = self.next_rollout(itr)
                    self.agent.train_mode(itr)
                    self.record_policy_lag(self.sampler.versions_np[slot])
                    opt_info = self.optimize_agent(itr, self.sampler.buffers_pyt[slot])
                    self.sampler.send(("free", slot))
                    self.publish_weights(itr)
                    self.store_diagnostics(itr, traj_infos, opt_info)
                    if (itr + 1) % self.log_interval_itrs == 0:
                        self.log_at(itr)
                    self._check_sigterm()
            except (Preempted, AsyncSamplerError) as err:
                if not self._sigterm:
                    raise
                self._preempt(err)
            finally:
                self.shutdown()
        return n_itr

    # -- hooks of the async runner --------------------------------------------------------

    def prepare_algo(self):
        """No replay: the learner trains on every rollout as soon as it arrives."""
        self.min_itr_learn = 0
        self.updates_per_sync = 1
        self._rollouts = collections.deque()  # (itr, slot, traj_infos), in order

    def initial_weights_version(self) -> int:
        """Versions count the learner's gradient updates (a resumed run numbers on)."""
        return self.algo.update_counter

    def receive_batch(self, itr: int, slot: int, traj_infos: list):
        """(Receiving thread) Queue rollout ``itr`` in ``slot`` for the learner."""
        with self._cond:
            self._rollouts.append((itr, slot, traj_infos))
            self._n_appended = itr + 1
            self._cond.notify_all()

    # -- steps of the loop ----------------------------------------------------------------

    def next_rollout(self, itr: int) -> tuple[int, list]:
        """Wait (bounded) for rollout ``itr``; returns its slot and completed trajectories."""
        self._wait(lambda: bool(self._rollouts), f"rollout {itr}")
        with self._cond:
            got, slot, traj_infos = self._rollouts.popleft()
        if got != itr:
            raise AsyncSamplerError(f"the sampler sent rollout {got} where {itr} was due")
        return slot, traj_infos

    def publish_weights(self, itr: int):
        """Weights to the actors as version ``update_counter``; then they may collect on.

        Written before the progress report, so a rollout the report lets the actors start
        acts with the weights of every update before it (the lag bound). After a rollout
        whose gradient step was skipped (non-finite, ``algo.guard``) the version is unchanged
        and the actors keep their weights.
        """
        self.sampler.weights.write(self.agent.model, version=self.algo.update_counter)
        self._opt_done = itr + 1
        self.sampler.report_progress(self._opt_done)

    def store_diagnostics(self, itr, traj_infos, opt_info):
        MinibatchRlBase.store_diagnostics(self, itr, traj_infos, opt_info)

    def log_at(self, itr: int):
        """The row of rollout ``itr`` (after waiting for the sampler's evaluation, if any)."""
        if self._eval:
            self._wait(lambda: itr in self._evaluations, f"the evaluation at itr {itr}")
        self.log_interval(itr)

    # -- snapshots ----------------------------------------------------------------------

    def runner_counters(self) -> dict:
        """A resumed run starts at the first rollout not trained on (queued ones are redone).

        The trajectories of the rollouts trained on since the last row are in the
        snapshot's ``diagnostics``, as for the synchronous runner.
        """
        return dict(
            sampler_itr=self._opt_done,
            opt_itr=self._opt_done,
            next_log_itr=self._next_log_itr,
            traj_infos=[],
        )


class ActorLearnerRl(ActorLearnerRlBase):
    """Logs the training trajectories completed in each log interval."""


class ActorLearnerRlEval(ActorLearnerRlBase, AsyncRlEval):
    """Logs offline evaluations, run by the sampler process at start and every log interval.

    Needs a sampler built with ``eval_n_envs > 0``.
    """
