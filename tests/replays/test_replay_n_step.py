"""n-step transitions against hand-computed values: termination, truncation, wraparound,
the write cursor (F3), padding, F1 messages and input validation."""

import numpy as np
import pytest
import torch
from replay_helpers import example, final_of, make_batch, obs_of, ok_units

from rlpyt.replays.non_sequence.prioritized import PrioritizedReplayBuffer
from rlpyt.replays.non_sequence.uniform import UniformReplayBuffer
from rlpyt.utils.buffer import torchify_buffer

REWARDS = [lambda g: g + 1, lambda g: 10 * (g + 1)]  # env 0: g + 1; env 1: 10 (g + 1)
# Env 0 terminates at step 3 and is cut by a time limit at step 7 (final obs [1007, 0]).
DONES, TIMEOUTS = {(3, 0)}, {(7, 0)}


def _replay(cls=UniformReplayBuffer, **kwargs):
    # size 16, B 2: T = 8 slots per env; step g lives in slot g % 8.
    return cls(example=example(), size=16, B=2, n_step_return=3, discount=0.5, seed=0, **kwargs)


def _append(replay, g0, T):
    return replay.append_samples(make_batch(g0, T, REWARDS, DONES, TIMEOUTS))


def _by_step(replay, T_slots_to_g):
    """Every sampleable unit's fields, keyed by (step, env)."""
    T_idxs, B_idxs = np.divmod(ok_units(replay), replay.B)
    batch = replay.extract_batch(T_idxs, B_idxs)
    rows = {}
    for i, (t, b) in enumerate(zip(T_idxs, B_idxs)):
        rows[(T_slots_to_g[t], int(b))] = dict(
            obs=batch.agent_inputs.observation[i].tolist(),
            prev=(int(batch.agent_inputs.prev_action[i]), float(batch.agent_inputs.prev_reward[i])),
            action=int(batch.action[i]),
            ret=float(batch.return_[i]),
            done=bool(batch.done[i]),
            done_n=bool(batch.done_n[i]),
            disc=float(batch.bootstrap_discount[i]),
            target=batch.target_inputs.observation[i].tolist(),
            target_prev=(
                int(batch.target_inputs.prev_action[i]),
                float(batch.target_inputs.prev_reward[i]),
            ),
        )
    return rows


def _row(g, b, prev, ret, done_n, disc, target, target_prev, done=False):
    return dict(
        obs=obs_of(g, b).tolist(),
        prev=prev,
        action=10 * g + b + 1,
        ret=ret,
        done=done,
        done_n=done_n,
        disc=disc,
        target=list(target),
        target_prev=target_prev,
    )


def test_windows_stop_at_a_termination_without_bootstrap():
    replay = _replay()
    assert _append(replay, 0, 6).tolist() == [0, 1, 2, 3, 4, 5]
    # Cursor at 6, n = 3: steps 0..2 have their window and bootstrap observation written.
    rows = _by_step(replay, {t: t for t in range(8)})
    assert rows == {
        # The first appended step follows a reset: null prev action, zero prev reward.
        (0, 0): _row(0, 0, (0, 0.0), 1 + 2 * 0.5 + 3 * 0.25, False, 0.125, [3, 0], (21, 3.0)),
        (0, 1): _row(0, 1, (0, 0.0), 10 + 10 + 7.5, False, 0.125, [3, 1], (22, 30.0)),
        (1, 0): _row(1, 0, (1, 1.0), 2 + 1.5 + 1, True, 0.0, [4, 0], (31, 4.0)),
        (1, 1): _row(1, 1, (2, 10.0), 20 + 15 + 10, False, 0.125, [4, 1], (32, 40.0)),
        (2, 0): _row(2, 0, (11, 2.0), 3 + 2, True, 0.0, [4, 0], (31, 4.0)),
        (2, 1): _row(2, 1, (12, 20.0), 30 + 20 + 12.5, False, 0.125, [5, 1], (42, 50.0)),
    }


def test_truncation_bootstraps_from_the_final_observation_across_the_wrap():
    replay = _replay()
    _append(replay, 0, 6)
    assert _append(replay, 6, 6).tolist() == [6, 7, 0, 1, 2, 3]
    # Cursor at 4, wrapped: oldest step 4 (slot 4) lost its history (slot 3 is step 11);
    # the newest 3 steps (9, 10, 11) lack their future. Steps 5..8 remain.
    final = final_of(7, 0).tolist()
    rows = _by_step(replay, {4: 4, 5: 5, 6: 6, 7: 7, 0: 8, 1: 9, 2: 10, 3: 11})
    assert rows == {
        (5, 0): _row(5, 0, (41, 5.0), 6 + 3.5 + 2, False, 0.125, final, (71, 8.0)),
        (5, 1): _row(5, 1, (42, 50.0), 60 + 35 + 20, False, 0.125, [8, 1], (72, 80.0)),
        (6, 0): _row(6, 0, (51, 6.0), 7 + 4, False, 0.25, final, (71, 8.0)),
        (6, 1): _row(6, 1, (52, 60.0), 70 + 40 + 22.5, False, 0.125, [9, 1], (82, 90.0)),
        (7, 0): _row(7, 0, (61, 7.0), 8, False, 0.5, final, (71, 8.0), done=True),
        (7, 1): _row(7, 1, (62, 70.0), 80 + 45 + 25, False, 0.125, [10, 1], (92, 100.0)),
        # After the cut the agent saw the null action and zero reward.
        (8, 0): _row(8, 0, (0, 0.0), 9 + 5 + 2.75, False, 0.125, [11, 0], (101, 11.0)),
        (8, 1): _row(8, 1, (72, 80.0), 90 + 50 + 27.5, False, 0.125, [11, 1], (102, 110.0)),
    }


