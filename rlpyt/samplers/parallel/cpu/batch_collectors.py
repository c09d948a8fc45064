"""The CPU collectors' loops for an env batch (:mod:`rlpyt.samplers.env_batch`).

Each function is the batched twin of one method of
:mod:`rlpyt.samplers.parallel.cpu.collectors` and writes the same values: the whole
slice of envs steps in one ``batch.step(action[B])`` call and rewards, dones and
env_info are written as ``[B]`` rows; only what is per trajectory (``TrajInfo``
records, episode ends: bootstrapping a time-limit cut from its final observation,
resets, the null prev_action, the agent's per-env reset) stays per env. The
per-env ``for b in envs`` loops do the same work in the same order per env, and
every env has its own random stream, so a seeded run gives identical samples on
either path (tests/samplers/test_vector_backend.py). They are the collectors' methods,
kept in their own module: they read the collector's settings (``_bootstrap``,
``_final_obs``, ``_traj_agent_info``) and call its helpers (``_final_value``, ``_env_rng``).
"""

import numpy as np

from rlpyt.agents.base import AgentInputs
from rlpyt.utils.buffer import buffer_from_example, numpify_buffer, torchify_buffer

__all__ = [
    "start_batch",
    "collect_reset_batch",
    "collect_wait_reset_batch",
    "reset_waiting_batch",
    "evaluate_batch",
]


def _traj_done(env_info, done):
    """``env_info.traj_done`` where the env has it (Atari's lost lives), else ``done``."""
    # The env's own EnvInfo: traj_done is an optional field.
    return getattr(env_info, "traj_done", done)


def _timeout(env_info, done):
    # The env's own EnvInfo: timeout is an optional field.
    timeout = getattr(env_info, "timeout", None)
    return np.zeros_like(done) if timeout is None else timeout


def _first_observations(batch):
    first = batch.reset(np.arange(len(batch)))
    observation = buffer_from_example(first[0], len(batch))
    observation[:] = first
    return observation


def start_batch(collector, max_decorrelation_steps: int):
    """:meth:`DecorrelatingStartCollector.start_envs` for a batch: env ``b`` takes its
    random number of random actions (drawn from its own generators) in ``[B]`` steps
    masked by who is still decorrelating."""
    batch, B = collector.envs, len(collector.envs)
    traj_infos = [collector.TrajInfoCls() for _ in range(B)]
    observation = _first_observations(batch)
    spaces = batch.action_spaces
    prev_action = np.stack([space.null_value() for space in spaces])
    prev_reward = np.zeros(B, dtype=np.float32)
    if max_decorrelation_steps > 0:
        n_steps = np.array(
            [1 + int(collector._env_rng(b).integers(max_decorrelation_steps)) for b in range(B)]
        )
        action = prev_action.copy()
        for k in range(int(n_steps.max())):
            active = n_steps > k
            idx = np.flatnonzero(active)
            for b in idx:
                action[b] = spaces[b].sample()
            o, r, d, env_info = batch.step(action, active)
            traj_done = _traj_done(env_info, d)
            for b in idx:
                traj_infos[b].step(o[b], action[b], r[b], d[b], None, env_info[b])
                observation[b] = o[b]
                prev_action[b] = action[b]
                prev_reward[b] = r[b]
                if traj_done[b]:
                    observation[b] = batch.reset([b])[0]
                    traj_infos[b] = collector.TrajInfoCls()
                if d[b]:  # the next step starts fresh: null previous action and reward
                    prev_action[b] = spaces[b].null_value()
                    prev_reward[b] = 0.0
    return AgentInputs(observation, prev_action, prev_reward), traj_infos


def _step_traj_infos(traj_infos, idx, observation, action, r, d, agent_info, env_info, full):
    """``traj_infos[b].step(...)`` for ``b`` in ``idx``; ``full``: the class reads
    ``agent_info`` / ``env_info`` (the base TrajInfo reads only the reward)."""
    if full:
        for b in idx:
            traj_infos[b].step(observation[b], action[b], r[b], d[b], agent_info[b], env_info[b])
    else:
        rewards = r.tolist()  # Python floats: cheaper to index than numpy scalars
        for b in idx:
            traj_infos[b].step(None, None, rewards[b], None, None, None)


