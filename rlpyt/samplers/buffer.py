"""Preallocate the ``[T, B]`` samples buffer from one env step and one agent step."""

import numpy as np

from rlpyt.agents.base import AgentInputs
from rlpyt.samplers.collections import (
    AgentSamples,
    AgentSamplesBsv,
    BatchSpec,
    EnvSamples,
    EnvSamplesFo,
    Samples,
)
from rlpyt.utils.buffer import buffer_from_example, buffer_func, torchify_buffer

__all__ = [
    "build_samples_buffer",
    "get_example_outputs",
    "shifted_pair",
    "agent_inputs_from_samples",
]


def shifted_pair(example, T: int, B: int, share_memory: bool):
    """``(current, previous)`` views of one ``[T + 1, B]`` buffer.

    ``current = all[1:]`` and ``previous = all[:-1]``, so writing ``current[t]``
    also writes ``previous[t + 1]``: prev_action and prev_reward cost nothing to
    record. Between batches the collector carries the last value into
    ``previous[0]``; after a reset it writes the null value there.
    """
    full = buffer_from_example(example, (T + 1, B), share_memory)
    return full[1:], full[:-1]


def get_example_outputs(agent, env, examples: dict | None = None) -> dict:
    """One env step and one agent step: the examples every buffer is built from."""
    examples = {} if examples is None else examples
    o = env.reset()
    a = env.action_space.sample()
    o, r, d, env_info = env.step(a)
    r = np.asarray(r, dtype=np.float32)
    agent.reset()
    agent_inputs = torchify_buffer(AgentInputs(o, a, np.array(r)))
    a, agent_info = agent.step(*agent_inputs)
    if "prev_rnn_state" in agent_info._fields:
        # The agent keeps its B dimension; the example is per env: [B, N, H] -> [N, H].
        agent_info = agent_info._replace(
            prev_rnn_state=buffer_func(agent_info.prev_rnn_state, lambda s: s[0])
        )
    agent.reset()
    examples.update(
        observation=o, reward=r, done=d, env_info=env_info, action=a, agent_info=agent_info
    )
    return examples


def build_samples_buffer(
    agent,
    env,
    batch_spec: BatchSpec,
    bootstrap_value: bool = False,
    agent_shared: bool = True,
    env_shared: bool = True,
    examples: dict | None = None,
    final_observation: bool = False,
):
    """Allocate the samples buffer; returns ``(samples_pyt, samples_np, examples)``.

    ``bootstrap_value`` adds the value fields of :class:`AgentSamplesBsv` (policy
    gradient); ``final_observation`` the final observations of time-limit-cut
    episodes, :class:`EnvSamplesFo` (replay-based algorithms bootstrap from them).

    ``samples_pyt`` holds torch tensors sharing memory with the numpy arrays of
    ``samples_np`` (in shared memory when ``*_shared``, for parallel workers).
    """
    if examples is None:
        examples = get_example_outputs(agent, env)
    T, B = batch_spec
    action, prev_action = shifted_pair(examples["action"], T, B, agent_shared)
    agent_info = buffer_from_example(examples["agent_info"], (T, B), agent_shared)
    agent_buffer = AgentSamples(action=action, prev_action=prev_action, agent_info=agent_info)
    if bootstrap_value:
        value = examples["agent_info"].value
        agent_buffer = AgentSamplesBsv(
            *agent_buffer,
            bootstrap_value=buffer_from_example(value, (1, B), agent_shared),
            timeout_value=buffer_from_example(value, (T, B), agent_shared),
        )
    reward, prev_reward = shifted_pair(examples["reward"], T, B, env_shared)
    env_buffer = EnvSamples(
        observation=buffer_from_example(examples["observation"], (T, B), env_shared),
        reward=reward,
        prev_reward=prev_reward,
        done=buffer_from_example(examples["done"], (T, B), env_shared),
        env_info=buffer_from_example(examples["env_info"], (T, B), env_shared),
    )
    if final_observation:
        env_buffer = EnvSamplesFo(
            *env_buffer,
            final_observation=buffer_from_example(examples["observation"], (T, B), env_shared),
        )
    samples_np = Samples(agent=agent_buffer, env=env_buffer)
    return torchify_buffer(samples_np), samples_np, examples


def agent_inputs_from_samples(samples):
    """``AgentInputs`` for re-evaluating a batch, exactly as the agent saw them.

    ``prev_action``/``prev_reward`` in the buffer alias ``action``/``reward`` of
    the step before, but after an episode ends the collector fed the agent the
    null action and 0 instead; this masks them the same way (a copy, only where
    a ``done`` precedes). Returns torch tensors when ``samples`` holds tensors.
    """
    done = samples.env.done
    prev_action = samples.agent.prev_action
    prev_reward = samples.env.prev_reward
    if done.shape[0] > 1 and bool(done[:-1].any()):
        prev_done = done[:-1]
        prev_action = prev_action.clone() if hasattr(prev_action, "clone") else prev_action.copy()
        prev_reward = prev_reward.clone() if hasattr(prev_reward, "clone") else prev_reward.copy()
        # Null action is zero for every space built from gymnasium (IntBox/FloatBox).
        prev_action[1:][prev_done] = 0
        prev_reward[1:][prev_done] = 0
    return AgentInputs(samples.env.observation, prev_action, prev_reward)
