"""Alternating sampling: two halves of the envs take turns with the action server.

While the workers of one half step their envs, the master chooses the next
actions of the other half, so env stepping and (GPU) action selection
overlap. Same samples as :class:`~rlpyt.samplers.parallel.gpu.sampler.GpuSampler`
for agents whose actions do not depend on the other envs in the batch.
"""

from rlpyt.samplers.parallel.gpu.sampler import GpuSampler

__all__ = ["AlternatingSampler"]


class AlternatingSampler(GpuSampler):
    """A GPU sampler whose workers form two groups that alternate (>= 2 workers).

    The agent steps half a batch at a time, so a recurrent agent would need one
    recurrent state per half: recurrent agents are refused (use GpuSampler).
    """

    def initialize(self, agent, *args, **kwargs):
        if agent.recurrent:
            raise ValueError(
                f"AlternatingSampler cannot drive the recurrent agent {type(agent).__name__} "
                "(it steps half of the envs at a time); use GpuSampler or CpuSampler"
            )
        examples = super().initialize(agent, *args, **kwargs)
        if self.n_worker < 2:
            self.shutdown()
            raise ValueError(
                f"AlternatingSampler needs at least 2 workers, got "
                f"{self.n_worker}: give affinity workers_cpus two or more CPUs "
                "and batch_B >= 2"
            )
        half = self.n_worker // 2
        self._groups = (list(range(half)), list(range(half, self.n_worker)))
        self._slices = tuple(self._group_slice(group) for group in self._groups)
        return examples

    def _group_slice(self, group):
        ranks = [r for w in group for r in self._worker_env_indices[w]]
        return slice(min(ranks), max(ranks) + 1)

    def obtain_samples(self, itr):
        """Half A steps at ``t`` while half B's actions at ``t`` are chosen, and so on."""
        (group_a, group_b), (sl_a, sl_b) = self._groups, self._slices
        self._begin_batch(itr)
        T = self.batch_spec.T
        act_a = self._act(0, sl_a)
        self._send("step", (0, itr), group_a)
        act_b = self._act(0, sl_b)
        self._send("step", (0, itr), group_b)
        for t in range(T):
            self._collect(t, itr, group_a, sl_a, act_a)
            if t + 1 < T:
                act_a = self._act(t + 1, sl_a)
                self._send("step", (t + 1, itr), group_a)
            self._collect(t, itr, group_b, sl_b, act_b)
            if t + 1 < T:
                act_b = self._act(t + 1, sl_b)
                self._send("step", (t + 1, itr), group_b)
        return self._end_batch()

    def _collect(self, t, itr, group, sl, act_pyt):
        for infos in self._gather((t, itr), self.batch_timeout, "collect", group):
            self._completed.extend(infos)
        self._after_step(t, sl, act_pyt)
