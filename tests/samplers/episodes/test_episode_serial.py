"""SerialEpisodeSampler: exact episodes, lockstep batching, seeds, resume, bad input."""

import pickle

import numpy as np
import pytest
import torch
from episode_helpers import (
    HANOI_2_SOLUTION,
    LookaheadAgent,
    RandomPickAgent,
    ScriptedAgent,
    assert_same_episodes,
)

from rlpyt.envs.gym import gym_make
from rlpyt.envs.model import CloneStateUnsupportedError
from rlpyt.models.planning import PlanningMlpModel
from rlpyt.samplers.episodes import EpisodeTrajInfo, SerialEpisodeSampler

HANOI_2 = dict(id="rlpyt/Hanoi-v0", n_disks=2)
INVALID = 2  # Hanoi move peg 1 -> peg 0: peg 1 is empty at the start, the state stays


def one_hot_pegs(*pegs):
    return np.eye(3, dtype=np.float32)[list(pegs)].reshape(-1)


def make_sampler(env_kwargs=HANOI_2, **kwargs):
    return SerialEpisodeSampler(EnvCls=gym_make, env_kwargs=env_kwargs, **kwargs)


@pytest.fixture
def closing():
    samplers = []
    yield samplers.append
    for s in samplers:
        s.shutdown()


def test_scripted_hanoi_episodes_exact(closing):
    """Env 0 solves 2-disk Hanoi in 3 moves; env 1 first makes an invalid move (4 steps):
    the agent plans for both, then for env 1 alone."""
    sampler = make_sampler(n_envs=2)
    closing(sampler)
    agent = ScriptedAgent(scripts=[HANOI_2_SOLUTION, (INVALID, *HANOI_2_SOLUTION)])
    sampler.initialize(agent, seed=3, traj_info_kwargs=dict(discount=0.5))
    episodes, traj_infos = sampler.obtain_samples(0)

    assert agent.step_env_ids == [[0, 1], [0, 1], [0, 1], [1]]
    first, second = episodes
    expected_obs = np.stack(
        [one_hot_pegs(0, 0), one_hot_pegs(1, 0), one_hot_pegs(1, 2), one_hot_pegs(2, 2)]
    )
    np.testing.assert_array_equal(first.observation, expected_obs)
    np.testing.assert_array_equal(first.action, [0, 1, 3])
    np.testing.assert_array_equal(first.reward, [0.0, 0.0, 1.0])
    assert (first.terminated, first.solved, first.env_rank, len(first)) == (True, True, 0, 3)
    np.testing.assert_array_equal(first.agent_info.value, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(first.agent_info.action_probs, np.eye(6)[[0, 1, 3]])
    assert np.isnan(first.agent_info.qualities).all()

    np.testing.assert_array_equal(
        second.observation, np.concatenate([expected_obs[:1], expected_obs])
    )
    np.testing.assert_array_equal(second.action, [INVALID, 0, 1, 3])
    np.testing.assert_array_equal(second.reward, [0.0, 0.0, 0.0, 1.0])
    assert (second.terminated, second.solved, second.env_rank) == (True, True, 1)

    assert all(isinstance(t, EpisodeTrajInfo) for t in traj_infos)
    assert (traj_infos[0]["Return"], traj_infos[0]["Length"]) == (1.0, 3)
    assert traj_infos[0]["DiscountedReturn"] == 0.25  # 0.5 ** 2 * 1
    assert traj_infos[1]["DiscountedReturn"] == 0.125
    assert traj_infos[0]["Solved"] is True and traj_infos[1]["Length"] == 4
    assert traj_infos[0]["agent/t"] == 1.0  # the mean of the per-step metric
    assert traj_infos[0]["agent/time_per_step"] > 0


def test_time_limits_cut_without_terminating(closing):
    """The sampler's episode_time_limit and the env's own TimeLimit both give terminated=False."""
    ours = make_sampler(n_envs=1, episode_time_limit=2)
    theirs = make_sampler(env_kwargs=dict(HANOI_2, max_episode_steps=2), n_envs=1)
    for sampler in (ours, theirs):
        closing(sampler)
        sampler.initialize(ScriptedAgent(), seed=0)
        (episode,), (traj_info,) = sampler.obtain_samples(0)
        assert (len(episode), episode.terminated, episode.solved) == (2, False, False)
        assert episode.observation.shape == (3, 6)
        np.testing.assert_array_equal(episode.reward, [0.0, 0.0])
        assert (traj_info["Length"], traj_info["Solved"], traj_info["Return"]) == (2, False, 0.0)


def test_one_forward_pass_per_search_step_for_16_envs(closing):
    sampler = make_sampler(
        env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=3), n_envs=16, episode_time_limit=5
    )
    closing(sampler)
    agent = LookaheadAgent(ModelCls=PlanningMlpModel, model_kwargs=dict(heads=("value",)))
    sampler.initialize(agent, seed=0)
    episodes, _ = sampler.obtain_samples(0)
    assert sum(len(e) for e in episodes) == 16 * 5  # real steps (nothing solves 3 disks in 5)
    assert agent.search_steps == 5  # one search step per real step (one lookahead request)
    assert agent.forward_calls == 5  # one forward pass for all 16 envs at each
    assert not agent.model.training  # sampled with the network in eval mode


