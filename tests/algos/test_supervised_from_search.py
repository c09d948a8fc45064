"""SupervisedFromSearch: exact targets and losses, head checks, precollect epochs, learning,
state round trip."""

import io

import numpy as np
import pytest
import torch
from planning_fakes import LookaheadAgent

from rlpyt.agents.planning.base import PlanningAgentInfo
from rlpyt.algos.planning import SupervisedFromSearch
from rlpyt.envs.base import EnvSpaces
from rlpyt.samplers.collections import BatchSpec
from rlpyt.samplers.episodes.base import Episode
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox

A = 3
SPACES = EnvSpaces(observation=FloatBox(0.0, 10.0, shape=(2,)), action=IntBox(0, A))


def make_agent(heads=("value",)):
    torch.set_num_threads(1)  # tiny networks: a second thread only adds contention
    torch.manual_seed(0)
    agent = LookaheadAgent(heads=heads)
    agent.initialize(SPACES)
    return agent


def make_algo(agent, n_itr=10, **kwargs):
    kwargs.setdefault("discount", 0.5)
    algo = SupervisedFromSearch(**kwargs)
    algo.initialize(agent, n_itr=n_itr, batch_spec=BatchSpec(0, 2))
    return algo


def episode(ep_id, rewards, terminated, solved, qualities=None):
    """Observation ``[ep_id, t]``; action ``t % A``."""
    T = len(rewards)
    t = np.arange(T + 1, dtype=np.float32)
    action = np.arange(T) % A
    probs = np.eye(A, dtype=np.float32)[action]
    if qualities is None:
        qualities = np.full((T, A), np.nan, np.float32)
    return Episode(
        observation=np.stack([np.full(T + 1, ep_id, np.float32), t], axis=1),
        action=action,
        reward=np.asarray(rewards, np.float32),
        terminated=terminated,
        solved=solved,
        agent_info=PlanningAgentInfo(
            value=np.zeros(T, np.float32), action_probs=probs, qualities=qualities
        ),
    )


# A solved (terminated) episode and one a time limit cut, discount 0.5, n_step 2.
SOLVED = episode(0, [0.0, 0.0, 1.0], terminated=True, solved=True)
CUT = episode(1, [0.0, 0.0, 0.0, 0.0], terminated=False, solved=False)


def constant_value(agent, c):
    """Make V(s) = c for every s (and the policy / Q heads output c too)."""
    with torch.no_grad():
        for head in (agent.model.value_head, agent.model.policy_head, agent.model.q_head):
            if head is not None:
                head.weight.zero_()
                head.bias.fill_(c)


def targets_by_step(algo, batch):
    targets = algo.value_targets(batch)
    return {tuple(int(x) for x in obs): float(y) for obs, y in zip(batch.observation, targets)}


@pytest.mark.parametrize(
    "value_target, expected",
    [
        # Solved: G = [0.25, 0.5, 1]; the cut episode's return is truncated: 0.
        ("discounted_return", {(0, 0): 0.25, (0, 1): 0.5, (0, 2): 1.0, (1, 0): 0.0, (1, 3): 0.0}),
        ("solved", {(0, 0): 1.0, (0, 2): 1.0, (1, 0): 0.0, (1, 3): 0.0}),
        # V = 2 everywhere. Solved: t0 0 + 0.25*2; t1 0 + 0.5*1 and the window ends in the
        # terminal state (no bootstrap); t2 1. Cut: t0..t2 0.25*2, t2's window bootstraps
        # across the cut; t3 one step left, 0.5*2.
        (
            "td",
            {
                (0, 0): 0.5,
                (0, 1): 0.5,
                (0, 2): 1.0,
                (1, 0): 0.5,
                (1, 1): 0.5,
                (1, 2): 0.5,
                (1, 3): 1.0,
            },
        ),
    ],
)
def test_value_targets_exact(value_target, expected):
    agent = make_agent()
    constant_value(agent, 2.0)
    algo = make_algo(agent, value_target=value_target, n_step=2, n_updates_per_epoch=0)
    algo.optimize_agent(0, [SOLVED, CUT])
    got = targets_by_step(algo, algo.replay.sample_batch(200))
    assert len(got) == 7  # every step drawn
    for step, value in expected.items():
        assert got[step] == value, step


