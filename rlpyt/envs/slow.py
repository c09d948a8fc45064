"""An env whose steps take a fixed extra time: a stand-in for an expensive simulator.

:class:`SlowEnv` wraps any rlpyt env (by default ``gym_make(id="CartPole-v1")``) and
sleeps ``step_seconds`` before every step, so that throughput measurements of parallel
collection (``benchmarks/scheme_scaling.py``) depend on how many workers step envs at
once, not on the machine's core count. One env may be made a straggler: the env seeded
with ``slow_seed`` sleeps ``slow_factor`` times longer (the seed is how a worker's env
is told apart: env rank ``r`` gets ``derive_seed(seed, "env", r)``).
"""

import time

from rlpyt.envs.base import Env
from rlpyt.envs.gym import gym_make

__all__ = ["SlowEnv"]


class SlowEnv(Env):
    """``env`` (or ``gym_make(**env_kwargs)``) with ``step_seconds`` of sleep per step.

    Args:
        step_seconds: sleep before each step (>= 0).
        slow_seed: the env seeded with this value is a straggler (None: none is).
        slow_factor: the straggler's sleep is ``slow_factor * step_seconds``.
        env_kwargs: keywords of :func:`~rlpyt.envs.gym.gym_make` (default CartPole-v1).
    """

    def __init__(
        self,
        step_seconds: float = 0.005,
        slow_seed: int | None = None,
        slow_factor: float = 10.0,
        env_kwargs: dict | None = None,
    ):
        if step_seconds < 0 or slow_factor < 0:
            raise ValueError(
                f"SlowEnv: step_seconds={step_seconds} and slow_factor={slow_factor} must be >= 0"
            )
        self.env = gym_make(**(env_kwargs or dict(id="CartPole-v1")))
        self.step_seconds = step_seconds
        self.slow_seed = slow_seed
        self.slow_factor = slow_factor
        self.delay = step_seconds

    def step(self, action):
        time.sleep(self.delay)
        return self.env.step(action)

    def reset(self):
        return self.env.reset()

    def seed(self, seed=None):
        straggler = self.slow_seed is not None and seed == self.slow_seed
        self.delay = self.step_seconds * (self.slow_factor if straggler else 1.0)
        return self.env.seed(seed)

    @property
    def action_space(self):
        return self.env.action_space

    @property
    def observation_space(self):
        return self.env.observation_space

    @property
    def horizon(self):
        return self.env.horizon

    def close(self):
        self.env.close()
