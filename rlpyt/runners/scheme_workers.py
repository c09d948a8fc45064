"""The Ray scheme's gradient worker: rollouts of its own collection workers -> gradients.

A :class:`GradientWorker` owns ``N_g`` collection workers
(:class:`~rlpyt.samplers.ray.collection.CollectionWorker`) and a copy of the agent and
algorithm. It assembles their rollouts into one ``[T, N_g * B_w]`` batch and computes
the algorithm's gradients on it, one per item of ``algo.minibatch_columns`` (IMPALA:
one per batch; APPO: epochs x minibatches).

**Collection link** (:class:`~rlpyt.runners.scheme_collection.CollectionLink`): ``sync``
gathers one rollout of every collection worker per batch, with the current weights (and
straggler pre-emption); ``async`` re-issues each collection worker as soon as its rollout is
taken. Shortened rollouts are cut like a time limit and masked out of the loss by ``valid``.

**Update link** (see :mod:`rlpyt.runners.scheme`). Central: :meth:`GradientWorker.gradient`
returns the gradient for the driver's learner. Decentralised: :meth:`GradientWorker.train_step`
all-reduces the gradient with the other gradient workers (``torch.distributed``, gloo)
and applies it with this worker's own optimizer; with ``async`` update the all-reduce of
one gradient overlaps the computation of the next, which is applied one version late.
The weights of each new version are equal on every gradient worker: worker 0 alone puts
them in the object store, and the driver hands that one reference to the others with
their next :meth:`GradientWorker.train_step` (one put per version, not M).
"""

import os
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from rlpyt.algos.optim import GradientTools, Optimizer
from rlpyt.runners.scheme_calls import is_remote
from rlpyt.runners.scheme_collection import CollectionLink
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec
from rlpyt.samplers.ray.collection import box_weights, unbox_weights
from rlpyt.utils.buffer import torchify_buffer
from rlpyt.utils.malloc import keep_freed_memory

__all__ = ["GradientWorker", "GradientResult", "set_learning_rate"]


@dataclass
class GradientResult:
    """What one gradient step reports.

    ``version``: the weights version the gradient was computed with; ``grads`` the
    gradient tensors (central update; None when decentralised); ``n_steps`` valid env
    steps of a new batch (0 for a further minibatch of the same batch); ``lag``: policy
    lag (``version`` - behaviour version) -> number of valid samples; ``opt_info``: loss
    diagnostics; ``staleness``/``grad_norm``/``applied``: set by a decentralised update;
    ``published``: ``(version, box)`` of the weights this call put in the object store
    (decentralised, gradient worker 0; None otherwise); ``weights_ids``: weights version ->
    the published weights objects a new batch's rollouts were collected with.
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
    published: tuple | None = None
    weights_ids: dict = field(default_factory=dict)


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
        if config.keep_freed_memory:
            keep_freed_memory()  # its training steps reuse what the last one freed
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
        self.link = CollectionLink(
            index=index,
            collectors=self.collectors,
            config=config,
            batch_np=self.batch_np,
            valid_np=self.valid.numpy(),
            batch_T=batch_T,
            envs_per_worker=envs_per_worker,
        )
        algo.initialize(agent, n_itr, BatchSpec(batch_T, B), True, examples, 1, index)
        self.params = [p for group in algo.optimizer.param_groups for p in group["params"]]
        self.opt = Optimizer(algo.optimizer, GradientTools(algo.optimizer), self.params)
        self.version = 0
        self.weights_box = None
        self.published = None  # decentralised: (version, box) put since the last report
        self.columns = iter(())  # the minibatch columns left of the current batch
        self.world_size = 1
        self.pending_reduce = None  # decentralised async: (work, flat, version)

    # -- set-up ---------------------------------------------------------------------

    def start(self) -> list:
        """Wait until every collection worker is up; their ``(pid, token, env process pids)``."""
        return self.link.start()

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
        """Decentralised update: worker 0 puts the new weights in the object store (the
        others' are equal; the driver hands them worker 0's reference, see
        :meth:`receive_weights`)."""
        if self.index != 0:
            return
        remote = any(is_remote(c) for c in self.collectors)
        self.weights_box = box_weights(self.agent, remote)
        self.published = (self.version, self.weights_box)

    def receive_weights(self, version: int, box) -> None:
        """Decentralised update: the box of weights ``version`` that worker 0 published,
        for this worker's collection workers (its own weights must be that version)."""
        if box is None:
            return
        if version != self.version:
            raise RuntimeError(
                f"gradient worker {self.index} holds weights version {self.version}, but "
                f"gradient worker 0 published version {version}: their all-reduced updates "
                "went out of step"
            )
        self.weights_box = box

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

    def train_step(self, async_update: bool, version: int = 0, box=None) -> GradientResult:
        """Decentralised update: the next gradient, all-reduced, applied here.

        ``version``, ``box``: the weights worker 0 published last (:meth:`receive_weights`;
        None: none new). With ``async_update`` the all-reduce of this gradient runs while
        the next one is computed; the reduced gradient of the previous call is applied now
        (the first call applies none: ``applied`` False).
        """
        self.receive_weights(version, box)
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
        result.published, self.published = self.published, None
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

    def load_state(self, state: dict) -> tuple | None:
        """Decentralised update: start from the driver's agent, optimizer and algorithm
        state; returns the ``(version, box)`` published (worker 0), else None."""
        self.agent.load_state_dict(state["agent"])
        self.algo.load_optim_state_dict(state["optimizer"])
        self.algo.load_state_dict(state["algo"])
        # Newer than the collection workers' initial weights (0); after a resume, the
        # learning-rate schedule continues from the updates already applied.
        self.version = 1 + self.algo.update_counter
        self._publish()
        published, self.published = self.published, None
        return published

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
            gathered = self.link.collect_batch(self.version, self.weights_box)
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
        versions = torch.tensor(self.link.behaviour_version, dtype=torch.long)
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
            result.n_steps, result.traj_infos = gathered.n_steps, gathered.traj_infos
            result.n_shortened = gathered.n_shortened
            result.min_valid_steps = gathered.min_valid_steps
            result.collect_seconds = gathered.seconds
            result.weights_ids = gathered.weights_ids
        return result


def set_learning_rate(algo, itr: int) -> None:
    """The algorithm's learning rate of update ``itr`` (its schedule) in its optimizer."""
    lr = algo.lr_at(itr)
    for group in algo.optimizer.param_groups:
        group["lr"] = lr


def _grad(p) -> torch.Tensor:
    return torch.zeros_like(p) if p.grad is None else p.grad.detach()
