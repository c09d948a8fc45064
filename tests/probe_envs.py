"""Tiny deterministic envs and agents for sampler and algorithm tests."""

from collections import namedtuple

import numpy as np
import torch

from rlpyt.agents.base import AgentStep
from rlpyt.envs.base import Env, EnvStep
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox
from rlpyt.utils.collections import namedarraytuple

ProbeInfo = namedtuple("ProbeInfo", ["timeout"])
ObsInfo = namedarraytuple("ObsInfo", ["value"])


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
    model = shared_model = None  # as BaseAgent's before initialize: no torch model

    def __init__(self, n_actions=3):
        self.n_actions = n_actions
        self.calls = []
        self.resets = []
        self.k = 0

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        self.env_spaces = env_spaces

    def collector_initialize(self, global_B=1, env_ranks=None):
        pass

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


class ObsAgent:
    """A deterministic agent: its action depends only on the observation (not on call counts).

    action = int(observation[0]) % 3 (or always ``fixed_action``); value = 10 * observation[0].
    Module-level (with ``ObsInfo``), so worker processes and Ray actors unpickle it by name.
    """

    recurrent = False
    model = shared_model = None  # as BaseAgent's before initialize: no torch model

    def __init__(self, fixed_action=None):
        self.fixed_action = fixed_action

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        self.env_spaces = env_spaces

    def collector_initialize(self, global_B=1, env_ranks=None):
        pass

    def reset(self):
        pass

    def reset_one(self, idx):
        pass

    def sample_mode(self, itr):
        pass

    def eval_mode(self, itr):
        pass

    def sync_shared_memory(self):
        pass

    def step(self, observation, prev_action, prev_reward):
        obs = observation[..., 0]
        if self.fixed_action is None:
            action = obs.long() % 3
        else:
            action = torch.full_like(obs, self.fixed_action, dtype=torch.long)
        return AgentStep(action=action, agent_info=ObsInfo(value=10.0 * obs))

    def value(self, observation, prev_action, prev_reward):
        return 10.0 * observation[..., 0]


# What the sampler tests compare between samplers, field by field.
SAMPLE_FIELDS = {
    "observation": lambda s: s.env.observation,
    "reward": lambda s: s.env.reward,
    "done": lambda s: s.env.done,
    "prev_reward": lambda s: s.env.prev_reward,
    "timeout": lambda s: s.env.env_info.timeout,
    "action": lambda s: s.agent.action,
    "prev_action": lambda s: s.agent.prev_action,
    "value": lambda s: s.agent.agent_info.value,
    "bootstrap_value": lambda s: s.agent.bootstrap_value,
}


def obtain_batches(sampler, n_itr: int, fields=SAMPLE_FIELDS):
    """``n_itr`` batches of an initialized sampler: numpy copies by field, and each batch's
    completed episodes as sorted (Return, Length)."""
    batches, completed = [], []
    for itr in range(n_itr):
        samples, infos = sampler.obtain_samples(itr)
        batches.append({k: f(samples).numpy().copy() for k, f in fields.items()})
        completed.append(sorted((info.Return, info.Length) for info in infos))
    return batches, completed


def assert_same_batches(a, b):
    """Batches from :func:`obtain_batches` equal, itr by itr and field by field."""
    for itr, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x.keys() == y.keys()
        for key in x:
            np.testing.assert_array_equal(x[key], y[key], err_msg=f"{key} differs at itr {itr}")


class ConstantRewardBoxEnv(ConstantRewardEnv):
    """:class:`ConstantRewardEnv` with a continuous, asymmetric action box [0, 1] x [-2, 3]."""

    def __init__(self, horizon=20):
        super().__init__(horizon=horizon)
        self._action_space = FloatBox(low=np.array([0.0, -2.0]), high=np.array([1.0, 3.0]))
