"""CPU-parallel sampling: each worker steps its envs with its own CPU agent.

The agent's model lives in shared memory: the optimizer's in-place updates
are what the workers act with at the next batch (a learner on the GPU copies
its weights into the shared CPU model first, ``agent.sync_shared_memory()``).
"""

from rlpyt.samplers.parallel.base import ParallelSamplerBase
from rlpyt.samplers.parallel.cpu.collectors import CpuEvalCollector, CpuResetCollector

__all__ = ["CpuSampler"]


class CpuSampler(ParallelSamplerBase):
    """Workers step envs and choose actions with a CPU copy of the agent.

    Keyword arguments: those of :class:`~rlpyt.samplers.parallel.base.ParallelSamplerBase`;
    ``CollectorCls`` defaults to :class:`CpuResetCollector`, ``eval_CollectorCls``
    to :class:`CpuEvalCollector`.
    """

    def __init__(
        self, *args, CollectorCls=CpuResetCollector, eval_CollectorCls=CpuEvalCollector, **kwargs
    ):
        super().__init__(
            *args, CollectorCls=CollectorCls, eval_CollectorCls=eval_CollectorCls, **kwargs
        )
