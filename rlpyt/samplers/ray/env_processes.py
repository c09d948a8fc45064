"""A collection worker's envs stepped in their own processes, its policy acting for all.

With ``SchemeConfig.env_processes = k >= 1``, a
:class:`~rlpyt.samplers.ray.collection.CollectionWorker` splits its ``B_w`` envs over
``k`` env processes (contiguous groups, as :func:`~rlpyt.samplers.parallel.env_groups.split_envs`
splits them). :class:`EnvProcesses` is the GPU sampler's design
(:class:`~rlpyt.samplers.parallel.gpu.sampler.GpuSampler`) driven by the collection
worker's agent: at each time step the collection worker runs one ``agent.step`` over all
``B_w`` envs and writes the actions into a shared step buffer; the env processes step
their envs in parallel (:class:`~rlpyt.samplers.parallel.gpu.collectors.GpuResetCollector`)
and write rewards, dones and env infos into the shared samples buffer.

**Same samples as in-process envs.** Env rank ``r`` is seeded
``derive_seed(seed, "env", r)`` and decorrelated with ``derive_seed(seed, "decorrelate", r)``
in both paths, and the agent is called exactly as
:class:`~rlpyt.samplers.parallel.cpu.collectors.CpuResetCollector` calls it (one ``step``
per time step over all envs, ``value`` at time-limit cuts and for the bootstrap value,
``reset_one`` after an episode ends): for the same torch random state a rollout is
identical, field for field, with ``env_processes`` 0 or k (tested on CartPole).

**Processes.** Started with ``start_method`` (``fork``, ``spawn`` or ``forkserver``) from
the collection worker's process: a Ray actor, or the driver in the scheme's debug mode.
The master-side machinery is :class:`~rlpyt.samplers.parallel.base.ParallelSamplerBase`'s:
every wait watches the pipes and the process sentinels with a deadline, so an env process
that raises, dies or hangs ends the rollout with a
:class:`~rlpyt.samplers.parallel.errors.WorkerError` naming it and its collection worker,
after every env process has been stopped. :meth:`EnvProcesses.shutdown` (close, join,
terminate, kill, shared memory freed) runs when the collection worker closes; an env process
whose collection worker was killed sees it gone within a second and exits.
"""

import os

import numpy as np

from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.utils.buffer import buffer_func

__all__ = ["EnvProcesses"]


class EnvProcesses(GpuSampler):
    """The envs of one collection worker in ``spec.env_processes`` processes.

    Args:
        spec: the collection worker's
            :class:`~rlpyt.samplers.ray.collection.CollectionSpec` (envs, seeds, examples,
            ``env_processes``, ``env_start_method``, timeouts).
        agent: the collection worker's initialized CPU agent; it acts here.

    Attributes: ``n_steps`` (time steps of the last rollout), ``pids`` (the env processes').
    """

    def __init__(self, spec, agent):
        T, B = spec.batch_spec
        super().__init__(
            EnvCls=spec.EnvCls,
            env_kwargs=spec.env_kwargs,
            batch_T=T,
            batch_B=B,
            max_decorrelation_steps=spec.max_decorrelation_steps,
            start_method=spec.env_start_method,
            batch_timeout=spec.env_step_timeout,
            startup_timeout=spec.startup_timeout,
            nan_check=spec.nan_check,
        )
        self.rank = spec.rank
        self.seed = spec.seed
        self.n_steps = 0
        # The env processes write the env fields: those in shared memory, the agent's here.
        samples_pyt, samples_np, examples = build_samples_buffer(
            agent,
            None,
            spec.batch_spec,
            bootstrap_value=True,
            agent_shared=False,
            env_shared=True,
            examples=dict(spec.examples),
        )
        self.start_workers(
            agent,
            samples_pyt,
            samples_np,
            examples,
            spec.traj_info_factory,
            list(spec.env_ranks),
            spec.global_B,
            affinity=dict(workers_cpus=list(range(spec.env_processes)), set_affinity=False),
        )
        # As CpuResetCollector.start_agent does for the in-process envs.
        agent.collector_initialize(global_B=spec.global_B, env_ranks=list(spec.env_ranks))
        agent.reset()
        agent.sample_mode(itr=0)

    @property
    def pids(self) -> list:
        return [process.pid for process in self.workers]

    def collect(self, itr: int, should_stop=None) -> list:
        """One rollout into :attr:`samples_np`; returns the trajectories that ended.

        ``should_stop`` as in ``CpuResetCollector.collect_batch``: called with the number
        of steps written after each step; True ends the rollout there (:attr:`n_steps`),
        with ``bootstrap_value`` the value of the observation after its last step.
        """
        everyone = slice(0, self.batch_spec.B)
        T = self.batch_spec.T
        self._begin_batch(itr)
        for t in range(T):
            act_pyt = self._act(t, everyone)
            for infos in self._command("step", (t, itr), self.batch_timeout, "collect"):
                self._completed.extend(infos)
            self._after_step(t, everyone, act_pyt)
            if should_stop is not None and t + 1 < T and should_stop(t + 1):
                break
        self.n_steps = t + 1
        _, completed = self._end_batch()
        return completed

    def samples_copy(self):
        """The samples in ordinary memory (shared arrays pickle by reference: a copy is
        what a Ray return value must carry)."""
        return buffer_func(self.samples_np, np.array)

    def _fail(self, message):
        # Shuts every env process down; the message names the collection worker too.
        return super()._fail(
            f"env processes of collection worker {self.rank} (pid {os.getpid()}): {message}"
        )
