"""Collectors in which the agent acts in the same process as the envs (CPU).

``CpuResetCollector`` resets an env as soon as its trajectory ends, mid-batch.
``CpuWaitResetCollector`` lets a finished env wait (its remaining samples are
zero-filled and flagged done) until the batch ends, then resets it, so each
batch column holds at most one episode end: needed by algorithms that treat a
batch column as one sequence.

The agent's inputs ``(observation, prev_action, prev_reward)`` live in small
``[B]`` numpy arrays that persist across steps and batches (torch views of them
feed the agent). After an env's episode ends, its prev_action and prev_reward
inputs are the null action and 0. The samples buffer keeps the aliasing
``prev_action[t + 1] is action[t]``; :func:`rlpyt.samplers.buffer.agent_inputs_from_samples`
applies the same reset masking when an algorithm re-evaluates the batch.
"""

import numpy as np

from rlpyt.agents.base import AgentInputs
from rlpyt.samplers.collectors import (
    BaseEvalCollector,
    DecorrelatingStartCollector,
    traj_info_reads_agent_info,
    write_env_infos,
)
from rlpyt.samplers.parallel.cpu.batch_collectors import (
    collect_reset_batch,
    collect_wait_reset_batch,
    evaluate_batch,
    reset_waiting_batch,
)
from rlpyt.utils.buffer import buffer_from_example, buffer_method, numpify_buffer, torchify_buffer

__all__ = ["CpuResetCollector", "CpuWaitResetCollector", "CpuEvalCollector"]


def _has_fields(env_info_buffer) -> bool:
    """Whether the env_info buffer stores anything (envs without infos have none)."""
    # The env's info namedtuple (None or an empty tuple for envs without infos).
    return bool(getattr(env_info_buffer, "_fields", ()))


class CpuResetCollector(DecorrelatingStartCollector):
    """Resets envs mid-batch as soon as their trajectory ends.

    Attributes:
        n_steps: time steps written by the last :meth:`collect_batch` (``batch_T``
            unless ``should_stop`` ended it early).
    """

    n_steps = 0

    mid_batch_reset = True

    def collect_batch(self, agent_inputs, traj_infos, itr, should_stop=None):
        """Fill the batch; returns ``(agent_inputs, traj_infos, completed_infos)``.

        ``should_stop`` (optional): called with the number of steps written after each
        step; when it returns True the batch ends there (a shortened batch, as the Ray
        scheme's straggler pre-emption asks). :attr:`n_steps` says how many time steps
        the last batch wrote; ``bootstrap_value`` is the value of the observation after
        the last of them.
        """
        if self.batched:
            return collect_reset_batch(self, agent_inputs, traj_infos, should_stop)
        agent_buf, env_buf = self.samples_np.agent, self.samples_np.env
        completed_infos = []
        observation, action, reward = agent_inputs
        inputs_pyt = torchify_buffer(agent_inputs)
        agent_buf.prev_action[0] = action  # carried over from the last batch
        env_buf.prev_reward[0] = reward
        if self._bootstrap:
            agent_buf.timeout_value[:] = 0
        # The per-env loop below runs T * B times: everything it needs is bound
        # to locals here, and per-env results go into [B] rows of the buffer
        # (env_info: one list, written field by field once per step).
        envs, agent_step, TrajInfoCls = self.envs, self.agent.step, self.TrajInfoCls
        traj_agent_info = self._traj_agent_info
        write_infos = _has_fields(env_buf.env_info)
        env_infos = [None] * len(envs)
        for t in range(self.batch_T):
            env_buf.observation[t] = observation
            act_pyt, agent_info = agent_step(*inputs_pyt)
            step_action = numpify_buffer(act_pyt)
            agent_buf.action[t] = step_action  # also fills prev_action[t + 1]
            if agent_info:
                agent_buf.agent_info[t] = agent_info
            action[:] = step_action
            reward_t, done_t = env_buf.reward[t], env_buf.done[t]  # reward also fills prev_reward
            for b, env in enumerate(envs):
                a = step_action[b]
                o, r, d, env_info = env.step(a)
                traj_infos[b].step(
                    observation[b], a, r, d, agent_info[b] if traj_agent_info else None, env_info
                )
                reward_t[b] = r
                done_t[b] = d
                env_infos[b] = env_info
                if d:
                    # The env's own EnvInfo: traj_done and timeout are optional fields.
                    if getattr(env_info, "timeout", False):
                        if self._bootstrap:
                            agent_buf.timeout_value[t, b] = self._final_value(
                                o, step_action, r, b, inputs_pyt
                            )
                        if self._final_obs:
                            env_buf.final_observation[t, b] = o
                    # The env's own EnvInfo: traj_done and timeout are optional fields.
                    if getattr(env_info, "traj_done", d):
                        completed_infos.append(traj_infos[b].terminate(o))
                        traj_infos[b] = TrajInfoCls()
                        o = env.reset()
                    self.agent.reset_one(idx=b)
                    action[b] = env.action_space.null_value()
                    r = 0.0
                observation[b] = o
                reward[b] = r
            if write_infos:
                write_env_infos(env_buf.env_info, t, env_infos)
            if should_stop is not None and t + 1 < self.batch_T and should_stop(t + 1):
                break
        self.n_steps = t + 1
        if self._bootstrap:
            agent_buf.bootstrap_value[0] = self.agent.value(*inputs_pyt)
        return AgentInputs(observation, action, reward), traj_infos, completed_infos


