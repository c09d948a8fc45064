"""Asynchronous alternating sampling: two worker groups take turns with the action server."""

from rlpyt.samplers.async_.gpu_sampler import AsyncGpuSampler
from rlpyt.samplers.parallel.gpu.alternating_sampler import AlternatingSampler

__all__ = ["AsyncAlternatingSampler"]


class AsyncAlternatingSampler(AsyncGpuSampler):
    """:class:`~rlpyt.samplers.parallel.gpu.alternating_sampler.AlternatingSampler` run in a
    sampler process (>= 2 workers; non-recurrent agents).

    Arguments: those of ``AlternatingSampler``, plus those of
    :class:`~rlpyt.samplers.async_.base.AsyncSamplerBase`.
    """

    SamplerCls = AlternatingSampler
