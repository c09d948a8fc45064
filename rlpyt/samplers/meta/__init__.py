"""Data collection and meta-testing for meta-RL (PEARL): :class:`MetaSerialSampler` (in the
main process) and :class:`MetaCpuSampler` (tasks spread over worker processes), which give
identical data for the same seed."""

from rlpyt.samplers.meta.base import BaseMetaSampler
from rlpyt.samplers.meta.collector import MetaTrajInfo
from rlpyt.samplers.meta.parallel import MetaCpuSampler
from rlpyt.samplers.meta.serial import MetaSerialSampler

__all__ = ["BaseMetaSampler", "MetaCpuSampler", "MetaSerialSampler", "MetaTrajInfo"]
