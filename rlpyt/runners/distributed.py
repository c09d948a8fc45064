"""Collectives that keep data-parallel learners identical (``torch.distributed``).

Used by :class:`~rlpyt.runners.sync_rl.SyncRl`: every learner holds its own copy
of the agent, and these pieces make the copies take the same steps.

* :func:`broadcast_agent_state` copies one rank's parameters and buffers to all.
* :class:`GradientAllReduce` averages every parameter's gradient over the ranks
  during ``backward``, as ``DistributedDataParallel``'s reducer does, without
  wrapping the model (which would rename its ``state_dict`` keys and hide its
  methods); unbucketed, which costs nothing for RL's small networks.
* :class:`ObsRmsAllReduce` folds every rank's batch into each
  :class:`~rlpyt.models.running_mean_std.RunningMeanStdModel`.
"""

import datetime
import socket

import torch
import torch.distributed as dist

from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.utils.tensor import infer_leading_dims

__all__ = [
    "GradientAllReduce",
    "ObsRmsAllReduce",
    "agent_modules",
    "broadcast_agent_state",
    "trained_parameters",
    "free_port",
    "init_process_group",
]


def agent_modules(agent) -> list:
    """The torch modules an agent holds (its model, critics, targets), deduplicated."""
    modules, seen = [], set()
    for value in vars(agent).values():
        if isinstance(value, torch.nn.Module) and id(value) not in seen:
            seen.add(id(value))
            modules.append(value)
    return modules


def trained_parameters(agent, algo) -> list:
    """Every tensor a gradient step updates: the agent's parameters and whatever else
    the algorithm's optimizers hold (e.g. SAC's learned temperature ``log_alpha``)."""
    params = [p for module in agent_modules(agent) for p in module.parameters()]
    for optimizer in algo.torch_optimizers():
        params += [p for group in optimizer.param_groups for p in group["params"]]
    unique = {id(p): p for p in params if p.requires_grad}
    return list(unique.values())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for the rendezvous of a local group)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_process_group(backend: str, init_method: str, rank: int, world_size: int, timeout: float):
    """Join the default process group; collectives fail after ``timeout`` seconds."""
    # torch._dynamo, which the first torch.optim.Optimizer imports, keeps a group that
    # exists when it is imported alive past destroy_process_group: its threads and
    # sockets then outlive the run, and a process forked later can hang or crash on
    # them. Imported first, it does not.
    import torch._dynamo  # noqa: F401

    dist.init_process_group(
        backend=backend,
        init_method=init_method,
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout),
    )


def broadcast_agent_state(agent, src: int = 0, group=None):
    """Copy rank ``src``'s parameters and buffers into every rank's agent, in place."""
    for module in agent_modules(agent):
        for tensor in module.state_dict(keep_vars=True).values():
            dist.broadcast(tensor.data, src=src, group=group)
    agent.sync_shared_memory()


class GradientAllReduce:
    """Averages the gradients of ``params`` over the process group during backward.

    A hook on each parameter (``register_post_accumulate_grad_hook``) all-reduces
    the gradient once it is accumulated. Every rank runs the same backward
    passes over the same graphs, so the collectives pair up in the same order.
    """

    def __init__(self, params, world_size: int, group=None):
        self.world_size = world_size
        self.group = group
        unique = {id(p): p for p in params if p.requires_grad}
        self._handles = [p.register_post_accumulate_grad_hook(self._hook) for p in unique.values()]

    def _hook(self, p):
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM, group=self.group)
        p.grad.div_(self.world_size)

    def remove(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []


class ObsRmsAllReduce:
    """Makes every ``RunningMeanStdModel`` of the modules fold in all ranks' batches.

    Each instance's ``update`` is replaced (on the instance, not the class) by
    one that gathers the batch moments ``(count, mean, M2)`` of every rank and
    folds them in as one batch (Chan et al.'s parallel formula), in rank order,
    so every rank ends with identical statistics: those of the combined batch.
    :meth:`remove` restores the original methods.
    """

    def __init__(self, modules, world_size: int, group=None):
        self.world_size = world_size
        self.group = group
        self._patched = []
        seen = set()
        for module in modules:
            for sub in module.modules():
                if isinstance(sub, RunningMeanStdModel) and id(sub) not in seen:
                    seen.add(id(sub))
                    sub.update = self._make_update(sub)
                    self._patched.append(sub)

    def _make_update(self, rms):
        @torch.no_grad()
        def update(x):
            self.update(rms, x)

        return update

    def _gather_moments(self, rms, x):
        """``(counts, means, m2s)`` of every rank's batch, ``[world_size, ...]``, in rank order."""
        _, T, B, _ = infer_leading_dims(x, len(rms.shape))
        x = x.reshape(T * B, *rms.shape).to(device=rms.mean.device, dtype=torch.float64)
        numel = rms.mean.numel()
        local = torch.zeros(1 + 2 * numel, dtype=torch.float64, device=rms.mean.device)
        local[0] = x.shape[0]
        if x.shape[0] > 0:
            mean = x.mean(dim=0)
            local[1 : 1 + numel] = mean.reshape(-1)
            local[1 + numel :] = ((x - mean) ** 2).sum(dim=0).reshape(-1)
        gathered = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(gathered, local, group=self.group)
        gathered = torch.stack(gathered)
        return gathered[:, 0], gathered[:, 1 : 1 + numel], gathered[:, 1 + numel :]

    @torch.no_grad()
    def update(self, rms, x: torch.Tensor):
        """Fold this rank's batch ``x`` and every other rank's into ``rms``."""
        counts, means, m2s = self._gather_moments(rms, x)
        n_total = counts.sum()
        if float(n_total) == 0:
            return
        batch_mean = (counts[:, None] * means).sum(dim=0) / n_total
        batch_m2 = (m2s + counts[:, None] * (means - batch_mean) ** 2).sum(dim=0)
        batch_mean = batch_mean.reshape(rms.shape)
        batch_var = (batch_m2 / n_total).reshape(rms.shape)
        # The running fold, as RunningMeanStdModel.update does it for one batch.
        total = rms.count + n_total
        delta = batch_mean - rms.mean
        m2 = rms.var * rms.count + batch_var * n_total + delta**2 * rms.count * n_total / total
        rms.mean += delta * n_total / total
        rms.var.copy_(m2 / total)
        rms.count.copy_(total)

    def remove(self):
        for rms in self._patched:
            del rms.update  # the class's method shows through again
        self._patched = []
