"""Agent-info records of the DQN-family agents (what the sampler stores per step).

* ``AgentInfo(q)``: the model output at each step -- Q-values ``[B, A]`` (DQN),
  or for distributional agents the probabilities ``[B, A, n_atoms]`` over the
  value atoms (C51, as in the original rlpyt). Kept for diagnostics; no DQN
  algorithm trains on it.
* ``AgentInfoRnn(q, prev_rnn_state)``: recurrent agents (R2D1) add the RNN state
  *before* the step, ``[B, N, H]`` per step (``[T, B, N, H]`` in the samples),
  which the sequence replay stores to restart the RNN from.
"""

from rlpyt.utils.collections import namedarraytuple

__all__ = ["AgentInfo", "AgentInfoRnn"]

AgentInfo = namedarraytuple("AgentInfo", ["q"])
AgentInfoRnn = namedarraytuple("AgentInfoRnn", ["q", "prev_rnn_state"])
