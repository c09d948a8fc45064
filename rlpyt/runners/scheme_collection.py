"""The Ray scheme's collection link: a gradient worker's batch from its collection workers.

A :class:`CollectionLink` fills a gradient worker's ``[T, N_g * B_w]`` batch with one
rollout of each of its ``N_g`` collection workers
(:class:`~rlpyt.samplers.ray.collection.CollectionWorker`), collection worker ``i`` of the
batch in columns ``i * B_w ... (i + 1) * B_w - 1``.

**Sync** (``collection="sync"``): every round sends the current weights to all the
collection workers and gathers one rollout from each, so with one gradient per batch the
policy lag is 0. With pre-emption (``fraction_workers``/``fraction_samples``), once
``ceil(fraction_workers * N_g)`` rollouts are in, the others are told to stop as soon as
they hold ``ceil(fraction_samples * T)`` steps. **Async** (``collection="async"``): each
collection worker is re-issued as soon as its rollout is taken, with the weights the
gradient worker holds then, so it keeps collecting while gradients are computed; a batch
is the first ``N_g`` rollouts to arrive, and V-trace corrects their lag.

**Shortened rollouts** end like a time-limit cut at their last valid step ``n - 1``
(``done`` and ``env_info.timeout`` set, ``timeout_value`` = the value of the next
observation), so returns bootstrap there, and the ``valid`` mask is 0 for ``t >= n``
(:func:`mark_shortened`).

**Faults.** A collection worker that raises or hangs (``rollout_timeout``) ends the batch
with a :class:`~rlpyt.samplers.parallel.errors.WorkerError` naming it; one that died is
restarted by Ray up to ``max_restarts`` times per gradient worker, and its rollout is
collected again.
"""

import math
import time
from collections import defaultdict
from dataclasses import dataclass

from rlpyt.runners.scheme_calls import WorkerDied, fetch, fetch_within, submit, wait_first
from rlpyt.samplers.parallel.errors import WorkerError

__all__ = ["CollectionLink", "Gathered", "mark_shortened"]


@dataclass
class Gathered:
    """One batch's collection: valid env steps, ended trajectories, rollouts shortened,
    fewest valid steps of a rollout, seconds, and ``weights_ids``: weights version ->
    the published weights objects the rollouts of that version were collected with."""

    n_steps: int
    traj_infos: list
    n_shortened: int
    min_valid_steps: int
    seconds: float
    weights_ids: dict


def mark_shortened(batch_np, valid_np, columns, n_steps, bootstrap_value) -> None:
    """End ``columns`` of the batch at step ``n_steps - 1`` like a time-limit cut.

    Where the episode did not end there anyway, ``done`` and ``env_info.timeout`` are
    set and ``timeout_value`` is ``bootstrap_value`` (the value of the next
    observation); ``valid`` is 0 from ``n_steps`` on.
    """
    t = n_steps - 1
    env, agent = batch_np.env, batch_np.agent
    cut = ~env.done[t, columns].astype(bool)
    env.env_info.timeout[t, columns] = env.env_info.timeout[t, columns] | cut
    agent.timeout_value[t, columns] = bootstrap_value
    env.done[t, columns] = True
    valid_np[n_steps:, columns] = 0


