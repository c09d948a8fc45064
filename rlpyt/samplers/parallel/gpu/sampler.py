"""GPU-batched sampling: workers step envs; the master selects all actions at once.

Per time step the master runs one ``agent.step`` over all B envs (on the GPU
when the agent is there, else the CPU), writes the actions into the shared
step buffer, and the workers step their envs in parallel. Envs that are cheap
to step gain from one batched forward pass instead of one per worker.
"""

import warnings

import numpy as np
import torch

from rlpyt.agents.base import AgentInputs
from rlpyt.samplers.parallel.base import ParallelSamplerBase
from rlpyt.samplers.parallel.gpu.collectors import GpuEvalCollector, GpuResetCollector
from rlpyt.utils.buffer import buffer_from_example, numpify_buffer, torchify_buffer
from rlpyt.utils.collections import namedarraytuple

__all__ = ["GpuSampler"]

EvalStepBuffer = namedarraytuple(
    "EvalStepBuffer", ["observation", "prev_action", "prev_reward", "action", "done"]
)
StepBuffer = namedarraytuple(
    "StepBuffer",
    ["observation", "prev_action", "prev_reward", "action", "final_observation", "timeout"],
)


class GpuSampler(ParallelSamplerBase):
    """Workers only step envs; one batched ``agent.step`` per time step in the master.

    ``CollectorCls``: :class:`GpuResetCollector` (default) or ``GpuWaitResetCollector``.
    Evaluation (``eval_n_envs > 0``) works the same way: the workers step their
    eval envs (:class:`GpuEvalCollector`), the master chooses all eval actions.
    """

    agent_in_workers = False

    def __init__(
        self, *args, CollectorCls=GpuResetCollector, eval_CollectorCls=GpuEvalCollector, **kwargs
    ):
        super().__init__(
            *args, CollectorCls=CollectorCls, eval_CollectorCls=eval_CollectorCls, **kwargs
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
        if self.eval_n_envs:
            eval_example = EvalStepBuffer(
                observation=examples["observation"],
                prev_action=examples["action"],
                prev_reward=examples["reward"],
                action=examples["action"],
                done=np.zeros((), dtype=bool),
            )
            self.eval_step_buffer_np = buffer_from_example(
                eval_example, self.eval_n_envs, share_memory=True
            )
            step = self.eval_step_buffer_np
            self._eval_inputs_pyt = torchify_buffer(
                AgentInputs(step.observation, step.prev_action, step.prev_reward)
            )
        return buffer_from_example(example, B, share_memory=True)

    def start_workers(self, agent, *args, **kwargs):
        """Start the workers; the agent's inputs are the step buffer's (torch views)."""
        super().start_workers(agent, *args, **kwargs)
        step = self.step_buffer_np
        self._inputs_pyt = torchify_buffer(
            AgentInputs(step.observation, step.prev_action, step.prev_reward)
        )
        agent.reset()

    def obtain_samples(self, itr):
        """One ``[T, B]`` batch: batched action selection here, env steps in the workers."""
        everyone = slice(0, self.batch_spec.B)
        self._begin_batch(itr)
        for t in range(self.batch_spec.T):
            act_pyt = self._act(t, everyone)
            for infos in self._command("step", (t, itr), self.batch_timeout, "collect"):
                self._completed.extend(infos)
            self._after_step(t, everyone, act_pyt)
        return self._end_batch()

    def evaluate_agent(self, itr):
        """Evaluation episodes: the workers step eval envs, the master picks all actions."""
        self._check_open()
        if not self.eval_n_envs:
            raise RuntimeError("evaluate_agent needs eval_n_envs > 0 in the sampler")
        agent, step = self.agent, self.eval_step_buffer_np
        agent.eval_mode(itr)  # evaluation has its own recurrent state: sampling's is kept
        agent.reset()
        workers = self._eval_workers
        running = sum(
            self._command("eval_begin", itr, self.batch_timeout, "evaluation", workers=workers)
        )
        completed, t = [], 0
        max_T = self.eval_max_steps // self.eval_n_envs
        while running and t < max_T:
            act_pyt, _ = agent.step(*self._eval_inputs_pyt)
            step.action[:] = numpify_buffer(act_pyt)
            results = self._command(
                "eval_step", itr, self.batch_timeout, "evaluation", workers=workers
            )
            running = 0
            for infos, n_running in results:
                completed.extend(infos)
                running += n_running
            for b in np.flatnonzero(step.done):
                agent.reset_one(idx=b)
            t += 1
        if running:
            warnings.warn(
                f"evaluation at itr {itr}: {running} episode(s) still running after "
                f"eval_max_steps={self.eval_max_steps} were not counted",
                stacklevel=2,
            )
        return completed

    # One batch in parts, shared with the alternating sampler (which runs them per
    # half of the envs, so one half steps while the other's actions are chosen).

    def _begin_batch(self, itr):
        self._check_open()
        self._command("begin", itr, self.batch_timeout, "collect")
        step, agent_buf = self.step_buffer_np, self.samples_np.agent
        agent_buf.prev_action[0] = step.prev_action
        self.samples_np.env.prev_reward[0] = step.prev_reward
        self._bootstrap = "bootstrap_value" in agent_buf._fields
        if self._bootstrap:
            agent_buf.timeout_value[:] = 0
        self._waiting = np.zeros(self.batch_spec.B, dtype=bool)
        self._completed = []

    def _act(self, t, sl):
        """Choose the actions of envs ``sl`` at time ``t`` and hand them to the workers."""
        step = self.step_buffer_np
        agent_buf, env_buf = self.samples_np.agent, self.samples_np.env
        env_buf.observation[t, sl] = step.observation[sl]
        act_pyt, agent_info = self.agent.step(*self._inputs_pyt[sl])
        action = numpify_buffer(act_pyt)
        waiting = self._waiting[sl]
        if not self.mid_batch_reset and waiting.any():  # waiting envs record zeros
            action[waiting] = 0
            if agent_info:
                agent_info[torch.from_numpy(waiting)] = 0
        agent_buf.action[t, sl] = action
        if agent_info:
            agent_buf.agent_info[t, sl] = agent_info
        step.action[sl] = action
        return act_pyt

    def _after_step(self, t, sl, act_pyt):
        """After the workers stepped envs ``sl`` at ``t``: timeouts, agent resets."""
        done = self.samples_np.env.done[t, sl]
        if self._bootstrap and self.step_buffer_np.timeout[sl].any():
            self._timeout_values(t, sl, act_pyt)
        waiting = self._waiting[sl]
        for b in np.flatnonzero(done & ~waiting) + sl.start:
            self.agent.reset_one(idx=b)
        if not self.mid_batch_reset:
            self._waiting[sl] |= done

    def _end_batch(self):
        if self._bootstrap:
            self.samples_np.agent.bootstrap_value[0] = self.agent.value(*self._inputs_pyt)
        return self.samples_pyt, self._completed

    def _timeout_values(self, t, sl, act_pyt):
        """V(final observation) of envs in ``sl`` a time limit cut at ``t`` (before reset)."""
        step = self.step_buffer_np
        cut = np.flatnonzero(step.timeout[sl]) + sl.start
        n = sl.stop - sl.start
        observation = buffer_from_example(step.observation[0], n)
        observation[:] = step.observation[sl]
        observation[cut - sl.start] = step.final_observation[cut]
        reward = self.samples_np.env.reward[t, sl]
        value = self.agent.value(
            *torchify_buffer(AgentInputs(observation, numpify_buffer(act_pyt), reward))
        )
        self.samples_np.agent.timeout_value[t, cut] = numpify_buffer(value)[cut - sl.start]
