"""Worker side of the GPU sampler: workers only step envs; the master picks actions.

Each time step the master writes the actions of all B envs into the shared
step buffer and sends ``("step", (t, itr))``; every worker steps its envs with
those actions and writes rewards, dones and env infos into the samples at
``t``, and the next observation and agent inputs into the step buffer.
"""

import numpy as np

from rlpyt.samplers.collectors import (
    BaseEvalCollector,
    DecorrelatingStartCollector,
    write_env_infos,
)

__all__ = ["GpuResetCollector", "GpuWaitResetCollector", "GpuEvalCollector"]


class GpuResetCollector(DecorrelatingStartCollector):
    """Steps this worker's envs one time step at a time; resets mid-batch.

    ``step_buffer_np`` (this worker's ``[B_w]`` slice) holds ``observation``,
    ``prev_action``, ``prev_reward`` (the agent inputs), ``action`` (written by
    the master) and, for time-limit ends, ``final_observation`` and ``timeout``.
    """

    mid_batch_reset = True
    state_keys = ("done", "need_reset", "temp_observation")  # set at start_envs

    def start_envs(self, max_decorrelation_steps: int = 0):
        agent_inputs, traj_infos = super().start_envs(max_decorrelation_steps)
        step = self.step_buffer_np
        step.observation[:] = agent_inputs.observation
        step.prev_action[:] = agent_inputs.prev_action
        step.prev_reward[:] = agent_inputs.prev_reward
        self.traj_infos = traj_infos
        self.done = np.zeros(len(self.envs), dtype=bool)
        self.need_reset = np.zeros(len(self.envs), dtype=bool)
        self.temp_observation = {}  # wait-reset: {b: observation} of envs that lost a life
        return agent_inputs, traj_infos

    def start_agent(self):
        """The agent lives in the master."""

    def begin_batch(self, itr):
        """Between batches: nothing to do when resetting mid-batch."""

    def step_envs(self, t, itr):
        """Step every env of this worker once; returns completed traj infos."""
        step, env_buf = self.step_buffer_np, self.samples_np.env
        completed = []
        step.timeout[:] = False
        env_infos = [None] * len(self.envs)
        for b, env in enumerate(self.envs):
            if self.done[b]:  # wait-reset: this env waits for the batch to end
                env_buf.reward[t, b] = 0
                env_buf.done[t, b] = True
                env_infos[b] = None
                continue
            a = step.action[b]
            o, r, d, env_info = env.step(a)
            self.traj_infos[b].step(step.observation[b], a, r, d, None, env_info)
            env_buf.reward[t, b] = r
            env_buf.done[t, b] = d
            env_infos[b] = env_info
            if d:
                # The env's own EnvInfo: traj_done and timeout are optional fields.
                if getattr(env_info, "timeout", False):
                    step.final_observation[b] = o
                    step.timeout[b] = True
                    if self._final_obs:
                        env_buf.final_observation[t, b] = o
                # The env's own EnvInfo: traj_done and timeout are optional fields.
                if getattr(env_info, "traj_done", d):
                    completed.append(self.traj_infos[b].terminate(o))
                    self.traj_infos[b] = self.TrajInfoCls()
                    o = self._on_traj_done(b, env)
                else:
                    o = self._on_life_lost(b, o)
                step.prev_action[b] = env.action_space.null_value()
                r = 0.0
            else:
                step.prev_action[b] = a
            step.observation[b] = o
            step.prev_reward[b] = r
        self._write_infos(t, env_infos)
        return completed

    def _write_infos(self, t, env_infos):
        fields = self.samples_np.env.env_info
        if fields is None or not fields._fields:
            return
        if any(info is None for info in env_infos):  # waiting envs record zeros
            for b, info in enumerate(env_infos):
                fields[t, b] = 0 if info is None else info
        else:
            write_env_infos(fields, t, env_infos)

    def _on_traj_done(self, b, env):
        return env.reset()

    def _on_life_lost(self, b, o):
        return o


class GpuWaitResetCollector(GpuResetCollector):
    """Finished envs wait, zero-filled and flagged done, until the batch ends."""

    mid_batch_reset = False

    def _on_traj_done(self, b, env):
        self.done[b] = True
        self.need_reset[b] = True
        return 0

    def _on_life_lost(self, b, o):
        self.done[b] = True
        self.temp_observation[b] = o
        return 0

    def begin_batch(self, itr):
        """Reset finished envs (or resume after a lost life) before the next batch."""
        step = self.step_buffer_np
        for b in np.flatnonzero(self.done):
            if self.need_reset[b]:
                step.observation[b] = self.envs[b].reset()
                self.need_reset[b] = False
            else:
                step.observation[b] = self.temp_observation.pop(b)
            step.prev_action[b] = self.envs[b].action_space.null_value()
            step.prev_reward[b] = 0
        self.done[:] = False


class GpuEvalCollector(BaseEvalCollector):
    """Evaluation envs of one worker, stepped with actions chosen by the master.

    Same rules as :class:`~rlpyt.samplers.parallel.cpu.collectors.CpuEvalCollector`:
    which episodes are evaluated is fixed when they start (at most this
    worker's share of ``max_trajectories``), and only complete ones are reported.
    ``step_buffer_np`` is this worker's slice of the master's eval step buffer.
    """

    def begin(self, itr):
        """Reset every eval env; returns the number of running episodes."""
        step = self.step_buffer_np
        self.traj_infos = [self.TrajInfoCls() for _ in self.envs]
        n = len(self.envs)
        limit = self.max_trajectories
        self.n_started = n if limit is None else min(n, limit)
        self.active = np.zeros(n, dtype=bool)
        self.active[: self.n_started] = True
        for b, env in enumerate(self.envs):
            step.observation[b] = env.reset()
            step.prev_action[b] = env.action_space.null_value()
        step.prev_reward[:] = 0
        step.done[:] = False
        return int(self.active.sum())

    def step_envs(self, itr):
        """One step of the running episodes; returns ``(completed, n_running)``."""
        step = self.step_buffer_np
        completed = []
        step.done[:] = False
        for b in np.flatnonzero(self.active):
            env, a = self.envs[b], step.action[b]
            o, r, d, env_info = env.step(a)
            self.traj_infos[b].step(step.observation[b], a, r, d, None, env_info)
            # The env's own EnvInfo: traj_done and timeout are optional fields.
            if getattr(env_info, "traj_done", d):
                completed.append(self.traj_infos[b].terminate(o))
                self.traj_infos[b] = self.TrajInfoCls()
                if self.max_trajectories is not None and self.n_started >= self.max_trajectories:
                    self.active[b] = False
                else:
                    self.n_started += 1
                    o = env.reset()
            if d:
                step.done[b] = True
                step.prev_action[b] = env.action_space.null_value()
                r = 0.0
            else:
                step.prev_action[b] = a
            step.observation[b] = o
            step.prev_reward[b] = r
        self.n_unfinished = int(self.active.sum())
        return completed, self.n_unfinished
