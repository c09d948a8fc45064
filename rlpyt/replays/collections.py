"""The batch types that go into and come out of the replay buffers.

Shapes use the ``[T, B]`` convention: time first, then the env batch. An
algorithm appends ``[T, B]`` batches of a ``SamplesToBuffer*`` type and gets
``[batch_B]`` (non-sequence) or ``[L, batch_B]`` / ``[batch_T, batch_B]``
(sequence) batches of a ``SamplesFromReplay*`` type back, as torch tensors.

Into the buffer (one entry of each is the ``example`` a buffer is built from):

``SamplesToBuffer(observation, action, reward, done, timeout, final_observation)``
    ``observation[t]`` is what the agent saw when it chose ``action[t]``;
    ``reward[t]`` and ``done[t]`` follow from that action. ``timeout[t]`` marks a
    ``done`` caused by a time limit (not terminal: targets bootstrap through it),
    and ``final_observation[t]`` is the observation the env produced at such a
    cut (before the reset); it is read only where ``timeout`` is true and stored
    sparsely.
``SamplesToBufferFrame``
    The same plus ``traj_done`` (Atari: the game is over, as opposed to a lost life).
    Frame buffers accept it for interface compatibility; they find the starts of frame
    stacks from the frames themselves (see :mod:`rlpyt.replays.frame`), so they do not
    store it.
``SamplesToBufferRnn``
    :class:`SamplesToBuffer` plus ``prev_rnn_state`` (the agent's recurrent state before
    step ``t``, batch-first ``[B, ...]`` per step).
``SamplesToBufferRnnFrame``
    The frame variant plus ``prev_rnn_state``.

Out of the buffer:

``SamplesFromReplay(agent_inputs, action, return_, done, done_n, target_inputs, bootstrap_discount)``
    ``agent_inputs = AgentInputs(observation, prev_action, prev_reward)`` at the
    sampled step ``t``; ``return_`` the discounted n-step return
    ``sum_{k<m} discount^k reward[t+k]`` where ``m`` is ``n_step_return`` or
    fewer when a ``done`` ends the window first; ``done = done[t]``;
    ``done_n`` (bool) the window ended in a termination (a ``done`` that is not
    a timeout); ``target_inputs`` the agent inputs at the bootstrap point;
    ``bootstrap_discount = discount^m * (1 - done_n)``. Every target is
    ``return_ + bootstrap_discount * Q_target(target_inputs)``.
``SamplesFromReplayPri``
    The same plus ``is_weights`` (importance weights, max 1 over the batch).
``SamplesFromReplaySeq``
    For sequences of ``L = warmup_T + batch_T + n_step_return`` steps:
    ``all_observation``, ``all_prev_action``, ``all_prev_reward`` ``[L, batch_B]``;
    ``target_observation`` (``[L, batch_B]``, with the final observation after each
    time-limit cut; the same tensor as ``all_observation`` when the batch has no cut);
    ``action``, ``return_``, ``done``, ``done_n``, ``bootstrap_discount``,
    ``bootstrap_index`` (int64 position in ``0..L-1`` of each target's bootstrap
    observation) and ``valid`` (bool, False on wait-reset padding), all
    ``[batch_T, batch_B]`` for the trained steps ``warmup_T .. warmup_T + batch_T - 1``;
    ``init_rnn_state`` the stored state at position 0, ``[batch_B, ...]``.
``SamplesFromReplaySeqPri``
    The same plus ``is_weights`` ``[batch_B]``.

Out of the episode replay (:class:`~rlpyt.replays.episodes.EpisodeReplay`, whole finished
episodes, no ``[T, B]`` layout), ``[N]`` transitions:

``EpisodeSamples(observation, action, discounted_return, solved, n_step_return, bootstrap_discount, bootstrap_observation, agent_info)``
    ``observation`` the one the agent acted on at step ``t``; ``discounted_return`` the
    discounted sum of the rewards from ``t`` to the episode's end; ``solved`` 1.0 when the
    episode was solved; ``n_step_return`` the discounted sum of the ``m`` rewards from ``t``
    (``m = min(n_step, T - t)``); ``bootstrap_observation`` the observation at ``t + m``
    and ``bootstrap_discount = discount^m``, 0 when ``t + m`` is the end of a terminated
    episode (a time-limit cut bootstraps); ``agent_info`` the agent's info at ``t`` (e.g.
    the search's ``action_probs`` and ``qualities``).
"""

from rlpyt.utils.collections import namedarraytuple

__all__ = [
    "SamplesToBuffer",
    "SamplesToBufferFrame",
    "SamplesToBufferRnn",
    "SamplesToBufferRnnFrame",
    "SamplesFromReplay",
    "SamplesFromReplayPri",
    "SamplesFromReplaySeq",
    "SamplesFromReplaySeqPri",
    "EpisodeSamples",
]

_TO_BUFFER = ["observation", "action", "reward", "done", "timeout", "final_observation"]

SamplesToBuffer = namedarraytuple("SamplesToBuffer", _TO_BUFFER)
SamplesToBufferFrame = namedarraytuple("SamplesToBufferFrame", _TO_BUFFER + ["traj_done"])
SamplesToBufferRnn = namedarraytuple("SamplesToBufferRnn", _TO_BUFFER + ["prev_rnn_state"])
SamplesToBufferRnnFrame = namedarraytuple(
    "SamplesToBufferRnnFrame", _TO_BUFFER + ["traj_done", "prev_rnn_state"]
)

_FROM_REPLAY = [
    "agent_inputs",
    "action",
    "return_",
    "done",
    "done_n",
    "target_inputs",
    "bootstrap_discount",
]
SamplesFromReplay = namedarraytuple("SamplesFromReplay", _FROM_REPLAY)
SamplesFromReplayPri = namedarraytuple("SamplesFromReplayPri", _FROM_REPLAY + ["is_weights"])

_FROM_REPLAY_SEQ = [
    "all_observation",
    "all_prev_action",
    "all_prev_reward",
    "target_observation",
    "action",
    "return_",
    "done",
    "done_n",
    "bootstrap_discount",
    "bootstrap_index",
    "init_rnn_state",
    "valid",
]
SamplesFromReplaySeq = namedarraytuple("SamplesFromReplaySeq", _FROM_REPLAY_SEQ)
SamplesFromReplaySeqPri = namedarraytuple(
    "SamplesFromReplaySeqPri", _FROM_REPLAY_SEQ + ["is_weights"]
)

EpisodeSamples = namedarraytuple(
    "EpisodeSamples",
    [
        "observation",
        "action",
        "discounted_return",
        "solved",
        "n_step_return",
        "bootstrap_discount",
        "bootstrap_observation",
        "agent_info",
    ],
)