class CpuWaitResetCollector(DecorrelatingStartCollector):
    """Finished envs wait, zero-filled and flagged done, until the batch ends."""

    mid_batch_reset = False
    state_keys = ("done", "need_reset", "temp_observation")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        n = len(self.envs)
        self.need_reset = np.zeros(n, dtype=bool)  # trajectory over: reset the env
        self.done = np.zeros(n, dtype=bool)  # waiting for the end of the batch
        self.temp_observation = buffer_method(self.samples_np.env.observation[0, :n], "copy")

    def collect_batch(self, agent_inputs, traj_infos, itr):
        if self.batched:
            return collect_wait_reset_batch(self, agent_inputs, traj_infos)
        agent_buf, env_buf = self.samples_np.agent, self.samples_np.env
        completed_infos = []
        observation, action, reward = agent_inputs
        inputs_pyt = torchify_buffer(agent_inputs)
        agent_buf.prev_action[0] = action
        env_buf.prev_reward[0] = reward
        if self._bootstrap:
            agent_buf.timeout_value[:] = 0
        for t in range(self.batch_T):
            env_buf.observation[t] = observation
            act_pyt, agent_info = self.agent.step(*inputs_pyt)
            step_action = numpify_buffer(act_pyt)
            waiting = np.flatnonzero(self.done)
            if waiting.size:  # waiting envs record zeros and stay done
                step_action[waiting] = 0
                if agent_info:
                    agent_info[waiting] = 0
            agent_buf.action[t] = step_action
            if agent_info:
                agent_buf.agent_info[t] = agent_info
            action[:] = step_action
            for b, env in enumerate(self.envs):
                if self.done[b]:
                    env_buf.reward[t, b] = 0
                    env_buf.done[t, b] = True
                    if env_buf.env_info is not None and env_buf.env_info._fields:
                        env_buf.env_info[t, b] = 0
                    action[b] = env.action_space.null_value()
                    continue
                o, r, d, env_info = env.step(step_action[b])
                traj_infos[b].step(
                    observation[b],
                    step_action[b],
                    r,
                    d,
                    agent_info[b] if self._traj_agent_info else None,
                    env_info,
                )
                env_buf.reward[t, b] = r
                env_buf.done[t, b] = d
                if env_info:
                    env_buf.env_info[t, b] = env_info
                if d:
                    # The env's own EnvInfo: traj_done and timeout are optional fields.
                    if getattr(env_info, "timeout", False):
                        if self._bootstrap:
                            agent_buf.timeout_value[t, b] = self._final_value(
                                o, step_action, r, b, inputs_pyt
                            )
                        if self._final_obs:
                            env_buf.final_observation[t, b] = o
                    # The env's own EnvInfo: traj_done and timeout are optional fields.
                    if getattr(env_info, "traj_done", d):
                        completed_infos.append(traj_infos[b].terminate(o))
                        traj_infos[b] = self.TrajInfoCls()
                        self.need_reset[b] = True
                    self.done[b] = True
                    self.temp_observation[b] = o  # a lost life continues from here
                    action[b] = env.action_space.null_value()
                    o, r = 0, 0.0
                observation[b] = o
                reward[b] = r
        if self._bootstrap:
            # Done columns never bootstrap (their return ends at the done), so the
            # value of their zeroed observation goes unused.
            agent_buf.bootstrap_value[0] = self.agent.value(*inputs_pyt)
        return AgentInputs(observation, action, reward), traj_infos, completed_infos

    def reset_if_needed(self, agent_inputs):
        """Reset finished envs (or resume after a lost life) between batches."""
        if self.batched:
            return reset_waiting_batch(self, agent_inputs)
        observation, action, reward = agent_inputs
        for b in np.flatnonzero(self.done):
            if self.need_reset[b]:
                observation[b] = self.envs[b].reset()
                self.need_reset[b] = False
            else:
                observation[b] = self.temp_observation[b]
            action[b] = self.envs[b].action_space.null_value()
            reward[b] = 0
            self.agent.reset_one(idx=b)
        self.done[:] = False


