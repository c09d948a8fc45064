"""Helpers for clone_state/restore_state tests: bit-identical trajectories."""

import pickle

import numpy as np


def same_steps(a, b) -> bool:
    """Bit-identical EnvSteps (observation bytes, reward, done, every env_info field)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if not (np.array_equal(x.observation, y.observation) and x.done == y.done):
            return False
        if np.asarray(x.reward).tobytes() != np.asarray(y.reward).tobytes():
            return False
        if pickle.dumps(tuple(x.env_info)) != pickle.dumps(tuple(y.env_info)):
            return False
    return True


def roll(env, actions, reset_on_done=True):
    """Step through ``actions``; at an episode end, reset (or stop: ``reset_on_done=False``)."""
    steps = []
    for a in actions:
        step = env.step(a)
        steps.append(step)
        if step.done and not reset_on_done:
            break
        # As the collector does: Atari resets only at the end of the game (traj_done).
        if reset_on_done and getattr(step.env_info, "traj_done", step.done):
            env.reset()
    return steps


def check_clone_restore(env, prefix, actions, reset_on_done=True):
    """restore(clone) then the same actions reproduce the trajectory, also after pickling."""
    env.reset()
    roll(env, prefix)  # resets at the ends of episodes: the clone may come from any episode
    state = env.clone_state()
    blob = pickle.dumps(state)
    first = roll(env, actions, reset_on_done)
    env.restore_state(state)
    again = roll(env, actions, reset_on_done)
    env.restore_state(pickle.loads(blob))
    third = roll(env, actions, reset_on_done)
    assert same_steps(first, again) and same_steps(first, third)
