"""Tiny deterministic envs for sampler and algorithm tests."""

from collections import namedtuple

import numpy as np

from rlpyt.envs.base import Env, EnvStep
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox

ProbeInfo = namedtuple("ProbeInfo", ["timeout"])


class CountingEnv(Env):
    """Observation = steps since reset; reward = action + 1; episode lengths cycle.

    ``lengths`` gives the length of successive episodes; an episode ends by
    termination, or by a time limit (``timeout=True``) when ``time_limit``.
    """

    def __init__(self, lengths=(3,), time_limit=False, n_actions=3):
        self.lengths = list(lengths)
        self.time_limit = time_limit
        self._observation_space = FloatBox(0, 1000, shape=(1,))
        self._action_space = IntBox(0, n_actions)
        self.episode = -1
        self.t = 0

    def reset(self):
        self.episode += 1
        self.t = 0
        return np.array([0.0], dtype=np.float32)

    def step(self, action):
        self.t += 1
        length = self.lengths[self.episode % len(self.lengths)]
        done = self.t >= length
        obs = np.array([self.t], dtype=np.float32)
        return EnvStep(obs, float(action) + 1.0, done, ProbeInfo(timeout=done and self.time_limit))


class ConstantRewardEnv(Env):
    """Reward 1 every step; only a time limit ends the episode (timeout)."""

    def __init__(self, horizon=20):
        self._horizon = horizon
        self._observation_space = FloatBox(-1, 1, shape=(2,))
        self._action_space = IntBox(0, 2)
        self.t = 0

    @property
    def horizon(self):
        return self._horizon

    def reset(self):
        self.t = 0
        return np.zeros(2, dtype=np.float32)

    def step(self, action):
        self.t += 1
        done = self.t >= self._horizon
        obs = np.array([np.sin(self.t), np.cos(self.t)], dtype=np.float32)
        return EnvStep(obs, 1.0, done, ProbeInfo(timeout=done))


class RecordingAgent:
    """A scripted agent recording every input it sees (a BaseAgent stand-in).

    Action at its k-th call for env b is ``(k + b) % n_actions``; its value is
    ``10 * observation[0]``.
    """

    recurrent = False

    def __init__(self, n_actions=3):
        self.n_actions = n_actions
        self.calls = []
        self.resets = []
        self.k = 0

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        self.env_spaces = env_spaces

    def reset(self):
        self.resets.append("all")

    def reset_one(self, idx):
        self.resets.append(int(idx))

    def sample_mode(self, itr):
        pass

    def eval_mode(self, itr):
        pass

    def step(self, observation, prev_action, prev_reward):
        import torch

        from rlpyt.agents.base import AgentStep
        from rlpyt.utils.collections import namedarraytuple

        Info = namedarraytuple("RecInfo", ["value"])
        self.calls.append((observation.clone(), prev_action.clone(), prev_reward.clone()))
        if observation.dim() == 1:  # one observation (the buffer example)
            action = torch.tensor(self.k % self.n_actions)
        else:
            action = (self.k + torch.arange(observation.shape[0])) % self.n_actions
        self.k += 1
        return AgentStep(action=action, agent_info=Info(value=self.value(observation, None, None)))

    def value(self, observation, prev_action, prev_reward):
        return 10.0 * observation[..., 0]


class ConstantRewardBoxEnv(ConstantRewardEnv):
    """:class:`ConstantRewardEnv` with a continuous, asymmetric action box [0, 1] x [-2, 3]."""

    def __init__(self, horizon=20):
        super().__init__(horizon=horizon)
        self._action_space = FloatBox(low=np.array([0.0, -2.0]), high=np.array([1.0, 3.0]))
