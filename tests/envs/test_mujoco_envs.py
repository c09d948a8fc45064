"""The MuJoCo tasks of the optional ``mujoco`` extra build, step and convert their spaces."""

import numpy as np
import pytest

from rlpyt.envs.gym import gym_make
from rlpyt.spaces.float_box import FloatBox

pytest.importorskip("mujoco", reason="the MuJoCo tasks need the mujoco extra")


@pytest.mark.parametrize(
    "env_id, obs_dim, act_dim",
    [("HalfCheetah-v5", 17, 6), ("Hopper-v5", 11, 3), ("Walker2d-v5", 17, 6), ("Ant-v5", 105, 8)],
)
def test_mujoco_task_steps_through_the_wrapper(env_id, obs_dim, act_dim):
    env = gym_make(env_id)
    try:
        assert isinstance(env.spaces.action.space, FloatBox)
        assert env.action_space.shape == (act_dim,)
        assert env.observation_space.shape == (obs_dim,)
        env.seed(0)
        obs = env.reset()
        assert obs.shape == (obs_dim,) and obs.dtype == np.float32
        for _ in range(5):
            step = env.step(env.action_space.sample())
            assert step.observation.shape == (obs_dim,)
            assert np.isfinite(step.reward)
            assert hasattr(step.env_info, "timeout")
    finally:
        env.close()
