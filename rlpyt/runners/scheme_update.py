"""The Ray scheme's update stage: central (one learner) or decentralised (all-reduce).

Both classes offer ``start()`` and ``step(itr) -> UpdateReport``; the runner
(:mod:`rlpyt.runners.scheme`) calls ``step`` once per update.

* :class:`CentralUpdate`: the driver's agent and optimizer are the learner. With
  ``update="sync"`` every update asks all ``M`` gradient workers for a gradient at the
  current weights, averages the ``M`` gradients and applies them (staleness 0). With
  ``update="async"`` each gradient worker always has one gradient in progress; each
  update applies the first to arrive alone and re-issues that worker with the new
  weights, so a gradient may have been computed ``k`` versions ago (its staleness ``k``).
  Each new version is put in the object store once, as a state dict; the gradient
  workers pass the same reference on to their collection workers.
* :class:`DecentralisedUpdate`: the gradient workers all-reduce and apply the gradients
  themselves (:meth:`~rlpyt.runners.scheme_workers.GradientWorker.train_step`), so
  their weights stay equal; the driver calls all ``M`` each update and gathers their
  reports, and copies rank 0's state into its own agent for snapshots. Gradient worker 0
  alone puts each new version in the object store; the driver hands its reference to all
  ``M`` with their next call, so every collection worker loads that one object.

Both count the weights objects put per version (``puts``: version -> puts; 1 each).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import torch

from rlpyt.algos.optim import GradientTools, Optimizer
from rlpyt.runners.scheme_calls import fetch_within, submit, wait_first
from rlpyt.runners.scheme_workers import set_learning_rate
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.samplers.ray.collection import box_weights

__all__ = ["CentralUpdate", "DecentralisedUpdate", "UpdateReport"]


@dataclass
class UpdateReport:
    """One update: the gradient workers' reports merged.

    ``applied``: whether a gradient step was taken (a non-finite one is skipped; the
    first decentralised async step has none to apply yet); ``staleness``: update version
    minus gradient version, per gradient; ``lag``: policy lag -> valid samples;
    ``weights_ids``: weights version -> the published weights objects that the new
    batches' rollouts of that version were collected with.
    """

    applied: bool
    grad_norm: float
    n_steps: int
    traj_infos: list
    lag: Counter
    staleness: list
    opt_infos: list  # the gradient workers' loss diagnostics (dicts)
    n_shortened: int = 0
    min_valid_steps: list = field(default_factory=list)
    collect_seconds: list = field(default_factory=list)
    weights_ids: dict = field(default_factory=dict)


def merge(results, applied, grad_norm, staleness) -> UpdateReport:
    lag, traj_infos, weights_ids = Counter(), [], defaultdict(set)
    for r in results:
        lag.update(r.lag)
        traj_infos.extend(r.traj_infos)
        for version, ids in r.weights_ids.items():
            weights_ids[version] |= ids
    new_batches = [r for r in results if r.n_steps]
    return UpdateReport(
        applied=applied,
        grad_norm=grad_norm,
        n_steps=sum(r.n_steps for r in results),
        traj_infos=traj_infos,
        lag=lag,
        staleness=staleness,
        opt_infos=[r.opt_info for r in results],
        n_shortened=sum(r.n_shortened for r in results),
        min_valid_steps=[r.min_valid_steps for r in new_batches],
        collect_seconds=[r.collect_seconds for r in new_batches],
        weights_ids=dict(weights_ids),
    )


RECENT_VERSIONS = 1000
"""Weights versions whose bookkeeping (objects put, objects received) a run keeps; older
ones are dropped, so a long run's memory does not grow with its number of updates."""


def forget_old_versions(per_version: dict, newest: int) -> None:
    """Drop the entries of ``per_version`` more than :data:`RECENT_VERSIONS` before ``newest``
    (amortised: only once the mapping holds twice as many)."""
    if len(per_version) > 2 * RECENT_VERSIONS:
        for version in [v for v in per_version if v <= newest - RECENT_VERSIONS]:
            del per_version[version]