def test_same_seed_same_episodes_other_seed_others(closing):
    def play(seed):
        sampler = make_sampler(env_kwargs=dict(id="rlpyt/BitFlipper-v0", n_bits=4), n_envs=3)
        closing(sampler)
        sampler.initialize(RandomPickAgent(), seed=seed)
        return [sampler.obtain_samples(itr)[0] for itr in range(2)]

    a, b, c = play(5), play(5), play(6)
    for x, y in zip(a, b, strict=True):
        assert_same_episodes(x, y)
    assert any(
        not np.array_equal(x.observation, y.observation) for x, y in zip(a[0], c[0], strict=True)
    )
    # Epochs and envs differ from each other (the envs are reseeded per epoch and rank).
    assert not np.array_equal(a[0][0].observation[0], a[1][0].observation[0])
    assert not np.array_equal(a[0][0].observation[0], a[0][1].observation[0])


def test_state_dict_round_trip_resumes_the_same_epochs(closing):
    """A sampler restored from the state after epoch 1 plays epochs 2 and 3 as the
    uninterrupted one does (env seeds and the agent's per-env generators)."""

    def new_sampler():
        sampler = make_sampler(env_kwargs=dict(id="rlpyt/BitFlipper-v0", n_bits=4), n_envs=2)
        closing(sampler)
        sampler.initialize(RandomPickAgent(), seed=11)
        return sampler

    uninterrupted = new_sampler()
    epochs = [uninterrupted.obtain_samples(itr)[0] for itr in range(4)]
    first = new_sampler()
    for itr in range(2):
        first.obtain_samples(itr)
    state = pickle.loads(pickle.dumps(first.state_dict()))
    first.shutdown()
    resumed = new_sampler()
    resumed.load_state_dict(state)
    for itr in (2, 3):
        assert_same_episodes(resumed.obtain_samples(itr)[0], epochs[itr])


def test_lookahead_planner_is_deterministic_given_weights(closing):
    def play():
        torch.manual_seed(0)
        agent = LookaheadAgent(ModelCls=PlanningMlpModel, model_kwargs=dict(heads=("value",)))
        sampler = make_sampler(
            env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=3), n_envs=4, episode_time_limit=12
        )
        closing(sampler)
        sampler.initialize(agent, seed=2)
        return sampler.obtain_samples(0)[0]

    a, b = play(), play()
    assert_same_episodes(a, b)
    assert np.isfinite(a[0].agent_info.qualities).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_envs=0), "n_envs must be >= 1"),
        (dict(episode_time_limit=0), "episode_time_limit must be >= 1"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_sampler(**kwargs)


def test_env_without_clone_state_is_named(closing):
    sampler = make_sampler(env_kwargs=dict(id="Blackjack-v1"), n_envs=2)
    closing(sampler)
    with pytest.raises(CloneStateUnsupportedError, match=r"BlackjackEnv\(Blackjack-v1\)"):
        sampler.initialize(ScriptedAgent(), seed=0)


def test_use_before_initialize_and_after_shutdown_raise():
    sampler = make_sampler(n_envs=1)
    with pytest.raises(RuntimeError, match="before initialize"):
        sampler.obtain_samples(0)
    sampler.initialize(ScriptedAgent(), seed=0)
    sampler.shutdown()
    sampler.shutdown()  # idempotent
    with pytest.raises(RuntimeError, match="after shutdown"):
        sampler.obtain_samples(1)


def test_an_envs_episodes_do_not_depend_on_the_other_envs(closing):
    """Env ranks 0 and 1 play the same episodes with 2 or 3 envs in the group: their seeds
    and the agent's per-env generators do not depend on the group (so a split among
    workers does not change them either)."""

    def play(n_envs):
        sampler = make_sampler(env_kwargs=dict(id="rlpyt/BitFlipper-v0", n_bits=4), n_envs=n_envs)
        closing(sampler)
        sampler.initialize(RandomPickAgent(), seed=4)
        return sampler.obtain_samples(0)[0]

    assert_same_episodes(play(2), play(3)[:2])