def _end_episodes(collector, t, ends, o, r, env_info, step_action, inputs_pyt, traj_infos):
    """The per-env work at episode ends ``ends`` (indices where done): bootstrapping a
    time-limit cut, finishing the trajectory; returns ``(completed, to_reset)``."""
    agent_buf, env_buf = collector.samples_np.agent, collector.samples_np.env
    done = np.zeros(len(r), dtype=bool)
    done[ends] = True
    timeout, traj_done = _timeout(env_info, done), _traj_done(env_info, done)
    completed, to_reset = [], []
    for b in ends:
        if timeout[b]:
            if collector._bootstrap:
                agent_buf.timeout_value[t, b] = collector._final_value(
                    o[b], step_action, r[b], b, inputs_pyt
                )
            if collector._final_obs:
                env_buf.final_observation[t, b] = o[b]
        if traj_done[b]:
            completed.append(traj_infos[b].terminate(o[b]))
            traj_infos[b] = collector.TrajInfoCls()
            to_reset.append(b)
        collector.agent.reset_one(idx=b)
    return completed, to_reset


def _write_step(env_buf, t, r, d, env_info, write_infos):
    env_buf.reward[t] = r  # also fills prev_reward[t + 1]
    env_buf.done[t] = d
    if write_infos:
        env_buf.env_info[t] = env_info


def collect_reset_batch(collector, agent_inputs, traj_infos, should_stop=None):
    """:meth:`CpuResetCollector.collect_batch` for a batch."""
    agent_buf, env_buf = collector.samples_np.agent, collector.samples_np.env
    batch, agent = collector.envs, collector.agent
    spaces = batch.action_spaces
    completed = []
    observation, action, reward = agent_inputs
    inputs_pyt = torchify_buffer(agent_inputs)
    agent_buf.prev_action[0] = action
    env_buf.prev_reward[0] = reward
    if collector._bootstrap:
        agent_buf.timeout_value[:] = 0
    write_infos = bool(getattr(env_buf.env_info, "_fields", ()))  # None: no env_info stored
    full = collector._traj_agent_info
    every = range(len(batch))
    for t in range(collector.batch_T):
        env_buf.observation[t] = observation
        act_pyt, agent_info = agent.step(*inputs_pyt)
        step_action = numpify_buffer(act_pyt)
        agent_buf.action[t] = step_action  # also fills prev_action[t + 1]
        if agent_info:
            agent_buf.agent_info[t] = agent_info
        action[:] = step_action
        o, r, d, env_info = batch.step(step_action)
        _write_step(env_buf, t, r, d, env_info, write_infos)
        _step_traj_infos(
            traj_infos, every, observation, step_action, r, d, agent_info, env_info, full
        )
        reward[:] = r
        if d.any():
            ends = np.flatnonzero(d)
            done_infos, to_reset = _end_episodes(
                collector, t, ends, o, r, env_info, step_action, inputs_pyt, traj_infos
            )
            completed.extend(done_infos)
            observation[:] = o
            if to_reset:
                observation[to_reset] = batch.reset(to_reset)
            for b in ends:
                action[b] = spaces[b].null_value()
            reward[ends] = 0.0
        else:
            observation[:] = o
        if should_stop is not None and t + 1 < collector.batch_T and should_stop(t + 1):
            break
    collector.n_steps = t + 1
    if collector._bootstrap:
        agent_buf.bootstrap_value[0] = agent.value(*inputs_pyt)
    return AgentInputs(observation, action, reward), traj_infos, completed


