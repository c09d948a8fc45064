"""AtariEnv as an env model: clone_state/restore_state and pickling are bit-exact."""

import pickle

import numpy as np
import pytest
from clone_checks import roll, same_steps

from rlpyt.envs.atari.atari_env import AtariEnv
from rlpyt.envs.model import PerfectModel


@pytest.mark.parametrize("sticky", [0.0, 0.25])
def test_atari_clone_restore_and_pickle_are_bit_exact(sticky):
    env = AtariEnv(
        game="breakout", seed=1, fire_on_reset=True, repeat_action_probability=sticky, horizon=250
    )
    env.reset()
    rng = np.random.default_rng(0)
    roll(env, rng.integers(0, 4, size=40))
    state = env.clone_state()
    blob = pickle.dumps(env)
    # Long enough to lose lives and reach the horizon: the frame stack, lives, step
    # counter and the no-op generator of the next reset all matter.
    actions = rng.integers(0, 4, size=400)
    first = roll(env, actions)
    assert sum(s.done for s in first) > sum(s.env_info.traj_done for s in first) > 0
    env.restore_state(state)
    assert same_steps(first, roll(env, actions))
    copy_env = pickle.loads(blob)
    assert same_steps(first, roll(copy_env, actions))
    model = PerfectModel(env)
    model.restore_state(state)
    assert same_steps(first[:50], roll(model, actions[:50]))


def test_closed_atari_env_pickles_and_stays_closed():
    env = AtariEnv(game="pong", seed=0)
    env.close()
    again = pickle.loads(pickle.dumps(env))
    with pytest.raises(RuntimeError, match="after close"):
        again.reset()
