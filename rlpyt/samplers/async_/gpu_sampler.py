"""Asynchronous GPU-style sampling: workers step envs, the sampler process selects actions.

The sampler process forks from the training process, which may already use
CUDA, and a forked child cannot use CUDA: the batched action selection runs on
the CPU in the sampler process (a message says so where CUDA is present). The
optimizer still trains on the GPU given by ``affinity["cuda_idx"]``.
"""

import warnings

import torch

from rlpyt.samplers.async_.base import AsyncSamplerBase
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler

__all__ = ["AsyncGpuSampler"]


class AsyncGpuSampler(AsyncSamplerBase):
    """:class:`~rlpyt.samplers.parallel.gpu.sampler.GpuSampler` run in a sampler process.

    Arguments: those of ``GpuSampler``, plus those of
    :class:`~rlpyt.samplers.async_.base.AsyncSamplerBase`.
    """

    SamplerCls = GpuSampler

    def async_initialize(self, agent, *args, **kwargs):
        if torch.cuda.is_available():
            warnings.warn(
                f"{type(self).__name__}: action selection runs on the CPU in the sampler "
                "process (a forked process cannot use CUDA); the optimizer uses the GPU",
                stacklevel=2,
            )
        return super().async_initialize(agent, *args, **kwargs)
