"""CartPole with the velocities hidden: a policy needs memory to balance it."""

import gymnasium as gym
import numpy as np

from rlpyt.envs.gym import GymEnvWrapper

_POSITIONS = np.array([0, 2])  # cart position and pole angle; velocities dropped


def masked_cartpole(max_episode_steps=500):
    env = gym.make("CartPole-v1", max_episode_steps=max_episode_steps)
    low, high = env.observation_space.low[_POSITIONS], env.observation_space.high[_POSITIONS]
    space = gym.spaces.Box(low, high, dtype=np.float32)
    return GymEnvWrapper(gym.wrappers.TransformObservation(env, lambda o: o[_POSITIONS], space))
