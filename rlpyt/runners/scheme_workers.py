"""The Ray scheme's gradient worker: rollouts of its own collection workers -> gradients.

A :class:`GradientWorker` owns ``N_g`` collection workers
(:class:`~rlpyt.samplers.ray.collection.CollectionWorker`) and a copy of the agent and
algorithm. It assembles their rollouts into one ``[T, N_g * B_w]`` batch and computes
the algorithm's gradients on it, one per item of ``algo.minibatch_columns`` (IMPALA:
one per batch; APPO: epochs x minibatches).

**Collection link.** ``sync``: every round sends the current weights to all its
collection workers and gathers one rollout from each, so with one gradient per batch
the policy lag is 0. With pre-emption (``fraction_workers``/``fraction_samples``), once
``ceil(fraction_workers * N_g)`` rollouts are in, the others are told to stop as soon as
they hold ``ceil(fraction_samples * T)`` steps. ``async``: each collection worker is
re-issued as soon as its rollout is taken, with the weights the gradient worker holds
then, so it keeps collecting while gradients are computed; a batch is the first
``N_g`` rollouts to arrive, and V-trace corrects their lag.

**Shortened rollouts** end like a time-limit cut at their last valid step ``n - 1``
(``done`` and ``env_info.timeout`` set, ``timeout_value`` = the value of the next
observation), so returns bootstrap there, and the ``valid`` mask given to
``algo.loss_terms`` is 0 for ``t >= n``.

**Update link** (see :mod:`rlpyt.runners.scheme`). Central: :meth:`GradientWorker.gradient`
returns the gradient for the driver's learner. Decentralised: :meth:`GradientWorker.train_step`
all-reduces the gradient with the other gradient workers (``torch.distributed``, gloo)
and applies it with this worker's own optimizer; with ``async`` update the all-reduce of
one gradient overlaps the computation of the next, which is applied one version late.
"""

import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from rlpyt.algos.optim import GradientTools, Optimizer
from rlpyt.runners.scheme_calls import (
    WorkerDied,
    fetch,
    fetch_within,
    is_remote,
    submit,
    wait_first,
)
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec
from rlpyt.samplers.parallel.errors import WorkerError
from rlpyt.samplers.ray.collection import unbox_weights
from rlpyt.utils.buffer import torchify_buffer

__all__ = ["GradientWorker", "GradientResult", "mark_shortened", "set_learning_rate"]


@dataclass
class GradientResult:
    """What one gradient step reports.

    ``version``: the weights version the gradient was computed with; ``grads`` the
    gradient tensors (central update; None when decentralised); ``n_steps`` valid env
    steps of a new batch (0 for a further minibatch of the same batch); ``lag``: policy
    lag (``version`` - behaviour version) -> number of valid samples; ``opt_info``: loss
    diagnostics; ``staleness``/``grad_norm``/``applied``: set by a decentralised update.
    """

    version: int
    grads: list | None
    n_steps: int
    traj_infos: list
    lag: dict
    opt_info: dict
    n_shortened: int = 0
    min_valid_steps: int = 0
    collect_seconds: float = 0.0
    staleness: int = 0
    grad_norm: float = float("nan")
    applied: bool = True
    worker_versions: list = field(default_factory=list)


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