class CentralUpdate:
    """The driver's learner applies the gradient workers' gradients (see the module doc)."""

    def __init__(self, agent, algo, gradient_workers, update: str, remote: bool, timeout: float):
        self.agent, self.algo = agent, algo
        self.workers = list(gradient_workers)
        self.update, self.remote, self.timeout = update, remote, timeout
        self.params = [p for group in algo.optimizer.param_groups for p in group["params"]]
        self.opt = Optimizer(algo.optimizer, GradientTools(algo.optimizer), self.params)
        self.version = 0
        self.box = None
        self.puts = Counter()  # weights version -> objects put
        self.inflight = {}  # async: ref -> gradient worker index

    def start(self) -> None:
        """Publish the weights the run starts from (version 1: also after a resume)."""
        self._publish()
        if self.update == "async":
            for g in range(len(self.workers)):
                self._issue(g)

    def step(self, itr: int) -> UpdateReport:
        if self.update == "sync":
            refs = [self._issue(g) for g in range(len(self.workers))]
            results = [self._fetch(ref, g) for g, ref in enumerate(refs)]
            self.inflight.clear()
        else:
            ref = wait_first(self.inflight, self.timeout)
            if ref is None:
                raise WorkerError(f"no gradient worker returned a gradient within {self.timeout} s")
            results = [self._fetch(ref, self.inflight[ref])]
        staleness = [self.version - r.version for r in results]
        for i, p in enumerate(self.params):
            p.grad = torch.stack([r.grads[i] for r in results]).mean(dim=0).to(p.device)
        set_learning_rate(self.algo, itr)
        norm, applied = self.algo.guard.apply(itr, self.opt, self.algo.clip_grad_norm)
        if applied:
            self.algo.update_counter += 1
            self._publish()
        if self.update == "async":
            self._issue(self.inflight.pop(ref))
        return merge(results, applied, float(norm), staleness)

    def sync_driver(self) -> None:
        """Nothing to do: the driver's agent is the learner."""

    def _publish(self):
        self.version += 1
        self.box = box_weights(self.agent, self.remote)
        self.puts[self.version] += 1
        forget_old_versions(self.puts, self.version)

    def _issue(self, g: int):
        ref = submit(self.workers[g], "gradient", self.version, self.box)
        self.inflight[ref] = g
        return ref

    def _fetch(self, ref, g: int):
        return fetch_within(ref, f"gradient worker {g}", self.timeout)


class DecentralisedUpdate:
    """The gradient workers all-reduce and apply their gradients (see the module doc)."""

    def __init__(self, agent, algo, gradient_workers, update: str, remote: bool, timeout: float):
        self.agent, self.algo = agent, algo
        self.workers = list(gradient_workers)
        self.update, self.remote, self.timeout = update, remote, timeout
        self._primed = False
        self.version, self.box = 0, None  # the last weights gradient worker 0 published
        self.puts = Counter()  # weights version -> objects put (by any gradient worker)

    def start(self) -> None:
        """Give the workers the driver's state (the initial weights, or a resumed run's)."""
        state = dict(
            agent=self.agent.state_dict(),
            optimizer=self.algo.optim_state_dict(),
            algo=self.algo.state_dict(),
        )
        refs = [submit(w, "load_state", state) for w in self.workers]
        self._received(
            [fetch_within(ref, f"gradient worker {g}", self.timeout) for g, ref in enumerate(refs)]
        )

    def _received(self, published: list) -> None:
        """Count the weights the workers put; keep the last for the next calls."""
        for item in published:
            if item is not None:
                self.puts[item[0]] += 1
                self.version, self.box = item
        forget_old_versions(self.puts, self.version)

    def step(self, itr: int) -> UpdateReport:
        results = self._train_step()
        if not results[0].applied and self.update == "async" and not self._primed:
            # The first async step only starts an all-reduce: step again to apply it.
            results += self._train_step()
        self._primed = True
        last = results[-1]  # every rank applied the same reduced gradient, or none did
        if last.applied:
            self.algo.update_counter += 1
        staleness = [last.staleness] if last.applied else []
        return merge(results, last.applied, last.grad_norm, staleness)

    def _train_step(self) -> list:
        # Every worker gets the weights worker 0 published last (new ones or not: a
        # worker's version only changes with the all-reduced updates of all).
        refs = [
            submit(w, "train_step", self.update == "async", self.version, self.box)
            for w in self.workers
        ]
        results = [
            fetch_within(r, f"gradient worker {g}", self.timeout) for g, r in enumerate(refs)
        ]
        self._received([r.published for r in results])
        return results

    def sync_driver(self) -> None:
        """Copy rank 0's agent, optimizer and algorithm state into the driver's (snapshots)."""
        state = fetch_within(submit(self.workers[0], "state"), "gradient worker 0", self.timeout)
        self.agent.load_state_dict(state["agent"])
        self.algo.load_optim_state_dict(state["optimizer"])
        update_counter = self.algo.update_counter
        self.algo.load_state_dict(state["algo"])
        self.algo.update_counter = update_counter
