"""The sample layout shared by samplers, agents and algorithms, and TrajInfo.

Every sample array has leading dims ``[T, B]``: time first, then the batch of
environments. ``prev_action[t]`` and ``prev_reward[t]`` are what the agent saw
before acting at ``t`` (zero, the null value, right after a reset).
"""

from collections import namedtuple

from rlpyt.utils.collections import AttrDict, namedarraytuple

__all__ = [
    "BatchSpec",
    "Samples",
    "AgentSamples",
    "AgentSamplesBsv",
    "EnvSamples",
    "EnvSamplesFo",
    "TrajInfo",
    "TrajInfoFactory",
]

Samples = namedarraytuple("Samples", ["agent", "env"])
AgentSamples = namedarraytuple("AgentSamples", ["action", "prev_action", "agent_info"])
# For algorithms that bootstrap returns from a value estimate: ``bootstrap_value``
# [1, B] is V of the observation after the batch; ``timeout_value`` [T, B] is V of the
# final observation of an episode cut by a time limit at t (0 elsewhere), because that
# observation is gone from the samples once the env resets.
AgentSamplesBsv = namedarraytuple(
    "AgentSamplesBsv",
    ["action", "prev_action", "agent_info", "bootstrap_value", "timeout_value"],
)
EnvSamples = namedarraytuple(
    "EnvSamples", ["observation", "reward", "prev_reward", "done", "env_info"]
)
# For replay-based algorithms: ``final_observation[t, b]`` is the last observation of an
# episode cut by a time limit at t (the env resets right after, so the next stored
# observation is a new episode's). Written only where ``env_info.timeout`` is true and
# meaningful only there: stale elsewhere (it is not cleared between batches).
EnvSamplesFo = namedarraytuple(
    "EnvSamplesFo",
    ["observation", "reward", "prev_reward", "done", "env_info", "final_observation"],
)


class BatchSpec(namedtuple("BatchSpec", ["T", "B"])):
    """``T`` time steps for each of ``B`` environments per sampler batch."""

    __slots__ = ()

    @property
    def size(self) -> int:
        return self.T * self.B


class TrajInfo(AttrDict):
    """Running statistics of one trajectory, logged when it ends.

    Fields whose names start with ``_`` are bookkeeping and are not logged.
    Subclasses add fields in ``__init__`` and update them in ``step``.
    """

    _discount = 1.0  # the default; a sampler's TrajInfoFactory sets the run's per record

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.Length = 0
        self.Return = 0.0
        self.NonzeroRewards = 0
        self.DiscountedReturn = 0.0
        self._cur_discount = 1.0

    def step(self, observation, action, reward, done, agent_info, env_info) -> None:
        """Fold in one step. The base class reads only ``reward``.

        Collectors call this once per env per step: item access keeps it at
        about 1 us (each ``AttrDict`` attribute read or write is a Python-level
        call, which made it 5 us).
        """
        reward = float(reward)
        self["Length"] += 1
        self["Return"] += reward
        self["NonzeroRewards"] += reward != 0
        self["DiscountedReturn"] += self["_cur_discount"] * reward
        self["_cur_discount"] *= self._discount

    def terminate(self, observation) -> "TrajInfo":
        """Called when the trajectory ends; returns the finished record."""
        return self


class TrajInfoFactory:
    """Makes one sampler's trajectory records: ``TrajInfoCls()`` with the run's settings.

    ``traj_info_kwargs`` (the runner's, e.g. ``discount`` from the algorithm) become
    ``_<name>`` attributes of each record, as the original rlpyt's class attributes were,
    but per sampler instance: the class is never changed, so two samplers (or two runs in
    one process) with different settings do not meet. The settings are instance
    attributes, not dict items, so they are not logged. Picklable when ``TrajInfoCls`` is
    (spawned workers get the factory itself).
    """

    def __init__(self, TrajInfoCls, traj_info_kwargs=None):
        self.TrajInfoCls = TrajInfoCls
        self.settings = {"_" + k: v for k, v in (traj_info_kwargs or {}).items()}

    def __call__(self):
        info = self.TrajInfoCls()
        for name, value in self.settings.items():
            # The instance __dict__ (AttrDict's own setattr writes dict items, which are logged).
            object.__setattr__(info, name, value)
        return info
