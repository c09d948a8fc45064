"""AtariEnv on ale-py: preprocessing, frame order, lives, scores, horizon, seeding."""

import ale_py
import cv2
import numpy as np
import pytest

from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.envs.base import EnvStep


def _frames_nonzero(observation) -> list[bool]:
    return [bool(frame.any()) for frame in observation]


def test_observation_shape_dtype_and_spaces():
    env = AtariEnv(game="pong", seed=0)
    assert env.action_space.n == 6  # Pong's minimal action set
    assert env.action_meanings[:2] == ["NOOP", "FIRE"]
    assert env.observation_space.shape == (4, 84, 84)
    assert env.observation_space.dtype == np.uint8
    obs = env.reset()
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    for action in (1, np.int64(2), np.array(3)):  # int, numpy scalar, 0-d array
        step = env.step(action)
        assert isinstance(step, EnvStep)
        assert env.observation_space.contains(step.observation)
        assert step.reward.dtype == np.float32
        assert step.env_info.game_score.dtype == np.float32
        assert type(step.done) is bool and type(step.env_info.traj_done) is bool
    env.close()

    small = AtariEnv(game="pong", num_img_obs=2, frame_shape=(50, 40), seed=0)
    assert small.reset().shape == (2, 50, 40)
    assert small.step(0).observation.shape == (2, 50, 40)


def test_frames_are_ordered_oldest_first():
    env = AtariEnv(game="pong", seed=1)
    obs = env.reset()
    assert _frames_nonzero(obs) == [False, False, False, True]  # zeros before the reset
    first = env.step(0).observation
    assert _frames_nonzero(first) == [False, False, True, True]
    assert np.array_equal(first[2], obs[3])  # the reset frame moved one slot older
    previous = first
    for t in range(20):
        obs = env.step(t % 6).observation
        # Each step drops the oldest frame and appends the newest.
        assert np.array_equal(obs[:-1], previous[1:])
        previous = obs
    # The returned arrays are copies: later steps do not change them.
    kept = obs.copy()
    env.step(1)
    assert np.array_equal(obs, kept)


def test_frame_is_max_of_last_two_screens_resized():
    """Reproduce the preprocessing on a bare ALEInterface (deterministic without sticky actions)."""
    env = AtariEnv(game="pong", max_start_noops=0, seed=5)
    obs = env.reset()
    ale = ale_py.ALEInterface()
    ale.setFloat("repeat_action_probability", 0.0)
    ale.setInt("frame_skip", 1)
    ale.loadROM(ale_py.roms.get_rom_path("pong"))
    actions = ale.getMinimalActionSet()
    ale.reset_game()
    ale.act(ale_py.Action.NOOP)  # the life reset after a hard reset

    def resize(screen):
        return cv2.resize(screen, (84, 84), interpolation=cv2.INTER_AREA)

    assert np.array_equal(obs[-1], resize(ale.getScreenGrayscale()))
    pooling_mattered = False
    for t in range(80):
        a = t % 6
        new = env.step(a).observation[-1]
        screens = []
        for _ in range(4):
            ale.act(actions[a])
            screens.append(ale.getScreenGrayscale())
        assert np.array_equal(new, resize(np.maximum(screens[-2], screens[-1]))), t
        pooling_mattered |= not np.array_equal(new, resize(screens[-1]))
    assert pooling_mattered  # the moving ball makes the max differ from the last screen


def _play_breakout_noops(episodic_lives: bool):
    env = AtariEnv(
        game="breakout",
        episodic_lives=episodic_lives,
        fire_on_reset=True,
        max_start_noops=0,
        seed=0,
    )
    env.reset()
    assert env.lives == 5
    steps = []
    for _ in range(3000):  # the paddle stays still after FIRE: lives go fast
        step = env.step(0)
        steps.append((step, env.lives))
        if step.env_info.traj_done:
            return steps
    raise AssertionError("breakout did not end within 3000 NOOP steps")


def test_episodic_lives_done_on_life_loss_without_reset():
    steps = _play_breakout_noops(episodic_lives=True)
    dones = [(s, lives) for s, lives in steps if s.done]
    # Four lost lives end episodes but not the trajectory; game over ends both.
    assert [lives for _, lives in dones] == [4, 3, 2, 1, 0]
    for step, _ in dones[:-1]:
        assert not step.env_info.traj_done and not step.env_info.timeout
        # A new episode for the agent: older frames cleared, newest frame shown.
        assert _frames_nonzero(step.observation) == [False, False, False, True]
    game_over = dones[-1][0]
    assert game_over.env_info.traj_done and not game_over.env_info.timeout
    assert all(_frames_nonzero(game_over.observation))  # no life reset at game over
    # Stepping went on without reset: the next step after a life loss continues the game.
    i = next(i for i, (s, _) in enumerate(steps) if s.done)
    after, lives_after = steps[i + 1]
    assert not after.done and lives_after == 4
    assert _frames_nonzero(after.observation) == [False, False, True, True]