def collect_wait_reset_batch(collector, agent_inputs, traj_infos):
    """:meth:`CpuWaitResetCollector.collect_batch` for a batch: waiting envs are not stepped."""
    agent_buf, env_buf = collector.samples_np.agent, collector.samples_np.env
    batch, agent = collector.envs, collector.agent
    spaces = batch.action_spaces
    completed = []
    observation, action, reward = agent_inputs
    inputs_pyt = torchify_buffer(agent_inputs)
    agent_buf.prev_action[0] = action
    env_buf.prev_reward[0] = reward
    if collector._bootstrap:
        agent_buf.timeout_value[:] = 0
    write_infos = bool(getattr(env_buf.env_info, "_fields", ()))  # None: no env_info stored
    full = collector._traj_agent_info
    waiting_mask = collector.done  # [B], updated in place
    for t in range(collector.batch_T):
        env_buf.observation[t] = observation
        act_pyt, agent_info = agent.step(*inputs_pyt)
        step_action = numpify_buffer(act_pyt)
        waiting = np.flatnonzero(waiting_mask)
        if waiting.size:  # waiting envs record zeros and stay done
            step_action[waiting] = 0
            if agent_info:
                agent_info[waiting] = 0
        agent_buf.action[t] = step_action
        if agent_info:
            agent_buf.agent_info[t] = agent_info
        action[:] = step_action
        active = ~waiting_mask
        o, r, d, env_info = batch.step(step_action, active if waiting.size else None)
        d = d & active
        live = np.flatnonzero(active)
        _write_step(env_buf, t, np.where(active, r, 0), d | waiting_mask, env_info, write_infos)
        if write_infos and waiting.size:
            env_buf.env_info[t, waiting] = 0
        _step_traj_infos(
            traj_infos, live, observation, step_action, r, d, agent_info, env_info, full
        )
        for b in waiting:
            action[b] = spaces[b].null_value()
        observation[live] = o[live]
        reward[live] = r[live]
        if d.any():
            ends = np.flatnonzero(d)
            done_infos, to_reset = _end_episodes(
                collector, t, ends, o, r, env_info, step_action, inputs_pyt, traj_infos
            )
            completed.extend(done_infos)
            collector.need_reset[to_reset] = True
            waiting_mask[ends] = True
            collector.temp_observation[ends] = o[ends]  # a lost life continues from here
            for b in ends:
                action[b] = spaces[b].null_value()
            observation[ends] = 0
            reward[ends] = 0.0
    if collector._bootstrap:
        agent_buf.bootstrap_value[0] = agent.value(*inputs_pyt)
    return AgentInputs(observation, action, reward), traj_infos, completed


def reset_waiting_batch(collector, agent_inputs):
    """:meth:`CpuWaitResetCollector.reset_if_needed` for a batch."""
    observation, action, reward = agent_inputs
    batch = collector.envs
    waiting = np.flatnonzero(collector.done)
    to_reset = [b for b in waiting if collector.need_reset[b]]
    if to_reset:
        observation[to_reset] = batch.reset(to_reset)
        collector.need_reset[to_reset] = False
    for b in waiting:
        if b not in to_reset:
            observation[b] = collector.temp_observation[b]
        action[b] = batch.action_spaces[b].null_value()
        reward[b] = 0
        collector.agent.reset_one(idx=b)
    collector.done[:] = False


def evaluate_batch(collector, itr, full: bool):
    """:meth:`CpuEvalCollector.collect_evaluation` for a batch; ``full``: the TrajInfo
    class reads ``agent_info`` / ``env_info``."""
    batch, agent = collector.envs, collector.agent
    spaces = batch.action_spaces
    n = len(batch)
    traj_infos = [collector.TrajInfoCls() for _ in range(n)]
    observation = _first_observations(batch)
    action = np.stack([space.null_value() for space in spaces])
    reward = np.zeros(n, dtype=np.float32)
    inputs_pyt = torchify_buffer(AgentInputs(observation, action, reward))
    agent.reset()
    agent.eval_mode(itr)
    limit = collector.max_trajectories
    n_started = n if limit is None else min(n, limit)
    active = np.zeros(n, dtype=bool)
    active[:n_started] = True
    completed = []
    max_T = np.inf if collector.max_T is None else collector.max_T
    t = 0
    while active.any() and t < max_T:
        act_pyt, agent_info = agent.step(*inputs_pyt)
        step_action = numpify_buffer(act_pyt)
        action[:] = step_action
        o, r, d, env_info = batch.step(step_action, active.copy())
        traj_done = _traj_done(env_info, d)
        idx = np.flatnonzero(active)
        _step_traj_infos(
            traj_infos, idx, observation, step_action, r, d, agent_info, env_info, full
        )
        for b in idx:
            o_b, r_b = o[b], r[b]
            if traj_done[b]:
                completed.append(traj_infos[b].terminate(o_b))
                traj_infos[b] = collector.TrajInfoCls()
                if limit is not None and n_started >= limit:
                    active[b] = False
                else:
                    n_started += 1
                    o_b = batch.reset([b])[0]
            if d[b]:
                action[b] = spaces[b].null_value()
                r_b = 0.0
                agent.reset_one(idx=b)
            observation[b] = o_b
            reward[b] = r_b
        t += 1
    collector.n_unfinished = int(active.sum())
    return completed