def test_losses_exact_for_a_constant_network():
    agent = make_agent(heads=("value", "policy", "q"))
    constant_value(agent, 2.0)
    qualities = np.array([[1.0, np.nan, 3.0], [np.nan] * 3, [2.0, 0.0, np.nan]], np.float32)
    solved = episode(0, [0.0, 0.0, 1.0], terminated=True, solved=True, qualities=qualities)
    algo = make_algo(
        agent,
        value_target="solved",
        policy_target="action_probs",
        q_target="qualities",
        policy_loss_coeff=0.5,
        q_loss_coeff=2.0,
        n_updates_per_epoch=0,
    )
    algo.optimize_agent(0, [solved])
    batch = algo.replay.sample_batch(64)
    loss, terms = algo.loss(batch)
    assert terms["valueLoss"].item() == pytest.approx(1.0)  # (2 - 1)^2
    # Equal logits: cross-entropy of a one-hot target = log(3).
    assert terms["policyLoss"].item() == pytest.approx(np.log(3.0), rel=1e-6)
    # Rated entries of the drawn steps: |2-1|, |2-3|, |2-2|, |2-0| -> mean of their squares.
    steps = batch.observation[:, 1].long()
    sq = {0: [1.0, 1.0], 1: [], 2: [0.0, 4.0]}
    errors = [e for t in steps.tolist() for e in sq[t]]
    assert terms["qLoss"].item() == pytest.approx(sum(errors) / len(errors), rel=1e-6)
    expected = 1.0 + 0.5 * np.log(3.0) + 2.0 * sum(errors) / len(errors)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_heads_and_targets_must_match():
    with pytest.raises(ValueError, match=r"'q' head has no target \(q_target=None\)"):
        make_algo(make_agent(heads=("value", "q")))
    with pytest.raises(ValueError, match=r"policy_target='action_probs' trains the 'policy' head"):
        make_algo(make_agent(), policy_target="action_probs")
    with pytest.raises(ValueError, match=r"value_target='solved' trains the 'value' head"):
        make_algo(
            make_agent(heads=("policy",)), value_target="solved", policy_target="action_probs"
        )
    make_algo(make_agent(heads=("policy",)), value_target=None, policy_target="action_probs")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="value_target must be one of"):
        SupervisedFromSearch(value_target="return")
    with pytest.raises(ValueError, match="nothing to train"):
        SupervisedFromSearch(value_target=None)
    with pytest.raises(ValueError, match="learning_rate"):
        SupervisedFromSearch(learning_rate=0.0)
    with pytest.raises(ValueError, match="cannot name a stratum"):
        SupervisedFromSearch(replay_hierarchy=("length",))


def test_precollect_epochs_only_fill_the_replay():
    algo = make_algo(make_agent(), n_precollect_epochs=2, n_updates_per_epoch=5, batch_size=4)
    assert algo.min_itr_learn == 2
    assert algo.opt_info_fields == ("loss", "valueLoss", "gradNorm", "skipped")
    for itr in range(2):
        info = algo.optimize_agent(itr, [SOLVED])
        assert info.loss == [] and algo.update_counter == 0
    assert len(algo.replay) == 6
    info = algo.optimize_agent(2, [CUT])
    assert algo.update_counter == 5 and len(info.valueLoss) == 5 and len(info.gradNorm) == 5
    assert info.skipped == [0.0] * 5 and info.policyLoss == []


def test_training_fits_the_value_targets():
    """Value regression to known targets: the loss on a fixed batch falls well below."""
    episodes = [
        episode(i, [0.0] * (2 + i) + [1.0], terminated=True, solved=True) for i in range(4)
    ] + [episode(9, [0.0] * 6, terminated=False, solved=False)]
    algo = make_algo(
        make_agent(), learning_rate=1e-2, batch_size=32, n_updates_per_epoch=100, discount=0.8
    )
    algo.replay.add_episodes(episodes)
    batch = algo.replay.sample_batch(256)
    with torch.no_grad():
        before = algo.loss(batch)[0].item()
    losses = []
    for itr in range(3):
        losses += algo.optimize_agent(itr, []).valueLoss
    with torch.no_grad():
        after = algo.loss(batch)[0].item()
    assert before > 0.05
    assert after < 0.02 * before, (before, after)
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:20])


def test_state_dict_round_trip_continues_identically():
    def trained():
        algo = make_algo(make_agent(), batch_size=8, n_updates_per_epoch=3)
        algo.optimize_agent(0, [SOLVED, CUT])
        return algo

    a = trained()
    buffer = io.BytesIO()
    torch.save(dict(algo=a.state_dict(), agent=a.agent.state_dict()), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    b = make_algo(make_agent(), batch_size=8, n_updates_per_epoch=3)
    b.agent.load_state_dict(saved["agent"])
    b.load_state_dict(saved["algo"])
    assert b.update_counter == 3 and len(b.replay) == len(a.replay) == 7
    info_a = a.optimize_agent(1, [SOLVED])
    info_b = b.optimize_agent(1, [SOLVED])
    assert info_a.loss == info_b.loss
    for pa, pb in zip(a.agent.parameters(), b.agent.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_every_head_trains_and_is_logged():
    agent = make_agent(heads=("value", "policy", "q"))
    qualities = np.array([[1.0, np.nan, 3.0], [np.nan] * 3, [2.0, 0.0, np.nan]], np.float32)
    solved = episode(0, [0.0, 0.0, 1.0], terminated=True, solved=True, qualities=qualities)
    algo = make_algo(
        agent,
        value_target="td",
        policy_target="action_probs",
        q_target="qualities",
        n_updates_per_epoch=40,
        learning_rate=1e-2,
        batch_size=16,
    )
    assert algo.opt_info_fields == (
        "loss", "valueLoss", "policyLoss", "qLoss", "gradNorm", "skipped"
    )  # fmt: skip
    first = algo.optimize_agent(0, [solved, CUT])
    for itr in range(1, 5):
        last = algo.optimize_agent(itr, [])
    for name in ("valueLoss", "policyLoss", "qLoss"):
        assert len(getattr(first, name)) == 40
        assert np.mean(getattr(last, name)[-10:]) < 0.5 * np.mean(getattr(first, name)[:10]), name
    total = np.array(first.valueLoss) + np.array(first.policyLoss) + np.array(first.qLoss)
    np.testing.assert_allclose(first.loss, total, rtol=1e-5)
