import warnings

import gymnasium as gym
import numpy as np
import pytest

from rlpyt.envs.base import EnvStep
from rlpyt.envs.gym import GymEnvWrapper, gym_make
from rlpyt.utils.collections import is_namedarraytuple


class ScriptedEnv(gym.Env):
    """Steps through a script of (terminated, truncated, info) per step."""

    observation_space = gym.spaces.Box(-1, 1, (2,), np.float64)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, script, reset_info=None):
        self.script = script
        self.reset_info = reset_info or {}
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.full(2, 0.5), dict(self.reset_info)

    def step(self, action):
        terminated, truncated, info = self.script[min(self.t, len(self.script) - 1)]
        self.t += 1
        return np.full(2, self.t / 10), 1.0, terminated, truncated, dict(info)


def test_cartpole_time_limit_gives_done_and_timeout():
    env = gym_make("CartPole-v1", max_episode_steps=20)
    env.seed(0)
    obs = env.reset()
    assert obs.dtype == np.float32 and obs.shape == (4,)
    assert env.horizon == 20
    steps = []
    # Alternate actions: CartPole stays up for 20 steps, so only the time limit ends it.
    for t in range(20):
        steps.append(env.step(np.int64(t % 2)))
    assert isinstance(steps[-1], EnvStep)
    assert [s.done for s in steps] == [False] * 19 + [True]
    assert steps[-1].env_info.timeout and not any(s.env_info.timeout for s in steps[:-1])
    assert steps[-1].env_info._fields == ("timeout",)


def test_cartpole_termination_is_not_timeout():
    env = gym_make("CartPole-v1")
    env.seed(1)
    env.reset()
    for _ in range(500):
        s = env.step(np.int64(1))  # always push right: falls within ~10-60 steps
        if s.done:
            break
    assert s.done and not s.env_info.timeout


@pytest.mark.parametrize(
    "terminated, truncated, done, timeout",
    [
        (False, False, False, False),
        (True, False, True, False),
        (False, True, True, True),
        (True, True, True, False),
    ],
)
def test_done_and_timeout_flags(terminated, truncated, done, timeout):
    env = GymEnvWrapper(ScriptedEnv([(terminated, truncated, {})]))
    env.reset()
    s = env.step(np.int64(0))
    assert (s.done, bool(s.env_info.timeout)) == (done, timeout)


def test_seeding_reproduces_episodes():
    def rollout(seed):
        env = gym_make("CartPole-v1")
        env.seed(seed)
        obs = [env.reset()]
        for _ in range(30):
            s = env.step(env.action_space.sample())
            obs.append(s.observation)
            if s.done:
                obs.append(env.reset())
        return np.stack(obs)

    np.testing.assert_array_equal(rollout(7), rollout(7))
    assert not np.array_equal(rollout(7), rollout(8))


def test_info_schema_numeric_kept_non_numeric_dropped_missing_zeroed():
    script = [
        (
            False,
            False,
            {
                "lives": 3,
                "score": 1.5,
                "vec": np.ones(2, np.float32),
                "name": "x",
                "stats": {"a": 1.0, "b": "no"},
            },
        ),
        (False, False, {"lives": 2}),  # missing keys -> zeros
        (False, False, {"lives": 1, "late": 5.0}),  # unknown key -> dropped, one warning
        (False, False, {"lives": 1, "late": 6.0}),
    ]
    with pytest.warns(UserWarning, match=r"\['name', 'stats\.b'\]"):
        env = GymEnvWrapper(ScriptedEnv(script))
    fields = ("lives", "score", "vec", "stats", "timeout")
    env.reset()
    s0 = env.step(np.int64(0))
    assert s0.env_info._fields == fields and is_namedarraytuple(s0.env_info)
    assert s0.env_info.lives == 3 and s0.env_info.score == 1.5
    assert s0.env_info.stats._fields == ("a",) and s0.env_info.stats.a == 1.0
    s1 = env.step(np.int64(0))
    assert s1.env_info.lives == 2 and s1.env_info.score == 0.0
    np.testing.assert_array_equal(s1.env_info.vec, [0.0, 0.0])
    assert s1.env_info.stats.a == 0.0
    with pytest.warns(UserWarning, match="'late'"):
        s2 = env.step(np.int64(0))
    assert s2.env_info._fields == fields
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        env.step(np.int64(0))


def test_info_example_fixes_schema_without_probe():
    env = GymEnvWrapper(ScriptedEnv([(False, False, {"x": 2})]), info_example={"x": 0, "y": 0.0})
    env.reset()
    info = env.step(np.int64(0)).env_info
    assert info._fields == ("x", "y", "timeout") and info.x == 2 and info.y == 0.0


def test_dict_observation_env():
    class DictEnv(gym.Env):
        observation_space = gym.spaces.Dict(
            {"pos": gym.spaces.Box(-1, 1, (2,)), "cell": gym.spaces.Discrete(4)}
        )
        action_space = gym.spaces.Box(-2, 2, (1,))

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return {"pos": np.zeros(2, np.float32), "cell": 1}, {}

        def step(self, action):
            assert action.dtype == np.float32 and action.shape == (1,)
            return {"pos": np.full(2, 0.25, np.float32), "cell": 3}, 0.0, False, False, {}

    env = GymEnvWrapper(DictEnv())
    obs = env.reset()
    # gymnasium's Dict sorts plain-dict keys; the fields follow the space's order.
    assert is_namedarraytuple(obs) and obs._fields == ("cell", "pos")
    assert obs.cell == 1 and obs.cell.dtype == np.int64
    s = env.step(np.array([1.5], np.float32))
    np.testing.assert_array_equal(s.observation.pos, [0.25, 0.25])
    assert env.observation_space.null_value().cell == 0


