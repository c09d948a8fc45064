"""EpisodeReplay: exact targets, exact stratified shares, eviction, state_dict round trip."""

import io

import numpy as np
import pytest
import torch

from rlpyt.agents.planning.base import PlanningAgentInfo
from rlpyt.replays.episodes import EpisodeReplay, episode_targets
from rlpyt.samplers.episodes.base import Episode

A = 3  # actions


def make_episode(ep_id, T, solved=False, terminated=None, env_rank=0, rewards=None):
    """Observation ``[ep_id, t]`` at step ``t`` (so a sample names where it came from)."""
    t = np.arange(T + 1, dtype=np.float32)
    observation = np.stack([np.full(T + 1, ep_id, np.float32), t], axis=1)
    reward = np.asarray(rewards if rewards is not None else np.arange(T) + 10.0 * ep_id)
    probs = np.zeros((T, A), np.float32)
    probs[np.arange(T), np.arange(T) % A] = 1.0
    return Episode(
        observation=observation,
        action=np.arange(T, dtype=np.int64),
        reward=reward.astype(np.float32),
        terminated=solved if terminated is None else terminated,
        solved=solved,
        agent_info=PlanningAgentInfo(
            value=np.full(T, ep_id, np.float32),
            action_probs=probs,
            qualities=np.full((T, A), np.nan, np.float32),
        ),
        env_rank=env_rank,
    )


def test_episode_targets_by_hand():
    # gamma 0.5: G3 = 4, G2 = 3 + 2 = 5, G1 = 2 + 2.5 = 4.5, G0 = 1 + 2.25 = 3.25.
    reward = np.array([1.0, 2.0, 3.0, 4.0])
    terminal = episode_targets(reward, terminated=True, discount=0.5, n_step=2)
    np.testing.assert_array_equal(terminal.discounted_return, [3.25, 4.5, 5.0, 4.0])
    # 1 + 0.5*2, 2 + 0.5*3, 3 + 0.5*4, 4 (one step left).
    np.testing.assert_array_equal(terminal.n_step_return, [2.0, 3.5, 5.0, 4.0])
    np.testing.assert_array_equal(terminal.bootstrap_index, [2, 3, 4, 4])
    # The windows of steps 2 and 3 end in the terminal state: no bootstrap.
    np.testing.assert_array_equal(terminal.bootstrap_discount, [0.25, 0.25, 0.0, 0.0])

    cut = episode_targets(reward, terminated=False, discount=0.5, n_step=2)
    # The discounted return of a cut episode is truncated (the same numbers) ...
    np.testing.assert_array_equal(cut.discounted_return, terminal.discounted_return)
    np.testing.assert_array_equal(cut.n_step_return, terminal.n_step_return)
    # ... while the n-step target bootstraps from the observation after the cut.
    np.testing.assert_array_equal(cut.bootstrap_discount, [0.25, 0.25, 0.25, 0.5])

    long = episode_targets(reward, terminated=True, discount=0.5, n_step=10)
    np.testing.assert_array_equal(long.n_step_return, long.discounted_return)
    np.testing.assert_array_equal(long.bootstrap_discount, [0.0] * 4)
    one = episode_targets(reward, terminated=False, discount=0.9, n_step=1)
    np.testing.assert_array_equal(one.n_step_return, reward.astype(np.float32))
    np.testing.assert_allclose(one.bootstrap_discount, [0.9] * 4)


def test_samples_carry_their_steps_targets():
    replay = EpisodeReplay(capacity=1000, discount=0.9, n_step=3, seed=0)
    episodes = [make_episode(0, 5, solved=True), make_episode(1, 7), make_episode(2, 2)]
    replay.add_episodes(episodes)
    samples = replay.sample_batch(300)
    assert samples.observation.shape == (300, 2) and samples.observation.dtype == torch.float32
    for i in range(300):
        ep, t = (int(x) for x in samples.observation[i])
        episode = episodes[ep]
        targets = episode_targets(episode.reward, episode.terminated, 0.9, 3)
        assert samples.action[i] == t
        assert samples.discounted_return[i] == targets.discounted_return[t]
        assert samples.n_step_return[i] == targets.n_step_return[t]
        assert samples.bootstrap_discount[i] == targets.bootstrap_discount[t]
        assert samples.solved[i] == float(episode.solved)
        np.testing.assert_array_equal(
            samples.bootstrap_observation[i], [ep, min(t + 3, len(episode))]
        )
        assert samples.agent_info.value[i] == ep
        assert samples.agent_info.action_probs[i, t % A] == 1.0


def test_solved_stratum_gets_exactly_half_of_each_batch():
    replay = EpisodeReplay(capacity=1000, seed=1)
    # 3 transitions solved, 40 unsolved: uniform sampling would give ~7% solved.
    replay.add_episodes([make_episode(0, 3, solved=True), make_episode(1, 30), make_episode(2, 10)])
    assert replay.stratum_sizes() == {(False,): 40, (True,): 3}
    for _ in range(20):
        assert int(replay.sample_batch(64).solved.sum()) == 32
    # An odd batch: 3 + 4, the extra sample to either stratum at random.
    solved_counts = [int(replay.sample_batch(7).solved.sum()) for _ in range(400)]
    assert set(solved_counts) == {3, 4}
    assert 160 < solved_counts.count(4) < 240  # binomial(400, 0.5): sd 10


