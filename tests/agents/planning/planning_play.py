"""Playing whole episodes with a planning agent, and tiny envs and networks, for its tests.

A minimal stand-in for the episode samplers: the envs step in lockstep, each until its
episode ends, and the agent plans for the envs still playing (``env_ids``).
"""

from dataclasses import dataclass, field

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit

from rlpyt.envs.gym import GymEnvWrapper
from rlpyt.envs.planning import PlanningEnv


@dataclass
class Played:
    """One env's episode."""

    ret: float = 0.0
    length: int = 0
    done: bool = False
    solved: bool = False
    actions: list = field(default_factory=list)
    metrics: list = field(default_factory=list)  # the agent's step_metrics entry per step
    values: list = field(default_factory=list)  # agent_info.value per step


def play_episodes(agent, envs, seed=0, max_steps=None, initialize=True):
    """One episode per env (seeded ``seed + b``); returns a :class:`Played` per env.

    Also returns the number of real steps (lockstep rounds) played.
    """
    if initialize:
        agent.initialize(envs[0].spaces)
    for b, env in enumerate(envs):
        env.seed(seed + b)
    observations = np.stack([env.reset() for env in envs])
    agent.bind_envs(envs, seed=seed)
    played = [Played() for _ in envs]
    live = list(range(len(envs)))
    prev_action = np.zeros(len(envs), dtype=np.int64)
    prev_reward = np.zeros(len(envs), dtype=np.float32)
    rounds = 0
    while live and (max_steps is None or rounds < max_steps):
        step = agent.step(observations[live], prev_action[live], prev_reward[live], env_ids=live)
        rounds += 1
        for i, b in enumerate(live):
            action = int(step.action[i])
            obs, reward, done, info = envs[b].step(action)
            p = played[b]
            p.ret += float(reward)
            p.length += 1
            p.actions.append(action)
            p.metrics.append(agent.step_metrics[i])
            p.values.append(float(step.agent_info.value[i]))
            p.solved = bool(getattr(info, "solved", False))
            observations[b], prev_action[b], prev_reward[b] = obs, action, reward
            if done:
                p.done = True
                agent.reset_one(b)
        live = [b for b in live if not played[b].done]
    return played, rounds


class LineEnv(PlanningEnv):
    """A deterministic line for exact returns: only the first action matters.

    The first step pays ``rewards[action]``; every later step pays 1 whatever the
    action. The episode terminates after ``length`` steps (solved). Observation:
    ``[t]``, the steps taken.
    """

    def __init__(self, rewards=(0.0, 1.0, 0.5), length=3):
        self.rewards = tuple(rewards)
        self.length = length
        self.action_space = spaces.Discrete(len(rewards))
        self.observation_space = spaces.Box(0.0, 1000.0, (1,), dtype=np.float32)
        self.render_mode = None
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._observation(), {"solved": False}

    def step(self, action):
        reward = self.rewards[int(action)] if self._t == 0 else 1.0
        self._t += 1
        done = self._t >= self.length
        return self._observation(), reward, done, False, {"solved": done}

    def _observation(self):
        return np.array([self._t], dtype=np.float32)

    def clone_state(self):
        return self._t

    def restore_state(self, state):
        self._t = int(state)


class NoCloneEnv(gymnasium.Env):
    """A gymnasium env without clone_state/restore_state (it cannot serve as a model)."""

    def __init__(self):
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(0.0, 1.0, (1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), 0.0, False, False, {}


def line_env(time_limit=None, **kwargs) -> GymEnvWrapper:
    """A :class:`LineEnv`, optionally cut by gymnasium's TimeLimit after ``time_limit`` steps."""
    env = LineEnv(**kwargs)
    if time_limit is not None:
        env = TimeLimit(env, max_episode_steps=time_limit)
    return GymEnvWrapper(env)


class ConstantHeads(torch.nn.Module):
    """A stand-in network: every head outputs constants (value ``value``, rows ``q``/``policy``)."""

    def __init__(self, observation_shape, action_size, value=0.0, q=None, policy=None):
        super().__init__()
        self.n = int(np.prod(observation_shape))
        self.value = float(value)
        self.q = torch.as_tensor(q if q is not None else np.zeros(action_size), dtype=torch.float32)
        self.policy = torch.as_tensor(
            policy if policy is not None else np.zeros(action_size), dtype=torch.float32
        )

    def forward(self, observation):
        lead = observation.shape[:-1]
        return {
            "value": torch.full(lead, self.value),
            "q": self.q.expand(*lead, -1),
            "policy": self.policy.expand(*lead, -1),
        }
