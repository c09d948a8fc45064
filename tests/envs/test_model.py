"""Env models: clone_state/restore_state of gymnasium and Atari envs, PerfectModel."""

import pickle

import numpy as np
import pytest
from clone_checks import check_clone_restore, roll, same_steps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlpyt.envs.base import Env
from rlpyt.envs.gym import gym_make
from rlpyt.envs.model import CloneStateUnsupportedError, ModelEnv, PerfectModel

FAST = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


GYM_IDS = {
    "CartPole-v1": 2,
    "Acrobot-v1": 3,
    "MountainCar-v0": 3,
    "FrozenLake-v1": 4,  # slippery: step draws from the env's generator
    "Taxi-v4": 6,
    "CliffWalking-v1": 4,
}


@pytest.mark.parametrize("env_id", sorted(GYM_IDS))
@FAST
@given(data=st.data())
def test_gym_clone_restore_is_bit_exact(env_id, data):
    n = GYM_IDS[env_id]
    env = gym_make(id=env_id, max_episode_steps=25)
    env.seed(data.draw(st.integers(0, 2**16)))
    prefix = data.draw(st.lists(st.integers(0, n - 1), max_size=20))
    actions = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=40))
    check_clone_restore(env, prefix, actions)


def test_gym_clone_includes_the_time_limit_counter():
    env = gym_make(id="CartPole-v1", max_episode_steps=5)
    env.reset()
    env.step(0)
    state = env.clone_state()
    dones = [env.step(i % 2).done for i in range(4)]
    env.restore_state(state)
    assert [env.step(i % 2).done for i in range(4)] == dones
    assert dones[-1]  # the time limit, 1 + 4 steps after the reset


@pytest.mark.parametrize("env_id", ["InvertedPendulum-v5", "Hopper-v5", "Humanoid-v5"])
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_mujoco_clone_restore_is_bit_exact(env_id, data):
    env = gym_make(id=env_id, max_episode_steps=30)
    env.seed(data.draw(st.integers(0, 2**16)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    low, high = env.env.action_space.low, env.env.action_space.high
    actions = rng.uniform(low, high, size=(45, *low.shape)).astype(np.float32)
    check_clone_restore(env, actions[: data.draw(st.integers(0, 15))], actions[15:])


def test_gym_env_without_known_state_names_env_and_interface():
    env = gym_make(id="Blackjack-v1")
    with pytest.raises(CloneStateUnsupportedError, match=r"Blackjack-v1.*clone_state"):
        env.clone_state()
    with pytest.raises(CloneStateUnsupportedError, match=r"Blackjack-v1"):
        PerfectModel(env)


def test_perfect_model_refuses_env_without_the_interface():
    class Plain(Env):
        pass

    assert not isinstance(Plain(), ModelEnv)
    with pytest.raises(
        CloneStateUnsupportedError,
        match=r"PerfectModel.*Plain lacks clone_state\(\) and restore_state\(\).*ModelEnv",
    ):
        PerfectModel(Plain())


def test_perfect_model_plans_without_touching_the_real_env():
    real = gym_make(id="CartPole-v1")
    real.seed(3)
    real.reset()
    roll(real, [0, 1, 1])
    model = PerfectModel(real)
    assert "CartPole-v1" in repr(model)
    before = real.clone_state()
    model.catch_up(real)
    imagined = roll(model, [1, 0, 0, 1], reset_on_done=False)
    model.restore_state(before)
    roll(model, [0, 0, 0], reset_on_done=False)  # stepping the model freely...
    assert pickle.dumps(real.clone_state()) == pickle.dumps(before)  # ...leaves real as is
    assert same_steps(roll(real, [1, 0, 0, 1], reset_on_done=False), imagined)


def _slippery_outcomes(model, state, seeds):
    """The cell reached by action 2 (right) from ``state``, once per seed (None: no reseed)."""
    cells = []
    for seed in seeds:
        model.restore_state(state)
        if seed is not None:
            model.reseed(seed)
        cells.append(int(model.step(2).observation))
    return cells


def test_perfect_model_reseed_redraws_random_transitions():
    real = gym_make("FrozenLake-v1", is_slippery=True, map_name="4x4")
    real.seed(0)
    real.reset()
    model = PerfectModel(real)
    state = real.clone_state()
    # Restoring restores the generator: the same outcome every time.
    assert len(set(_slippery_outcomes(model, state, [None] * 20))) == 1
    # Re-seeded after each restore: the outcomes of the slippery move vary (from cell 0,
    # "right" slides down to 4, right to 1 or up, staying at 0), and a seed repeats its own.
    outcomes = _slippery_outcomes(model, state, range(40))
    assert set(outcomes) == {0, 1, 4}
    assert _slippery_outcomes(model, state, range(40)) == outcomes


def test_perfect_model_reseed_needs_the_env_method():
    class Stateful(Env):
        def clone_state(self):
            return 0

        def restore_state(self, state):
            pass

    with pytest.raises(CloneStateUnsupportedError, match=r"Stateful lacks reseed_transitions"):
        PerfectModel(Stateful()).reseed(1)