def test_uniform_over_transitions_within_a_stratum():
    replay = EpisodeReplay(capacity=1000, seed=2)
    replay.add_episodes([make_episode(0, 2, solved=True), make_episode(1, 30), make_episode(2, 10)])
    episode_of = replay.sample_batch(40000).observation[:, 0].long()
    counts = torch.bincount(episode_of, minlength=3).tolist()
    assert counts[0] == 20000  # the solved stratum, alone
    # Unsolved: 30 and 10 transitions share 20000 samples 3:1 (sd ~61).
    assert abs(counts[1] - 15000) < 300 and abs(counts[2] - 5000) < 300


def test_no_hierarchy_is_uniform_over_all_transitions():
    replay = EpisodeReplay(capacity=1000, hierarchy=(), seed=3)
    replay.add_episodes([make_episode(0, 10, solved=True), make_episode(1, 30)])
    counts = torch.bincount(replay.sample_batch(40000).observation[:, 0].long()).tolist()
    assert abs(counts[0] - 10000) < 300 and abs(counts[1] - 30000) < 300


def test_nested_hierarchy_splits_each_stratum_equally():
    replay = EpisodeReplay(capacity=1000, hierarchy=("solved", "env_rank"), seed=4)
    replay.add_episodes(
        [
            make_episode(0, 4, solved=True, env_rank=0),
            make_episode(1, 9, solved=False, env_rank=0),
            make_episode(2, 5, solved=False, env_rank=1),
            make_episode(3, 6, solved=False, env_rank=1),
        ]
    )
    episode_of = replay.sample_batch(64).observation[:, 0].long()
    counts = torch.bincount(episode_of, minlength=4).tolist()
    assert counts[0] == 32  # solved: one env
    assert counts[1] == 16  # unsolved, env 0
    assert counts[2] + counts[3] == 16  # unsolved, env 1


def test_capacity_drops_oldest_episodes_and_keeps_the_newest_whole():
    replay = EpisodeReplay(capacity=10)
    replay.add_episodes([make_episode(0, 4), make_episode(1, 4)])
    assert len(replay) == 8 and replay.n_episodes == 2
    replay.add_episode(make_episode(2, 4))
    assert len(replay) == 8 and [int(e.observation[0, 0]) for e in replay.episodes] == [1, 2]
    replay.add_episode(make_episode(3, 2))
    assert len(replay) == 10 and replay.n_episodes == 3
    replay.add_episode(make_episode(4, 15))  # longer than the capacity alone
    assert len(replay) == 15 and [int(e.observation[0, 0]) for e in replay.episodes] == [4]
    samples = replay.sample_batch(50)
    assert torch.all(samples.observation[:, 0] == 4)


def test_state_dict_round_trip_samples_the_same_batches():
    replay = EpisodeReplay(capacity=30, discount=0.9, n_step=2, seed=5)
    replay.add_episodes([make_episode(i, 4 + i, solved=i % 2 == 0) for i in range(6)])
    replay.sample_batch(10)
    buffer = io.BytesIO()
    torch.save(replay.state_dict(), buffer)
    buffer.seek(0)
    copy = EpisodeReplay(capacity=30, discount=0.9, n_step=2, seed=123)
    copy.load_state_dict(torch.load(buffer, weights_only=False))
    assert len(copy) == len(replay) and copy.n_episodes == replay.n_episodes
    for _ in range(3):
        a, b = replay.sample_batch(16), copy.sample_batch(16)
        for name in ("observation", "discounted_return", "n_step_return", "bootstrap_discount"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
        assert torch.equal(a.agent_info.action_probs, b.agent_info.action_probs)
        assert type(b.agent_info).__name__ == "PlanningAgentInfo"
    # And the content goes on evolving the same way.
    replay.add_episode(make_episode(9, 5))
    copy.add_episode(make_episode(9, 5))
    assert torch.equal(replay.sample_batch(8).observation, copy.sample_batch(8).observation)


def test_incompatible_state_dict_is_an_error_naming_the_setting():
    state = EpisodeReplay(capacity=30, n_step=2).state_dict()
    with pytest.raises(ValueError, match=r"n_step: saved 2, here 3"):
        EpisodeReplay(capacity=30, n_step=3).load_state_dict(state)


def test_bad_input_is_refused_with_the_cause():
    with pytest.raises(ValueError, match=r"\['return'\] cannot name a stratum"):
        EpisodeReplay(capacity=10, hierarchy=("return",))
    with pytest.raises(ValueError, match="capacity"):
        EpisodeReplay(capacity=0)
    with pytest.raises(ValueError, match="discount"):
        EpisodeReplay(capacity=10, discount=1.5)
    replay = EpisodeReplay(capacity=10)
    with pytest.raises(RuntimeError, match="holds no transitions"):
        replay.sample_batch(4)
    bad = make_episode(0, 4)
    bad.observation = bad.observation[:4]
    with pytest.raises(ValueError, match="4 actions needs 5 observations"):
        replay.add_episode(bad)
    replay.add_episode(make_episode(0, 0))  # nothing to train on: ignored
    assert len(replay) == 0 and replay.n_episodes == 0
