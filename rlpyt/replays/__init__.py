"""Replay buffers for off-policy algorithms (DQN family, R2D1, Q-function policy gradient).

A buffer is storage + an observation store + a sampling strategy (see
:mod:`rlpyt.replays.base`). The public buffers keep the original rlpyt names and
module paths: :mod:`rlpyt.replays.non_sequence.uniform`, ``.prioritized``,
``.frame``; :mod:`rlpyt.replays.sequence.uniform`, ``.prioritized``, ``.frame``.
The batch types are in :mod:`rlpyt.replays.collections`.
"""
