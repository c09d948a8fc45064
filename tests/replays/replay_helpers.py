"""Hand-made replay inputs: every value encodes the step and env it belongs to."""

import numpy as np

from rlpyt.replays.collections import SamplesToBuffer, SamplesToBufferRnn

OBS_DIM = 2


def obs_of(g, b):
    """Observation of global step ``g`` of env ``b``: ``[g, b]`` (float32)."""
    return np.array([g, b], dtype=np.float32)


def final_of(g, b):
    """Final observation of a time-limit cut at step ``g`` of env ``b``."""
    return np.array([1000 + g, b], dtype=np.float32)


def example(rnn: bool = False):
    fields = dict(
        observation=np.zeros(OBS_DIM, np.float32),
        action=np.int64(0),
        reward=np.float32(0),
        done=np.bool_(False),
        timeout=np.bool_(False),
        final_observation=np.zeros(OBS_DIM, np.float32),
    )
    if rnn:
        return SamplesToBufferRnn(**fields, prev_rnn_state=np.zeros((1, 3), np.float32))
    return SamplesToBuffer(**fields)


def make_batch(g0, T, rewards, dones=(), timeouts=(), rnn=False):
    """Steps ``g0 .. g0 + T - 1`` of ``B = len(rewards)`` envs.

    ``rewards[b](g)`` gives the reward; ``dones`` / ``timeouts`` are sets of ``(g, b)``
    (a timeout is also a done). Actions are ``10 * g + b + 1`` (never 0).
    """
    B = len(rewards)
    g = np.arange(g0, g0 + T)[:, None] + np.zeros(B, dtype=np.int64)
    b = np.zeros(T, dtype=np.int64)[:, None] + np.arange(B)
    observation = np.stack([g, b], axis=-1).astype(np.float32)
    done = np.array(
        [[(gi, bi) in dones or (gi, bi) in timeouts for bi in range(B)] for gi in g[:, 0]]
    )
    timeout = np.array([[(gi, bi) in timeouts for bi in range(B)] for gi in g[:, 0]])
    final = np.zeros_like(observation)
    for gi, bi in timeouts:
        if g0 <= gi < g0 + T:
            final[gi - g0, bi] = final_of(gi, bi)
    fields = dict(
        observation=observation,
        action=10 * g + b + 1,
        reward=np.array([[rewards[bi](gi) for bi in range(B)] for gi in g[:, 0]], np.float32),
        done=done,
        timeout=timeout,
        final_observation=final,
    )
    if rnn:
        # The state before step g of env b: [[g, b, 7]].
        state = np.stack([g, b, np.full_like(g, 7)], axis=-1)[:, :, None, :].astype(np.float32)
        return SamplesToBufferRnn(**fields, prev_rnn_state=state)
    return SamplesToBuffer(**fields)


def ok_units(replay):
    """Flat indices of the units the replay may sample now."""
    return np.flatnonzero(replay.units.ok)
