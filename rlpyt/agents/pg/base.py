"""Agent-info records of policy-gradient agents (what the sampler stores per step).

* ``AgentInfo(dist_info, value)``: the policy's dist info (e.g. ``DistInfo(prob)``
  or ``DistInfoStd(mean, log_std)``) and the value estimate at each step -- the
  "old" policy for PPO's likelihood ratio and the baseline for GAE.
* ``AgentInfoRnn(dist_info, value, prev_rnn_state)``: recurrent agents add the
  RNN state *before* the step, ``[B, N, H]`` per step (``[T, B, N, H]`` in the
  samples), so training can restart the RNN from ``prev_rnn_state[0]``.
"""

from rlpyt.utils.collections import namedarraytuple

__all__ = ["AgentInfo", "AgentInfoRnn"]

AgentInfo = namedarraytuple("AgentInfo", ["dist_info", "value"])
AgentInfoRnn = namedarraytuple("AgentInfoRnn", ["dist_info", "value", "prev_rnn_state"])
