"""GPU-batched sampling: workers step envs; the master selects all actions at once.

Per time step the master runs one ``agent.step`` over all B envs (on the GPU
when the agent is there, else the CPU), writes the actions into the shared
step buffer, and the workers step their envs in parallel. Envs that are cheap
to step gain from one batched forward pass instead of one per worker.
"""

import numpy as np
import torch

from rlpyt.agents.base import AgentInputs
from rlpyt.samplers.parallel.base import ParallelSamplerBase
from rlpyt.samplers.parallel.gpu.collectors import GpuResetCollector
from rlpyt.utils.buffer import buffer_from_example, numpify_buffer, torchify_buffer
from rlpyt.utils.collections import namedarraytuple

__all__ = ["GpuSampler"]

StepBuffer = namedarraytuple(
    "StepBuffer",
    ["observation", "prev_action", "prev_reward", "action", "final_observation", "timeout"],
)


class GpuSampler(ParallelSamplerBase):
    """Workers only step envs; one batched ``agent.step`` per time step in the master.

    ``CollectorCls``: :class:`GpuResetCollector` (default) or ``GpuWaitResetCollector``.
    Evaluation is not run in the workers here: build the sampler with
    ``eval_n_envs=0`` (evaluation with the GPU sampler arrives with the
    GPU eval collector).
    """

    agent_in_workers = False

    def __init__(self, *args, CollectorCls=GpuResetCollector, **kwargs):
        super().__init__(*args, CollectorCls=CollectorCls, **kwargs)
        if self.eval_n_envs:
            raise ValueError(
                "GpuSampler: eval_n_envs must be 0 (no GPU eval collector yet); "
                "use CpuSampler or SerialSampler for offline evaluation"
            )

    def _build_step_buffer(self, examples):
        B = self.batch_spec.B
        example = StepBuffer(
            observation=examples["observation"],
            prev_action=examples["action"],
            prev_reward=examples["reward"],
            action=examples["action"],
            final_observation=examples["observation"],
            timeout=np.zeros((), dtype=bool),
        )
        return buffer_from_example(example, B, share_memory=True)

    def initialize(self, agent, *args, **kwargs):
        examples = super().initialize(agent, *args, **kwargs)
        step = self.step_buffer_np
        self._inputs_pyt = torchify_buffer(
            AgentInputs(step.observation, step.prev_action, step.prev_reward)
        )
        agent.reset()
        return examples

    def obtain_samples(self, itr):
        """One ``[T, B]`` batch: batched action selection here, env steps in the workers."""
        self._check_open()
        agent, step = self.agent, self.step_buffer_np
        agent_buf, env_buf = self.samples_np.agent, self.samples_np.env
        self._command("begin", itr, self.batch_timeout, "collect")
        agent_buf.prev_action[0] = step.prev_action
        env_buf.prev_reward[0] = step.prev_reward
        bootstrap = "bootstrap_value" in agent_buf._fields
        if bootstrap:
            agent_buf.timeout_value[:] = 0
        wait_reset = not self.mid_batch_reset
        waiting = np.zeros(self.batch_spec.B, dtype=bool)
        completed = []
        for t in range(self.batch_spec.T):
            env_buf.observation[t] = step.observation
            act_pyt, agent_info = agent.step(*self._inputs_pyt)
            action = numpify_buffer(act_pyt)
            if wait_reset and waiting.any():
                action[waiting] = 0
                if agent_info:
                    agent_info[torch.from_numpy(waiting)] = 0
            agent_buf.action[t] = action
            if agent_info:
                agent_buf.agent_info[t] = agent_info
            step.action[:] = action
            for infos in self._command("step", (t, itr), self.batch_timeout, "collect"):
                completed.extend(infos)
            done = env_buf.done[t]
            if bootstrap and step.timeout.any():
                self._timeout_values(t, act_pyt)
            for b in np.flatnonzero(done & ~waiting):
                agent.reset_one(idx=b)
            if wait_reset:
                waiting |= done
        if bootstrap:
            agent_buf.bootstrap_value[0] = agent.value(*self._inputs_pyt)
        return self.samples_pyt, completed

    def _timeout_values(self, t, act_pyt):
        """V(final observation) of the envs a time limit cut at ``t`` (before their reset)."""
        step = self.step_buffer_np
        cut = np.flatnonzero(step.timeout)
        observation = buffer_from_example(step.observation[0], self.batch_spec.B)
        observation[:] = step.observation
        observation[cut] = step.final_observation[cut]
        reward = self.samples_np.env.reward[t]
        value = self.agent.value(
            *torchify_buffer(AgentInputs(observation, numpify_buffer(act_pyt), reward))
        )
        self.samples_np.agent.timeout_value[t, cut] = numpify_buffer(value)[cut]