class CpuEvalCollector(BaseEvalCollector):
    """Evaluation with the envs and a CPU agent in one process."""

    def collect_evaluation(self, itr):
        if self.batched:
            return evaluate_batch(self, itr, traj_info_reads_agent_info(self.TrajInfoCls))
        envs, agent = self.envs, self.agent
        n = len(envs)
        traj_infos = [self.TrajInfoCls() for _ in envs]
        observations = [env.reset() for env in envs]
        observation = buffer_from_example(observations[0], n)
        for b, o in enumerate(observations):
            observation[b] = o
        action = np.stack([env.action_space.null_value() for env in envs])
        reward = np.zeros(n, dtype=np.float32)
        inputs_pyt = torchify_buffer(AgentInputs(observation, action, reward))
        agent.reset()
        agent.eval_mode(itr)
        limit = self.max_trajectories
        n_started = n if limit is None else min(n, limit)
        active = np.zeros(n, dtype=bool)
        active[:n_started] = True
        completed = []
        max_T = np.inf if self.max_T is None else self.max_T
        traj_agent_info = traj_info_reads_agent_info(self.TrajInfoCls)
        t = 0
        while active.any() and t < max_T:
            act_pyt, agent_info = agent.step(*inputs_pyt)
            step_action = numpify_buffer(act_pyt)
            action[:] = step_action
            for b in np.flatnonzero(active):
                env = envs[b]
                o, r, d, env_info = env.step(step_action[b])
                traj_infos[b].step(
                    observation[b],
                    step_action[b],
                    r,
                    d,
                    agent_info[b] if traj_agent_info else None,
                    env_info,
                )
                # The env's own EnvInfo: traj_done and timeout are optional fields.
                if getattr(env_info, "traj_done", d):
                    completed.append(traj_infos[b].terminate(o))
                    traj_infos[b] = self.TrajInfoCls()
                    if limit is not None and n_started >= limit:
                        active[b] = False
                    else:
                        n_started += 1
                        o = env.reset()
                if d:
                    action[b] = env.action_space.null_value()
                    r = 0.0
                    agent.reset_one(idx=b)
                observation[b] = o
                reward[b] = r
            t += 1
        self.n_unfinished = int(active.sum())
        return completed