@pytest.mark.parametrize("cls", [UniformReplayBuffer, PrioritizedReplayBuffer])
def test_sample_batch_draws_only_units_whose_window_is_written(cls):
    replay = _replay(cls)
    for g0 in range(0, 30, 5):  # appends of 5 wrap around the 8 slots at varying offsets
        replay.append_samples(make_batch(g0, 5, REWARDS))
        t = replay.storage.t
        newest = {(t - k) % 8 for k in range(1, 4)}  # window not written yet
        oldest = {t} if replay.storage.full else set()  # history overwritten
        written = set(range(8)) if replay.storage.full else set(range(t))
        expected = {(s, b) for s in written - newest - oldest for b in (0, 1)}
        assert {divmod(int(i), 2) for i in ok_units(replay)} == expected
        if len(expected) >= 4:
            drawn = set()
            for _ in range(50):
                batch = replay.sample_batch(4)
                g = batch.agent_inputs.observation[:, 0].numpy().astype(int)
                drawn |= {
                    (int(x) % 8, int(b)) for x, b in zip(g, batch.agent_inputs.observation[:, 1])
                }
            assert drawn == expected


def test_padding_is_stored_but_never_sampled_and_the_rest_is_uniform():
    replay = UniformReplayBuffer(example=example(), size=64, B=2, n_step_return=1, seed=3)
    samples = make_batch(0, 20, REWARDS, dones={(4, 1)})
    valid = np.ones((20, 2), dtype=bool)
    valid[5:, 1] = False  # env 1 waits for a reset after its done at step 4
    replay.append_samples(samples, valid=torch.from_numpy(valid))
    assert replay.n_sampleable == 19 + 5  # env 0: steps 0..18; env 1: steps 0..4
    counts = np.zeros((20, 2))
    for _ in range(600):
        obs = replay.sample_batch(16).agent_inputs.observation.numpy().astype(int)
        np.add.at(counts, (obs[:, 0], obs[:, 1]), 1)
    assert counts[5:, 1].sum() == 0 and counts[19, 0] == 0
    expected = 600 * 16 / 24
    sampled = np.concatenate([counts[:19, 0], counts[:5, 1]])
    chi2 = ((sampled - expected) ** 2 / expected).sum()
    assert chi2 < 49.7  # chi-square, 23 degrees of freedom, p = 0.001


def test_sampling_before_enough_data_names_the_numbers():
    replay = _replay()
    with pytest.raises(ValueError, match=r"^replay holds 0 valid transitions, need >= 4"):
        replay.sample_batch(4)
    replay.append_samples(make_batch(0, 5, REWARDS))  # steps 0, 1 of 2 envs are complete
    with pytest.raises(ValueError, match=r"^replay holds 4 valid transitions, need >= 5"):
        replay.sample_batch(5)
    assert replay.sample_batch(4).return_.shape == (4,)


def test_final_observation_is_dropped_when_its_step_is_overwritten():
    replay = _replay()
    _append(replay, 0, 8)
    assert list(replay.storage.final_observation) == [7 * 2 + 0]
    replay.append_samples(make_batch(8, 8, REWARDS))  # overwrites slot 7
    assert replay.storage.final_observation == {}


def test_torch_samples_are_accepted():
    replay = _replay()
    replay.append_samples(torchify_buffer(make_batch(0, 6, REWARDS, DONES)))
    assert replay.n_sampleable == 6


def test_bad_inputs_are_errors_naming_the_field():
    replay = _replay()
    batch = make_batch(0, 4, REWARDS)
    with pytest.raises(
        ValueError, match=r"observation has shape \(4, 2, 3\), expected \(4, 2, 2\)"
    ):
        replay.append_samples(batch._replace(observation=np.zeros((4, 2, 3), np.float32)))
    with pytest.raises(ValueError, match=r"append_samples got 9 steps, more than the replay's T=8"):
        replay.append_samples(make_batch(0, 9, REWARDS))
    with pytest.raises(ValueError, match=r"valid has shape \(4, 1\), expected \(4, 2\)"):
        replay.append_samples(batch, valid=np.ones((4, 1), bool))
    with pytest.raises(ValueError, match=r"too few for windows of 1 history \+ 4 steps"):
        UniformReplayBuffer(example=example(), size=8, B=2, n_step_return=3)
    with pytest.raises(ValueError, match=r"discount must be in \[0, 1\], got 1.5"):
        UniformReplayBuffer(example=example(), size=64, B=2, discount=1.5)
    with pytest.raises(TypeError, match="update_batch_priorities needs a prioritized replay"):
        replay.update_batch_priorities(np.ones(4))


def test_planned_nbytes_equal_the_allocated_arrays():
    for cls in (UniformReplayBuffer, PrioritizedReplayBuffer):
        replay = _replay(cls)
        planned = replay.nbytes
        replay.append_samples(make_batch(0, 2, REWARDS))
        arrays = [
            replay.storage.action,
            replay.storage.reward,
            replay.storage.done,
            replay.storage.timeout,
            replay.storage.valid,
            replay.observations.observation,
            replay.units.ok,
        ]
        if cls is PrioritizedReplayBuffer:
            tree = replay.strategy.tree
            arrays += [tree._tree, tree._values, tree._active]
        assert planned == replay.nbytes == sum(a.nbytes for a in arrays)