class GradientWorker:
    """One gradient worker (a Ray actor, or an object in the driver in debug mode).

    Args:
        index: its rank among the gradient workers.
        agent, algo: initialized agent (CPU) and algorithm (not initialized: done here).
        collectors: handles of its collection workers.
        config: the :class:`~rlpyt.runners.scheme.SchemeConfig`.
        batch_T, envs_per_worker: rollout length T and envs per collection worker.
        examples: one env and agent step, to allocate the batch.
        n_itr: updates in the run (the algorithm's learning-rate schedule).
        seed: this worker's torch seed.
        cuda_idx: device of this worker's agent (None: CPU).
    """

    def __init__(
        self,
        *,
        index,
        agent,
        algo,
        collectors,
        config,
        batch_T,
        envs_per_worker,
        examples,
        n_itr,
        seed,
        cuda_idx=None,
    ):
        torch.set_num_threads(config.gradient_torch_threads)
        torch.manual_seed(seed)  # e.g. APPO's minibatch shuffling
        self.index = index
        self.agent = agent
        self.algo = algo
        self.collectors = list(collectors)
        self.config = config
        self.T, self.B_w = batch_T, envs_per_worker
        B = self.B_w * len(self.collectors)
        agent.to_device(cuda_idx)
        _, self.batch_np, _ = build_samples_buffer(
            agent, None, BatchSpec(batch_T, B), True, False, False, dict(examples)
        )
        self.batch = torchify_buffer(self.batch_np)
        self.valid = torch.ones(batch_T, B)
        self.valid_np = self.valid.numpy()
        self.behaviour_version = [0] * len(self.collectors)
        algo.initialize(agent, n_itr, BatchSpec(batch_T, B), True, examples, 1, index)
        self.params = [p for group in algo.optimizer.param_groups for p in group["params"]]
        self.opt = Optimizer(algo.optimizer, GradientTools(algo.optimizer), self.params)
        self.version = 0
        self.weights_box = None
        self.round = 0
        self.n_restarts = 0
        self.incarnations = [None] * len(self.collectors)
        self.inflight = {}  # async collection: ref -> collection worker (position)
        self.columns = iter(())  # the minibatch columns left of the current batch
        self.world_size = 1
        self.pending_reduce = None  # decentralised async: (work, flat, version)
        self.min_steps = max(1, math.ceil(config.fraction_samples * batch_T))

    # -- set-up ---------------------------------------------------------------------

    def start(self) -> list:
        """Wait until every collection worker is up; their ``(pid, incarnation)``."""
        refs = [submit(c, "start") for c in self.collectors]
        for i, ref in enumerate(refs):
            self.incarnations[i] = fetch_within(ref, self._who(i), self.config.startup_timeout)
        return self.incarnations

    def pid(self) -> int:
        return os.getpid()

    def rendezvous_address(self) -> str:
        """``tcp://`` address of a free port on this worker's node (rank 0 of the group)."""
        import ray

        from rlpyt.runners.distributed import free_port

        return f"tcp://{ray.util.get_node_ip_address()}:{free_port()}"

    def join_group(self, init_method: str, world_size: int, timeout: float) -> None:
        """Decentralised update: join the gloo group of the gradient workers."""
        from rlpyt.runners.distributed import broadcast_agent_state, init_process_group

        init_process_group("gloo", init_method, self.index, world_size, timeout)
        self.world_size = world_size
        broadcast_agent_state(self.agent)  # every worker starts from rank 0's weights

    # -- weights ----------------------------------------------------------------------

    def set_weights(self, version: int, box) -> None:
        """Central update: the learner's weights ``version`` (loaded if newer)."""
        if version > self.version:
            self.agent.load_state_dict(unbox_weights(box))
            self.version, self.weights_box = version, box

    def _publish(self) -> None:
        """Decentralised update: put this worker's new weights once for its collectors."""
        state = {k: v.detach().cpu().clone() for k, v in self.agent.state_dict().items()}
        if any(is_remote(c) for c in self.collectors):
            import ray

            self.weights_box = [ray.put(state)]
        else:
            self.weights_box = [state]

    # -- the two kinds of update ------------------------------------------------------

    def gradient(self, version: int, box) -> GradientResult:
        """Central update: the next gradient, with the learner's weights ``version``."""
        self.set_weights(version, box)
        result = self._next_gradient()
        result.grads = [
            torch.zeros_like(p, device="cpu") if p.grad is None else p.grad.detach().cpu()
            for p in self.params
        ]
        return result

    def train_step(self, async_update: bool) -> GradientResult:
        """Decentralised update: the next gradient, all-reduced, applied here.

        With ``async_update`` the all-reduce of this gradient runs while the next one
        is computed; the reduced gradient of the previous call is applied now (the
        first call applies none: ``applied`` False).
        """
        result = self._next_gradient()
        flat = torch.cat([_grad(p).reshape(-1) for p in self.params])
        work = None
        if self.world_size > 1:
            work = dist.all_reduce(flat, op=dist.ReduceOp.SUM, async_op=async_update)
        if async_update:
            pending, self.pending_reduce = self.pending_reduce, (work, flat, result.version)
            if pending is None:
                result.applied = False
                return result
            work, flat, grad_version = pending
            if work is not None:
                work.wait()
        else:
            grad_version = result.version
        result.staleness = self.version - grad_version
        result.grad_norm, result.applied = self._apply(flat / self.world_size)
        return result

    def _apply(self, flat) -> tuple:
        offset = 0
        for p in self.params:
            p.grad = flat[offset : offset + p.numel()].view_as(p).to(p.device).clone()
            offset += p.numel()
        norm, applied = self.algo.guard.apply(self.version, self.opt, self.algo.clip_grad_norm)
        if applied:
            self.algo.update_counter += 1
            self.version += 1
            self._publish()
        return float(norm), applied

    def load_state(self, state: dict) -> None:
        """Decentralised update: start from the driver's agent, optimizer and algorithm state."""
        self.agent.load_state_dict(state["agent"])
        self.algo.load_optim_state_dict(state["optimizer"])
        self.algo.load_state_dict(state["algo"])
        # Newer than the collection workers' initial weights (0); after a resume, the
        # learning-rate schedule continues from the updates already applied.
        self.version = 1 + self.algo.update_counter
        self._publish()

    def state(self) -> dict:
        """Decentralised update: what the driver snapshots (agent, optimizer, version)."""
        return dict(
            agent=self.agent.state_dict(),
            optimizer=self.algo.optim_state_dict(),
            algo=self.algo.state_dict(),
            version=self.version,
        )

    def close(self) -> None:
        """Leave the process group (decentralised); the driver kills the actor after."""
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
            self.world_size = 1

    # -- gradients --------------------------------------------------------------------

    def _next_gradient(self) -> GradientResult:
        columns = next(self.columns, None)
        new_batch = columns is None
        if new_batch:
            collected = self._collect_batch()
            self.columns = self.algo.minibatch_columns(self.valid.shape[1])
            columns = next(self.columns)
        set_learning_rate(self.algo, self.version)
        self.agent.train_mode(self.version)
        valid = self.valid[:, columns]
        terms = self.algo.loss_terms(self.batch[:, columns], valid)
        for p in self.params:
            p.grad = None
        loss = self.algo.total_loss(terms)
        loss.backward()
        versions = torch.tensor(self.behaviour_version, dtype=torch.long)
        versions = versions.repeat_interleave(self.B_w)[columns]
        counts = valid.sum(dim=0).long()
        lag = Counter()
        for v, n in zip(versions.tolist(), counts.tolist()):
            lag[self.version - v] += n
        result = GradientResult(
            version=self.version,
            grads=None,
            n_steps=0,
            traj_infos=[],
            lag=dict(lag),
            opt_info=dict(
                loss=loss.item(),
                entropy=float(terms.entropy),
                perplexity=float(terms.perplexity),
                rho=float(terms.rho),
            ),
        )
        if new_batch:
            n_steps, traj_infos, n_short, min_valid, seconds = collected
            result.n_steps, result.traj_infos = n_steps, traj_infos
            result.n_shortened, result.min_valid_steps = n_short, min_valid
            result.collect_seconds = seconds
        return result

    # -- collection -------------------------------------------------------------------

    def _collect_batch(self) -> tuple:
        """Fill the batch with ``N_g`` rollouts; ``(valid steps, traj_infos, shortened,
        fewest valid steps of a rollout, seconds)``."""
        start = time.monotonic()
        self.valid_np[:] = 1
        if self.config.collection == "sync":
            rollouts = self._collect_sync()
        else:
            rollouts = self._collect_async()
        traj_infos, n_steps, n_short = [], 0, 0
        for _position, rollout in rollouts:
            traj_infos.extend(rollout.traj_infos)
            n_steps += rollout.n_steps * self.B_w
            n_short += rollout.n_steps < self.T
        min_valid = min(r.n_steps for _, r in rollouts)
        return n_steps, traj_infos, n_short, min_valid, time.monotonic() - start

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
        preempting = self.config.fraction_samples < 1 or self.config.fraction_workers < 1
        min_steps = self.min_steps if preempting else self.T
        quorum = math.ceil(self.config.fraction_workers * n)
        pending = {self._issue(i, self.round, min_steps): i for i in range(n)}
        rollouts, signalled = [], False
        while pending:
            position, rollout = self._take(pending, self.round, min_steps)
            self._store(len(rollouts), rollout)
            rollouts.append((position, rollout))
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
            rollouts.append((position, rollout))
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
                    f"{self._who(position)} did not finish a rollout within "
                    f"rollout_timeout={self.config.rollout_timeout} s (an env step hung?)"
                )
            position = pending.pop(ref)
            try:
                rollout = fetch(ref, self._who(position))
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
                err = WorkerDied(f"{self._who(position)} died and was restarted by Ray")
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
                self.incarnations[position] = fetch(ref, self._who(position), timeout=0.1)
                break
            except WorkerError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # The restarted worker holds its initial weights: collect() loads the current
        # ones, as its version (0) is older.

    def _who(self, position: int) -> str:
        pid = self.incarnations[position][0] if self.incarnations[position] else None
        rank = self.index * len(self.collectors) + position
        return f"collection worker {rank} (pid {pid}, of gradient worker {self.index})"


def set_learning_rate(algo, itr: int) -> None:
    """The algorithm's learning rate of update ``itr`` (its schedule) in its optimizer."""
    lr = algo.lr_at(itr)
    for group in algo.optimizer.param_groups:
        group["lr"] = lr


def _grad(p) -> torch.Tensor:
    return torch.zeros_like(p) if p.grad is None else p.grad.detach()
