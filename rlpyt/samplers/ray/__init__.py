"""Ray backend: :class:`~rlpyt.samplers.ray.sampler.RaySampler` (optional extra ``rlpyt[ray]``).

Import it from :mod:`rlpyt.samplers.ray.sampler`; this package imports nothing,
so that ``import rlpyt`` works without Ray installed.
"""
