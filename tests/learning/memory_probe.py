"""A memory probe: an env where only a policy with memory can score."""

import numpy as np

from rlpyt.envs.base import Env, EnvInfo, EnvStep
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox


class CueMemoryEnv(Env):
    """Remember a cue: shown at the first step, hidden after, judged at the last.

    Observation ``[cue, first]``: at ``t = 0`` the cue is +1 or -1 and ``first``
    is 1; later both are 0. Each episode lasts ``length`` steps; only the action
    of the last step counts: +1 if it names the cue's sign (1 for +1, 0 for -1),
    else -1. A feed-forward policy sees nothing at the last step and scores 0 on
    average; a recurrent one can score 1.
    """

    def __init__(self, length=4):
        self.length = length
        self._observation_space = FloatBox(-1, 1, shape=(2,))
        self._action_space = IntBox(0, 2)
        self._rng = np.random.default_rng()
        self.t = 0
        self.cue = 1.0

    def seed(self, seed=None):
        super().seed(seed)
        self._rng = np.random.default_rng(seed)

    def reset(self):
        self.t = 0
        self.cue = 1.0 if self._rng.random() < 0.5 else -1.0
        return np.array([self.cue, 1.0], dtype=np.float32)

    def step(self, action):
        self.t += 1
        done = self.t >= self.length
        reward = 0.0
        if done:
            reward = 1.0 if int(action) == int(self.cue > 0) else -1.0
        return EnvStep(np.zeros(2, dtype=np.float32), reward, done, EnvInfo())
