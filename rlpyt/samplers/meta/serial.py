"""PEARL's data collection and meta-test protocol, in the main process.

The schedule, the meta-test and the seeding are :mod:`rlpyt.samplers.meta.base`'s; this
sampler runs every item with one :class:`~rlpyt.samplers.meta.collector.MetaCollector`
on the runner's agent. Its data are identical to
:class:`~rlpyt.samplers.meta.MetaCpuSampler`'s for the same seed (with one torch thread,
as the workers use).
"""

from rlpyt.samplers.meta.base import BaseMetaSampler
from rlpyt.samplers.meta.collector import MetaTrajInfo

__all__ = ["MetaSerialSampler", "MetaTrajInfo"]


class MetaSerialSampler(BaseMetaSampler):
    """Collects PEARL's training data and runs its meta-tests in this process; arguments:
    :class:`~rlpyt.samplers.meta.base.BaseMetaSampler`'s."""

    collector = None

    def initialize(self, agent, affinity=None, seed=None, bootstrap_value=False,
                   final_observation=True, traj_info_kwargs=None, rank=0, world_size=1):  # fmt: skip
        """Build the env and the task split (refusing an env without tasks), initialize the
        agent; returns :data:`~rlpyt.algos.qpg.pearl.MetaExamples`."""
        if world_size != 1:
            raise ValueError("MetaSerialSampler runs in one process (world_size 1)")
        self.collector, examples = self.setup(agent, seed, traj_info_kwargs)
        return examples

    def run_collection(self, itr: int, work: list) -> list:
        return [self.collector.collect(item) for item in work]

    def run_meta_test(self, itr: int, items: list) -> list:
        # The meta-test re-seeds the agent's exploration generator: give the training
        # stream its state back (the collection re-seeds it anyway; a user's may not).
        generator = self.agent.exploration_generator
        state = generator.get_state()
        try:
            return [self.collector.meta_test(task, seed) for task, seed in items]
        finally:
            generator.set_state(state)

    @property
    def env(self):
        """The task env (after :meth:`initialize`)."""
        return None if self.collector is None else self.collector.env

    def shutdown(self) -> None:
        if self.collector is not None:
            self.collector.close()
            self.collector = None
