"""Asynchronous CPU-parallel sampling: a sampler process driving CPU worker processes."""

from rlpyt.samplers.async_.base import AsyncSamplerBase
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler

__all__ = ["AsyncCpuSampler"]


class AsyncCpuSampler(AsyncSamplerBase):
    """:class:`~rlpyt.samplers.parallel.cpu.sampler.CpuSampler` run in a sampler process.

    The sampler process starts the workers (``affinity["workers_cpus"]``); each
    acts with a CPU copy of the agent, refreshed from the optimizer's shared
    weights before a batch when they are newer. Arguments: those of
    ``CpuSampler``, plus those of :class:`~rlpyt.samplers.async_.base.AsyncSamplerBase`.
    """

    SamplerCls = CpuSampler
