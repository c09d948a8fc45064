"""Ray backend: :class:`~rlpyt.samplers.ray.sampler.RaySampler` (optional extra ``rlpyt[ray]``).

``from rlpyt.samplers.ray import RaySampler`` imports Ray on first use only, so that
``import rlpyt`` (and this package) works without Ray installed. Modules:
:mod:`~rlpyt.samplers.ray.sampler` (the sampler), :mod:`~rlpyt.samplers.ray.pool`
(starting, calling, restarting and killing the actors), :mod:`~rlpyt.samplers.ray.actor`
(one actor) and :mod:`~rlpyt.samplers.ray.weights` (the weights broadcast).
"""

__all__ = ["RaySampler"]


def __getattr__(name):
    if name == "RaySampler":
        from rlpyt.samplers.ray.sampler import RaySampler

        return RaySampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
