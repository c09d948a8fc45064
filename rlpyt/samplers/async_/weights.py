"""The optimizer's weights in shared memory, read by the async sampler process.

Numpy copies of the agent model's ``state_dict`` (its parameters and buffers,
e.g. observation-normalisation statistics) behind a lock, with a version
counter: the optimizer writes new weights and bumps the version; the sampler
process loads them (under the same lock, so never a torn read) before a batch
only when the version is newer than its own.
"""

import numpy as np
import torch

from rlpyt.utils.shared_memory import allocate_shared_arrays, release_shared_memory

__all__ = ["SharedWeights"]


class SharedWeights:
    """A model's ``state_dict`` in shared memory, with a lock and a version counter.

    Built in the training process from the model; a forked (or spawned) sampler
    process reads it. ``version`` is the version of the model's current weights
    (0: the initial weights; a runner resuming a run may number them on, e.g. by
    its gradient updates so far).
    """

    def __init__(self, model: torch.nn.Module, ctx, timeout: float = 60.0, version: int = 0):
        state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        self.keys = list(state)
        self.arrays = allocate_shared_arrays([(v.shape, v.dtype) for v in state.values()])
        self.lock = ctx.Lock()
        self.version = ctx.RawValue("q", 0)
        self.timeout = timeout
        self.write(model, version=int(version))

    def _acquire(self, what):
        if not self.lock.acquire(timeout=self.timeout):
            raise TimeoutError(
                f"shared weights lock not acquired within {self.timeout:g} s to {what}: "
                "the other process hung or died holding it"
            )

    def write(self, model: torch.nn.Module, version: int | None = None) -> None:
        """Copy ``model``'s weights in and bump the version, or set it to ``version``
        (optimizer side; versions must not decrease, or readers skip the weights)."""
        self._acquire("write new weights")
        try:
            for dst, v in zip(self.arrays, model.state_dict().values()):
                np.copyto(dst, v.detach().cpu().numpy())
            self.version.value = self.version.value + 1 if version is None else version
        finally:
            self.lock.release()

    def read_into(self, model: torch.nn.Module, have_version: int) -> int:
        """Load the weights into ``model`` if newer than ``have_version``; returns the version held."""
        if self.version.value <= have_version:
            return have_version
        self._acquire("read new weights")
        try:
            state = {k: torch.from_numpy(np.array(a)) for k, a in zip(self.keys, self.arrays)}
            version = self.version.value
        finally:
            self.lock.release()
        model.load_state_dict(state)
        return version

    def release(self) -> None:
        release_shared_memory(self.arrays)
