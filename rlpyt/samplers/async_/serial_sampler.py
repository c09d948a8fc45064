"""Asynchronous serial sampling: one sampler process steps all envs with its own agent copy."""

from rlpyt.samplers.async_.base import AsyncSamplerBase
from rlpyt.samplers.serial.sampler import SerialSampler

__all__ = ["AsyncSerialSampler"]


class AsyncSerialSampler(AsyncSamplerBase):
    """:class:`~rlpyt.samplers.serial.sampler.SerialSampler` run in a sampler process.

    Arguments: those of ``SerialSampler``, plus ``max_lead``, ``start_method`` and
    ``startup_timeout`` of :class:`~rlpyt.samplers.async_.base.AsyncSamplerBase`.
    """

    SamplerCls = SerialSampler
