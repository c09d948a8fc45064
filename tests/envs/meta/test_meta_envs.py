"""Task distributions: seeded disjoint splits, set_task changes rewards/dynamics, exact rewards."""

import gymnasium
import numpy as np
import pytest

from rlpyt.envs.gym import GymEnvWrapper
from rlpyt.envs.meta import (
    META_ENVS,
    OPTIONAL_META_ENVS,
    make_task_split,
    meta_make,
    require_task_env,
    task_key,
)

# Two tasks of each distribution that differ in the reward of the same behaviour. (Meta-World's
# ML1 needs an optional extra: tests/envs/meta/test_metaworld.py.)
ALL = sorted(set(META_ENVS) - set(OPTIONAL_META_ENVS))


@pytest.fixture(scope="module")
def envs():
    made = {name: meta_make(name) for name in ALL}
    yield made
    for env in made.values():
        env.close()


@pytest.mark.parametrize("name", ALL)
def test_split_is_seeded_and_disjoint(envs, name):
    env = envs[name]
    if name == "cheetah-dir":  # two distinct tasks only: meta-tested on its training tasks
        with pytest.raises(ValueError, match="also training tasks"):
            make_task_split(env, 2, 2, train_seed=0, test_seed=1)
        split = make_task_split(env, 2, 2, 0, 1, allow_shared_tasks=True)
        assert {task_key(t) for t in split.train + split.test} <= {
            task_key(1.0),
            task_key(-1.0),
        }
        return
    split = make_task_split(env, 5, 3, train_seed=1, test_seed=2)
    again = make_task_split(env, 5, 3, train_seed=1, test_seed=2)
    keys = [task_key(t) for t in split.train + split.test]
    assert len(set(keys)) == 8  # all distinct, train and test disjoint
    assert keys == [task_key(t) for t in again.train + again.test]  # seeded


def test_shared_seed_refused(envs):
    with pytest.raises(ValueError, match="train_seed and test_seed are both 3"):
        make_task_split(envs["point-robot"], 4, 4, train_seed=3, test_seed=3)


def _rollout(env, task, actions, seed=0):
    env.set_task(task)
    env.seed(seed)
    env.reset()
    rewards = []
    for action in actions:
        rewards.append(env.step(action).reward)
    return np.array(rewards)


@pytest.mark.parametrize("name", ALL)
def test_set_task_changes_reward(envs, name):
    env = envs[name]
    tasks = env.sample_tasks(8, seed=5)
    if name == "cheetah-dir":
        tasks = [1.0, -1.0]
    rng = np.random.default_rng(0)
    low, high = env.action_space.low, env.action_space.high
    actions = rng.uniform(low, high, size=(5, *low.shape)).astype(np.float32)
    first = _rollout(env, tasks[0], actions)
    second = _rollout(env, tasks[1], actions)
    assert np.all(np.isfinite(first)) and np.all(np.isfinite(second))
    assert np.abs(first - second).max() > 1e-6
    np.testing.assert_array_equal(first, _rollout(env, tasks[0], actions))  # deterministic


@pytest.mark.parametrize("name", ["hopper-rand-params", "walker-rand-params"])
def test_rand_params_change_dynamics(envs, name):
    env = envs[name]
    mujoco_env = env.task_env
    tasks = env.sample_tasks(2, seed=0)
    action = np.full(env.action_space.shape, 0.5, dtype=np.float32)
    env.set_task(tasks[0])
    env.seed(0)
    env.reset()
    qpos, qvel = mujoco_env.data.qpos.copy(), mujoco_env.data.qvel.copy()
    next_states = []
    for task in tasks:
        env.set_task(task)
        mujoco_env.set_state(qpos, qvel)
        for _ in range(3):
            env.step(action)
        next_states.append(np.concatenate([mujoco_env.data.qpos, mujoco_env.data.qvel]))
    assert np.abs(next_states[0] - next_states[1]).max() > 1e-3
    # The nominal arrays are kept: a task's multipliers never compound.
    env.set_task(tasks[0])
    mass = mujoco_env.model.body_mass.copy()
    env.set_task(tasks[1])
    env.set_task(tasks[0])
    np.testing.assert_array_equal(mujoco_env.model.body_mass, mass)
    np.testing.assert_allclose(mass, mujoco_env._nominal["body_mass"] * tasks[0]["body_mass"])


def test_point_robot_exact_rewards_and_time_limit():
    env = meta_make("point-robot")
    env.set_task(np.array([0.5, -0.25]))
    assert np.array_equal(env.reset(), np.zeros(2, np.float32))
    # Actions beyond 0.1 are clipped to the box.
    step = env.step(np.array([0.1, 0.3], np.float32))
    assert step.reward == pytest.approx(-np.hypot(0.5 - 0.1, -0.25 - 0.1), abs=1e-12)
    step = env.step(np.array([0.05, -0.1], np.float32))
    assert step.reward == pytest.approx(-np.hypot(0.5 - 0.15, -0.25 - 0.0), abs=1e-7)
    for t in range(2, 20):
        step = env.step(np.zeros(2, np.float32))
        assert step.done == (t == 19)
    # The horizon is a truncation: timeout set, to be bootstrapped through.
    assert step.done and bool(step.env_info.timeout)


def test_sparse_point_robot_sparse_reward():
    env = meta_make("sparse-point-robot")
    env.set_task(np.array([0.0, 1.0]))
    env.reset()
    step = env.step(np.array([0.0, 0.1], np.float32))  # distance 0.9: outside the radius
    assert step.reward == pytest.approx(-0.9) and step.env_info.sparse_reward == 0.0
    for _ in range(8):
        step = env.step(np.array([0.0, 0.1], np.float32))
    # At (0, 0.9): distance 0.1, inside the radius 0.2.
    assert step.reward == pytest.approx(-0.1, abs=1e-6)
    assert step.env_info.sparse_reward == pytest.approx(0.9, abs=1e-6)


def test_env_without_tasks_named():
    env = GymEnvWrapper(gymnasium.make("Pendulum-v1"))
    with pytest.raises(TypeError, match=r"no sample_tasks\(\) and no set_task\(\)"):
        require_task_env(env)
    with pytest.raises(ValueError, match="did you mean 'point-robot'"):
        meta_make("point-robt")
