"""Data collection and meta-testing for meta-RL (PEARL): :class:`MetaSerialSampler`."""

from rlpyt.samplers.meta.serial import MetaSerialSampler, MetaTrajInfo

__all__ = ["MetaSerialSampler", "MetaTrajInfo"]