class OldApiEnv(gym.Env):
    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, old_reset):
        self.old_reset = old_reset

    def reset(self, *, seed=None, options=None):
        return 0 if self.old_reset else (0, {})

    def step(self, action):
        return 0, 1.0, False, {}


@pytest.mark.parametrize("old_reset, what", [(True, "reset"), (False, "step")])
def test_old_gym_api_refused_at_construction(old_reset, what):
    with pytest.raises(
        TypeError, match=rf"OldApiEnv uses the old gym API: {what}\(\).*gymnasium API"
    ):
        GymEnvWrapper(OldApiEnv(old_reset))


def test_old_api_step_refused_when_schema_given():
    env = GymEnvWrapper(OldApiEnv(False), info_example={})
    env.reset()
    with pytest.raises(TypeError, match="4-tuple"):
        env.step(np.int64(0))


def test_unsupported_space_refused_at_construction():
    class TextEnv(gym.Env):
        observation_space = gym.spaces.Text(4)
        action_space = gym.spaces.Discrete(2)

    with pytest.raises(TypeError, match="Text is not supported"):
        GymEnvWrapper(TextEnv())


def test_close_idempotent_and_reset_after_close():
    env = gym_make("CartPole-v1")
    env.close()
    env.close()
    with pytest.raises(RuntimeError, match="after close"):
        env.reset()


def test_gym_make_atari_id_registers_ale():
    env = gym_make("ALE/Pong-v5", frameskip=4)
    obs = env.reset()
    assert obs.shape == (210, 160, 3) and obs.dtype == np.uint8
    assert "lives" in env.step(np.int64(0)).env_info._fields
    env.close()


@pytest.mark.parametrize("action", [np.array(2), np.int64(2), 2])
def test_discrete_action_reaches_the_env_as_python_int(action):
    """FrozenLake indexes its transition dict with the action (``P[s][a]``): a 0-d
    array action, what a sampler's action buffer gives, used to raise "unhashable"."""
    env = gym_make("FrozenLake-v1", is_slippery=False, map_name="4x4")
    env.reset()
    step = env.step(action)  # action 2 = right, not slippery: from cell 0 to cell 1
    assert int(step.observation) == 1
    with pytest.raises(TypeError):  # a float action is refused, not truncated
        env.step(np.array(2.0))


def raw_rollout(env, actions, seed):
    """(observation, reward, terminated, truncated, info) of each step, resetting at the end."""
    out = [env.reset(seed=seed)]
    for a in actions:
        step = env.step(int(a))
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset())
    return out


def wrapped_rollout(env, actions, seed):
    env.seed(seed)
    out = [env.reset()]
    for a in actions:
        step = env.step(np.int64(a))
        out.append(step)
        if step.done:
            out.append(env.reset())
    return out


@pytest.mark.parametrize(
    "env_id, kwargs, n_actions",
    [
        ("CartPole-v1", dict(max_episode_steps=15), 2),
        ("FrozenLake-v1", dict(max_episode_steps=7), 4),  # slippery: random transitions
        ("rlpyt/Hanoi-v0", dict(n_disks=2, max_episode_steps=6), 6),
        ("rlpyt/BitFlipper-v0", dict(n_bits=3), 3),  # no TimeLimit wrapper
    ],
)
def test_step_past_the_standard_wrappers_gives_gymnasiums_steps(env_id, kwargs, n_actions):
    # GymEnvWrapper steps the unwrapped env once the wrappers only pass steps through; the
    # steps, the time limits and the wrappers' counters are those of gymnasium's own stack.
    actions = np.random.default_rng(0).integers(n_actions, size=60)
    env = gym_make(env_id, **kwargs)
    raw = gym.make(env_id, **kwargs)
    got, expected = wrapped_rollout(env, actions, seed=3), raw_rollout(raw, actions, seed=3)
    assert len(got) == len(expected)
    n_resets = 0
    for g, e in zip(got, expected, strict=True):
        if isinstance(g, EnvStep):
            obs, reward, terminated, truncated, info = e
            np.testing.assert_array_equal(g.observation, obs)
            assert g.reward == reward and g.done == (terminated or truncated)
            assert bool(g.env_info.timeout) == (truncated and not terminated)
            for key, value in info.items():
                assert getattr(g.env_info, key) == value
        else:
            np.testing.assert_array_equal(g, e[0])
            n_resets += 1
    assert n_resets > 2  # episodes ended (time limits where there are some) and restarted
    chain = [env.env, raw]
    while chain[0] is not chain[0].unwrapped:
        for w in chain:
            assert type(w) is type(chain[0])
        if isinstance(chain[0], gym.wrappers.TimeLimit):
            assert chain[0]._elapsed_steps == chain[1]._elapsed_steps
        chain = [w.env for w in chain]


def test_step_before_reset_still_refused_by_order_enforcing():
    fresh = GymEnvWrapper(gym.make("CartPole-v1"), info_example={})  # no probe: no reset
    with pytest.raises(gym.error.ResetNeeded):
        fresh.step(np.int64(0))


class CountingWrapper(gym.Wrapper):
    """Counts the steps that pass through it."""

    def __init__(self, env):
        super().__init__(env)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        return self.env.step(action)


def test_other_wrappers_are_stepped_through():
    env = GymEnvWrapper(CountingWrapper(gym.make("CartPole-v1")), info_example={})
    env.reset()
    for _ in range(3):
        env.step(np.int64(0))
    assert env.env.steps == 3
