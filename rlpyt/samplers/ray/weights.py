"""The weights a Ray actor acts with, and their broadcast through the object store.

:func:`acting_tensors` names what a sampler worker acts with; :func:`load_acting_tensors`
writes them into an actor's agent copy. :class:`WeightsBroadcast` puts them in the
object store only when they changed since the last put: a change is detected from
the version counters of the learner's tensors (``Tensor._version``, bumped by every
in-place write: ``optimizer.step()``, ``load_state_dict``, ``fill_``). Those are the
agent's ``model`` when it is not the shared CPU model itself (a GPU learner), read
*before* ``agent.sync_shared_memory()``, whose copy would bump the shared model's
counters at every batch. Tensors without a version counter (inference tensors) are
broadcast at every batch. Each put bumps ``version``; an actor loads weights only
when they are newer than its own.
"""

import torch

__all__ = ["WeightsBroadcast", "acting_tensors", "load_acting_tensors"]


def acting_tensors(agent) -> dict:
    """The tensors a sampler worker acts with, by name.

    They are what :class:`~rlpyt.samplers.parallel.cpu.sampler.CpuSampler` workers
    see through shared memory: the agent's shared CPU model (``agent.shared_model``,
    set by ``agent.initialize(share_memory=True)``) and any other tensor attribute
    of the agent in shared memory (e.g. the Q-policy-gradient agents' ``min_itr_learn``).
    """
    tensors = {}
    model = agent.shared_model
    if model is not None:
        for name, value in model.state_dict().items():
            tensors["model." + name] = value
    for name, value in vars(agent).items():
        if isinstance(value, torch.Tensor) and value.is_shared():
            tensors["attr." + name] = value
    return tensors


def load_acting_tensors(agent, tensors: dict) -> None:
    """Write ``tensors`` (from :func:`acting_tensors` of the master's agent) into ``agent``."""
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    if model_state:
        agent.shared_model.load_state_dict(model_state)
    for key, value in tensors.items():
        if key.startswith("attr."):
            # The name of one of the agent's own tensor attributes (from acting_tensors).
            getattr(agent, key[len("attr.") :]).copy_(value)


class WeightsBroadcast:
    """The master's agent weights in the object store, put again only when they changed.

    ``version`` 0 is the agent the actors were built with (nothing put yet);
    ``ref`` is the object-store reference of the latest put (None before the first);
    ``n_puts`` counts puts.
    """

    def __init__(self, agent):
        self.agent = agent
        self.version = 0
        self.ref = None
        self.n_puts = 0
        self._fingerprint = _fingerprint(_source_tensors(agent))

    def update(self, put) -> bool:
        """Put the acting tensors with ``put`` (``ray.put``) if they changed; whether it did."""
        fingerprint = _fingerprint(_source_tensors(self.agent))
        if fingerprint is not None and fingerprint == self._fingerprint:
            return False
        self.agent.sync_shared_memory()
        tensors = acting_tensors(self.agent)
        self.ref = put({k: v.detach().cpu().clone() for k, v in tensors.items()})
        self._fingerprint = fingerprint
        self.version += 1
        self.n_puts += 1
        return True

    def release(self):
        self.ref = None


def _source_tensors(agent) -> dict:
    """The tensors whose change means new acting weights: the learner's model and shared attributes."""
    tensors = acting_tensors(agent)
    model, shared = agent.model, agent.shared_model
    if shared is not None and model is not None and model is not shared:
        tensors = {k: v for k, v in tensors.items() if not k.startswith("model.")}
        for name, value in model.state_dict().items():
            tensors["learner." + name] = value
    return tensors


def _fingerprint(tensors: dict):
    """The tensors' names, storages and version counters (None: not trackable)."""
    try:
        return tuple((k, v.data_ptr(), v._version) for k, v in tensors.items())
    except RuntimeError:  # inference tensors have no version counter
        return None