class CollectionLink:
    """The collection workers of gradient worker ``index`` and its batch (see the module doc).

    Args:
        index: the gradient worker's rank (names its collection workers in errors).
        collectors: handles of its collection workers.
        config: the :class:`~rlpyt.runners.scheme_config.SchemeConfig`.
        batch_np, valid_np: the ``[T, N_g * B_w]`` batch and valid mask to fill.
        batch_T, envs_per_worker: rollout length T and envs per collection worker.

    Attributes: ``behaviour_version`` (weights version of each collection worker's
    rollout in the batch), ``incarnations`` (``(pid, token, env process pids)`` of each).
    """

    def __init__(self, *, index, collectors, config, batch_np, valid_np, batch_T, envs_per_worker):
        self.index = index
        self.collectors = list(collectors)
        self.config = config
        self.batch_np, self.valid_np = batch_np, valid_np
        self.T, self.B_w = batch_T, envs_per_worker
        self.behaviour_version = [0] * len(self.collectors)
        self.incarnations = [None] * len(self.collectors)
        self.round = 0
        self.n_restarts = 0
        self.inflight = {}  # async collection: ref -> collection worker (position)
        self.min_steps = max(1, math.ceil(config.fraction_samples * batch_T))
        self.version, self.weights_box = 0, None  # what collect() calls are issued with

    def start(self) -> list:
        """Wait until every collection worker is up; their ``(pid, token, env pids)``."""
        refs = [submit(c, "start") for c in self.collectors]
        for i, ref in enumerate(refs):
            self.incarnations[i] = fetch_within(ref, self.who(i), self.config.startup_timeout)
        return self.incarnations

    def collect_batch(self, version: int, weights_box) -> Gathered:
        """Fill the batch with ``N_g`` rollouts; rollouts issued from now on get weights
        ``version`` (``weights_box``)."""
        start = time.monotonic()
        self.version, self.weights_box = version, weights_box
        self.valid_np[:] = 1
        if self.config.collection == "sync":
            rollouts = self._collect_sync()
        else:
            rollouts = self._collect_async()
        traj_infos, n_steps, n_short = [], 0, 0
        weights_ids = defaultdict(set)
        for rollout in rollouts:
            traj_infos.extend(rollout.traj_infos)
            n_steps += rollout.n_steps * self.B_w
            n_short += rollout.n_steps < self.T
            weights_ids[rollout.version].add(rollout.weights_id)
        return Gathered(
            n_steps=n_steps,
            traj_infos=traj_infos,
            n_shortened=n_short,
            min_valid_steps=min(r.n_steps for r in rollouts),
            seconds=time.monotonic() - start,
            weights_ids=dict(weights_ids),
        )

    def _store(self, slot: int, rollout) -> None:
        """Copy a rollout into the batch's columns of ``slot``."""
        columns = slice(slot * self.B_w, (slot + 1) * self.B_w)
        self.batch_np[:, columns] = rollout.samples
        self.behaviour_version[slot] = rollout.version
        if rollout.n_steps < self.T:
            mark_shortened(
                self.batch_np,
                self.valid_np,
                columns,
                rollout.n_steps,
                rollout.samples.agent.bootstrap_value[0],
            )

    def _issue(self, position: int, round_id: int, min_steps: int):
        return submit(
            self.collectors[position],
            "collect",
            round_id,
            self.version,
            self.weights_box,
            min_steps,
        )

    def _collect_sync(self) -> list:
        self.round += 1
        n = len(self.collectors)
        preempting = self.config.preempts
        min_steps = self.min_steps if preempting else self.T
        quorum = math.ceil(self.config.fraction_workers * n)
        pending = {self._issue(i, self.round, min_steps): i for i in range(n)}
        rollouts, signalled = [], False
        while pending:
            position, rollout = self._take(pending, self.round, min_steps)
            self._store(len(rollouts), rollout)
            rollouts.append(rollout)
            if preempting and not signalled and len(rollouts) >= quorum:
                signalled = True
                for i in pending.values():
                    submit(self.collectors[i], "preempt", self.round)
        return rollouts

    def _collect_async(self) -> list:
        if not self.inflight:
            self.round += 1
            self.inflight = {
                self._issue(i, self.round, self.T): i for i in range(len(self.collectors))
            }
        rollouts = []
        while len(rollouts) < len(self.collectors):
            position, rollout = self._take(self.inflight, self.round, self.T)
            self._store(len(rollouts), rollout)  # before the worker writes its next rollout
            rollouts.append(rollout)
            self.round += 1
            self.inflight[self._issue(position, self.round, self.T)] = position
        return rollouts

    def _take(self, pending: dict, round_id: int, min_steps: int) -> tuple:
        """The next finished rollout in ``pending`` (removed), restarting a dead worker."""
        while True:
            ref = wait_first(pending, self.config.rollout_timeout)
            if ref is None:
                position = min(pending.values())
                raise WorkerError(
                    f"{self.who(position)} did not finish a rollout within "
                    f"rollout_timeout={self.config.rollout_timeout} s (an env step hung?)"
                )
            position = pending.pop(ref)
            try:
                rollout = fetch(ref, self.who(position))
            except WorkerDied as err:
                self._restart(position, err)
                pending[self._issue(position, round_id, min_steps)] = position
                continue
            if rollout.incarnation != self.incarnations[position][1]:
                # Restarted by Ray between two calls: fresh envs, initial weights; again.
                self._restart(position, None)
                pending[self._issue(position, round_id, min_steps)] = position
                continue
            return position, rollout

    def _restart(self, position: int, err) -> None:
        """Wait for Ray to bring collection worker ``position`` back (restarts permitting)."""
        if self.n_restarts >= self.config.max_restarts:
            if err is None:
                err = WorkerDied(f"{self.who(position)} died and was restarted by Ray")
            raise WorkerDied(
                f"{err} (after {self.n_restarts} restart(s) of "
                f"max_restarts={self.config.max_restarts})"
            ) from None
        self.n_restarts += 1
        deadline = time.monotonic() + self.config.startup_timeout
        while True:
            ref = submit(self.collectors[position], "start")
            try:
                wait_first([ref], max(0.1, deadline - time.monotonic()))
                self.incarnations[position] = fetch(ref, self.who(position), timeout=0.1)
                break
            except WorkerError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # The restarted worker holds its initial weights: collect() loads the current
        # ones, as its version (0) is older.

    def who(self, position: int) -> str:
        """E.g. ``collection worker 3 (pid 4242, of gradient worker 1)``."""
        pid = self.incarnations[position][0] if self.incarnations[position] else None
        rank = self.index * len(self.collectors) + position
        return f"collection worker {rank} (pid {pid}, of gradient worker {self.index})"