def test_without_episodic_lives_done_only_at_game_over():
    steps = _play_breakout_noops(episodic_lives=False)
    assert [s.done for s, _ in steps].count(True) == 1 and steps[-1][0].done
    lives = [lives for _, lives in steps]
    assert lives[0] == 5 and lives[-1] == 0 and sorted(set(lives)) == [0, 1, 2, 3, 4, 5]


def test_clipped_reward_and_game_score():
    env = AtariEnv(game="space_invaders", clip_reward=True, seed=3)
    rng = np.random.default_rng(0)
    traj_info = AtariTrajInfo()
    env.reset()
    raw_scores, rewards = [], []
    for _ in range(400):
        step = env.step(rng.integers(env.action_space.n))
        traj_info.step(None, None, step.reward, step.done, None, step.env_info)
        raw_scores.append(float(step.env_info.game_score))
        rewards.append(float(step.reward))
        if step.env_info.traj_done:
            break
    assert set(rewards) <= {-1.0, 0.0, 1.0}
    assert rewards == [float(np.sign(s)) for s in raw_scores]
    assert max(raw_scores) >= 5  # Space Invaders scores 5 to 30 per invader
    assert traj_info.Return == sum(rewards)
    assert traj_info.GameScore == sum(raw_scores)
    assert traj_info.GameScore > traj_info.Return > 0
    assert traj_info.Length == len(rewards)


def test_unclipped_reward_is_game_score():
    env = AtariEnv(game="space_invaders", clip_reward=False, seed=3)
    rng = np.random.default_rng(0)
    env.reset()
    rewards = []
    for _ in range(400):
        step = env.step(rng.integers(env.action_space.n))
        assert step.reward == step.env_info.game_score
        rewards.append(float(step.reward))
    assert max(rewards) > 1


def test_horizon_timeout():
    env = AtariEnv(game="pong", horizon=5, seed=0)
    assert env.horizon == 5
    for _ in range(2):  # the counter restarts at each reset
        env.reset()
        for _ in range(4):
            step = env.step(0)
            assert not step.done and not step.env_info.traj_done and not step.env_info.timeout
        step = env.step(0)
        assert step.done and step.env_info.traj_done and step.env_info.timeout


def _rollout(env, n_steps: int = 40):
    actions = np.random.default_rng(7).integers(env.action_space.n, size=n_steps)
    observations = [env.reset()]
    rewards = []
    for a in actions:
        step = env.step(a)
        observations.append(step.observation)
        rewards.append(float(step.env_info.game_score))
    return np.stack(observations), rewards


@pytest.mark.parametrize("sticky", [0.0, 0.25])
def test_same_seed_same_frames(sticky):
    kwargs = dict(game="pong", repeat_action_probability=sticky, max_start_noops=30)
    obs_a, rew_a = _rollout(AtariEnv(**kwargs, seed=11))
    obs_b, rew_b = _rollout(AtariEnv(**kwargs, seed=11))
    assert np.array_equal(obs_a, obs_b) and rew_a == rew_b
    # seed() re-seeds an env in use: the run repeats.
    env = AtariEnv(**kwargs, seed=11)
    _rollout(env)
    env.seed(11)
    obs_c, _ = _rollout(env)
    assert np.array_equal(obs_a, obs_c)


def test_different_seeds_differ():
    # Different numbers of start no-ops.
    obs_a, _ = _rollout(AtariEnv(game="pong", max_start_noops=30, seed=1))
    obs_b, _ = _rollout(AtariEnv(game="pong", max_start_noops=30, seed=2))
    assert not np.array_equal(obs_a, obs_b)
    # No start no-ops: only the emulator's seed (sticky actions) differs.
    sticky = dict(game="pong", max_start_noops=0, repeat_action_probability=0.25)
    obs_a, _ = _rollout(AtariEnv(**sticky, seed=1), n_steps=100)
    obs_b, _ = _rollout(AtariEnv(**sticky, seed=2), n_steps=100)
    assert not np.array_equal(obs_a, obs_b)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(frame_skip=0), "frame_skip"),
        (dict(frame_skip=2.5), "frame_skip"),
        (dict(num_img_obs=0), "num_img_obs"),
        (dict(max_start_noops=-1), "max_start_noops"),
        (dict(repeat_action_probability=1.5), "repeat_action_probability"),
        (dict(repeat_action_probability=-0.1), "repeat_action_probability"),
        (dict(horizon=0), "horizon"),
        (dict(frame_shape=(84,)), "frame_shape"),
        (dict(frame_shape=(84, 0)), "frame_shape"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        AtariEnv(game="pong", **kwargs)


def test_counts_written_as_integral_floats_are_accepted():
    # The original rlpyt's configs write horizon=27e3; a non-integral count is still refused.
    env = AtariEnv(game="pong", horizon=27e3, num_img_obs=4.0)
    assert env.horizon == 27000 and type(env.horizon) is int
    assert env.observation_space.shape[0] == 4
    env.close()


def test_unknown_game_is_named():
    with pytest.raises(ValueError, match="'pongg'.*'pong'"):
        AtariEnv(game="pongg")


def test_close_is_idempotent():
    env = AtariEnv(game="pong", seed=0)
    env.reset()
    env.close()
    env.close()
    with pytest.raises(RuntimeError, match="close"):
        env.reset()
