"""A2C and PPO: hand-computed losses, schedules, minibatching, guards and resume.

The agents here are tiny fakes written against the agent interface (train-mode
``agent(observation, prev_action, prev_reward[, init_rnn_state])`` ->
``(dist_info, value[, next_rnn_state])``), so these tests do not depend on
rlpyt.agents.
"""

import copy
import math

import pytest
import torch
from pg_fakes import (
    HIDDEN,
    LN2,
    N_ACTIONS,
    OBS_DIM,
    AgentInfo,
    AgentInfoRnn,
    EnvInfo,
    GruAgent,
    LinearAgent,
    RnnState,
    params_of,
)

from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.pg.base import OptInfo
from rlpyt.algos.pg.ppo import PPO
from rlpyt.algos.utils import discount_return, generalized_advantage_estimation
from rlpyt.distributions.categorical import DistInfo
from rlpyt.samplers.collections import AgentSamplesBsv, BatchSpec, EnvSamples, Samples


def make_samples(T, B, seed=0, recurrent=False):
    g = torch.Generator().manual_seed(seed)
    prob = torch.softmax(torch.randn(T, B, N_ACTIONS, generator=g), dim=-1)
    value = torch.randn(T, B, generator=g)
    if recurrent:
        prev_rnn_state = RnnState(h=torch.randn(T, B, 1, HIDDEN, generator=g))
        agent_info = AgentInfoRnn(DistInfo(prob=prob), value, prev_rnn_state)
    else:
        agent_info = AgentInfo(DistInfo(prob=prob), value)
    agent = AgentSamplesBsv(
        action=torch.randint(N_ACTIONS, (T, B), generator=g),
        prev_action=torch.zeros(T, B, dtype=torch.long),
        agent_info=agent_info,
        bootstrap_value=torch.randn(1, B, generator=g),
        timeout_value=torch.zeros(T, B),
    )
    env = EnvSamples(
        observation=torch.randn(T, B, OBS_DIM, generator=g),
        reward=torch.randn(T, B, generator=g),
        prev_reward=torch.zeros(T, B),
        done=torch.zeros(T, B, dtype=torch.bool),
        env_info=EnvInfo(timeout=torch.zeros(T, B, dtype=torch.bool)),
    )
    return Samples(agent=agent, env=env)


def test_minibatches_must_divide_the_batch():
    with pytest.raises(ValueError, match=r"5 \* 3 = 15 is not divisible by minibatches = 4"):
        PPO(minibatches=4).initialize(LinearAgent(), n_itr=10, batch_spec=BatchSpec(5, 3))
    # Recurrent agents split whole env columns: B must be divisible, T * B is not enough.
    with pytest.raises(ValueError, match=r"batch_B = 3 is not divisible by minibatches = 2"):
        PPO(minibatches=2).initialize(GruAgent(), n_itr=10, batch_spec=BatchSpec(4, 3))
    algo = PPO(minibatches=5)
    algo.initialize(LinearAgent(), n_itr=10, batch_spec=BatchSpec(5, 3))
    assert algo.batch_size == 3


# -- losses on hand-built batches ---------------------------------------------------


def ppo_hand_batch():
    """[T=2, B=2]; the new policy is uniform (p = 0.5 for every action), V = 0.

    Action 0 everywhere; old p(0) = 0.25 at t=0 (ratio 2) and 0.625 at t=1 (ratio 0.8).
    With eps = 0.1 the surrogate min(r A, clip(r, 0.9, 1.1) A) is:
      (t0, A=+1): min(2, 1.1) = 1.1     clip active
      (t0, A=-1): min(-2, -1.1) = -2     clip inactive (ratio up, advantage negative)
      (t1, A=+1): min(0.8, 0.9) = 0.8    clip inactive (ratio down, advantage positive)
      (t1, A=-1): min(-0.8, -0.9) = -0.9 clip active
    """
    T, B = 2, 2
    agent_inputs = (torch.zeros(T, B, OBS_DIM), torch.zeros(T, B), torch.zeros(T, B))
    old_prob = torch.tensor([[[0.25, 0.75]] * 2, [[0.625, 0.375]] * 2])
    return dict(
        agent_inputs=agent_inputs,
        action=torch.zeros(T, B, dtype=torch.long),
        return_=torch.tensor([[1.0, -1.0], [2.0, 0.0]]),
        advantage=torch.tensor([[1.0, -1.0], [1.0, -1.0]]),
        old_dist_info=DistInfo(prob=old_prob),
    )


def test_ppo_loss_hand_computed():
    algo = PPO(ratio_clip=0.1, value_loss_coeff=1.0, entropy_loss_coeff=0.01)
    algo.initialize(LinearAgent(zero=True), n_itr=10, batch_spec=BatchSpec(2, 2))
    batch = ppo_hand_batch()
    loss, entropy, perplexity = algo.loss(valid=None, **batch)
    # pi_loss = -(1.1 - 2 + 0.8 - 0.9) / 4 = 0.25
    # value_loss = 0.5 * (1 + 1 + 4 + 0) / 4 = 0.75; entropy = ln 2 (uniform over 2)
    torch.testing.assert_close(loss, torch.tensor(0.25 + 0.75 - 0.01 * LN2))
    torch.testing.assert_close(entropy, torch.tensor(LN2))
    torch.testing.assert_close(perplexity, torch.tensor(2.0))
    terms = algo.loss_terms(valid=None, **batch)
    torch.testing.assert_close(terms.pi_loss, torch.tensor(0.25))
    torch.testing.assert_close(terms.value_loss, torch.tensor(0.75))
    # The last step invalid: pi_loss = -(1.1 - 2 + 0.8) / 3 = 1/30; value 0.5 * 6 / 3 = 1.
    valid = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    terms = algo.loss_terms(valid=valid, **batch)
    torch.testing.assert_close(terms.pi_loss, torch.tensor(1.0 / 30.0))
    torch.testing.assert_close(terms.value_loss, torch.tensor(1.0))
    # A wider clip (0.3) changes only the clip-active entries: 1.3 and -0.8 (clamped to 0.8).
    algo.current_ratio_clip = 0.3
    terms = algo.loss_terms(valid=None, **batch)
    torch.testing.assert_close(terms.pi_loss, torch.tensor(-(1.3 - 2.0 + 0.8 - 0.8) / 4))


def test_a2c_loss_hand_computed():
    """T=2, B=1, rewards 1, 1, no done, bootstrap 0, gamma 0.5; uniform policy, V = 0.

    returns = advantages = [1.5, 1]; log pi = -ln 2.
    pi_loss = ln 2 * (1.5 + 1) / 2 = 1.25 ln 2
    value_loss = 0.5 * mean(0.5 * [2.25, 1]) = 0.40625; entropy_loss = -0.01 ln 2
    """
    algo = A2C(discount=0.5, value_loss_coeff=0.5, entropy_loss_coeff=0.01)
    algo.initialize(LinearAgent(zero=True), n_itr=10, batch_spec=BatchSpec(2, 1))
    samples = make_samples(2, 1)
    samples.env.reward[:] = 1.0
    samples.agent.bootstrap_value[:] = 0.0
    samples.agent.agent_info.value[:] = 0.0
    loss, entropy, perplexity = algo.loss(samples)
    torch.testing.assert_close(loss, torch.tensor(1.24 * LN2 + 0.40625))
    torch.testing.assert_close(entropy, torch.tensor(LN2))
    torch.testing.assert_close(perplexity, torch.tensor(2.0))


# -- returns processing ------------------------------------------------------------


def test_process_returns_wiring_timeouts_and_valid():
    samples = make_samples(4, 2)
    samples.env.done[1, 0] = True
    samples.env.done[2, 1] = True
    samples.env.env_info.timeout[2, 1] = True
    samples.agent.timeout_value[2, 1] = 3.0
    kw = dict(timeout=samples.env.env_info.timeout, timeout_value=samples.agent.timeout_value)
    r, d, v, bv = (
        samples.env.reward,
        samples.env.done,
        samples.agent.agent_info.value,
        samples.agent.bootstrap_value,
    )
    algo = A2C(discount=0.9)
    algo.initialize(LinearAgent(), n_itr=1, batch_spec=BatchSpec(4, 2), mid_batch_reset=True)
    return_, advantage, valid = algo.process_returns(samples)
    assert valid is None  # mid-batch resets, feed-forward: every step is valid
    torch.testing.assert_close(return_, discount_return(r, d, bv, 0.9, **kw))
    torch.testing.assert_close(advantage, return_ - v)

    algo = PPO(discount=0.9, gae_lambda=0.8)
    algo.initialize(LinearAgent(), n_itr=1, batch_spec=BatchSpec(4, 2), mid_batch_reset=False)
    return_, advantage, valid = algo.process_returns(samples)
    adv, ret = generalized_advantage_estimation(r, v, d, bv, 0.9, 0.8, **kw)
    torch.testing.assert_close(return_, ret)
    torch.testing.assert_close(advantage, adv)
    torch.testing.assert_close(valid, torch.tensor([[1.0, 1], [1, 1], [0, 1], [0, 0]]))

    # A recurrent agent needs the mask even with mid-batch resets.
    algo = PPO(minibatches=1)
    algo.initialize(GruAgent(), n_itr=1, batch_spec=BatchSpec(4, 2), mid_batch_reset=True)
    assert algo.process_returns(make_samples(4, 2, recurrent=True))[2] is not None


def test_normalize_advantage_never_nan():
    algo = A2C(normalize_advantage=True)
    algo.initialize(LinearAgent(), n_itr=1, batch_spec=BatchSpec(3, 1), mid_batch_reset=False)
    samples = make_samples(3, 1)
    samples.env.done[0, 0] = True  # only one valid step: its std is undefined
    _, advantage, valid = algo.process_returns(samples)
    assert torch.isfinite(advantage).all()
    assert advantage[0, 0] == 0.0
    # All advantages equal (std 0): zeros, not 0/0.
    samples = make_samples(3, 1)
    samples.env.reward[:] = 0.0
    samples.agent.bootstrap_value[:] = 0.0
    samples.agent.agent_info.value[:] = 0.0
    _, advantage, _ = algo.process_returns(samples)
    torch.testing.assert_close(advantage, torch.zeros(3, 1))
    # Ordinary case: zero mean, unit std over the batch.
    algo.mid_batch_reset = True
    _, advantage, _ = algo.process_returns(make_samples(8, 2))
    assert abs(advantage.mean().item()) < 1e-5 and abs(advantage.std().item() - 1) < 1e-5


# -- optimization ------------------------------------------------------------------


def test_ppo_optimize_feedforward():
    agent = LinearAgent()
    algo = PPO(minibatches=4, epochs=3)
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(4, 2), mid_batch_reset=True)
    before = params_of(agent)
    opt_info = algo.optimize_agent(0, make_samples(4, 2))
    assert isinstance(opt_info, OptInfo) and algo.opt_info_fields == OptInfo._fields
    for field in opt_info:
        assert len(field) == 12 and all(isinstance(x, float) for x in field)
    assert algo.update_counter == 12
    assert algo.batch_size == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, params_of(agent)))


def test_ppo_recurrent_minibatches_whole_columns():
    agent = GruAgent()
    algo = PPO(minibatches=2, epochs=2)
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(5, 4), mid_batch_reset=False)
    samples = make_samples(5, 4, recurrent=True)
    opt_info = algo.optimize_agent(0, samples)
    assert len(opt_info.loss) == 4 and len(agent.calls) == 4
    stored = samples.agent.agent_info.prev_rnn_state.h[0]  # [B, N, H] at t = 0
    for epoch in range(2):
        seen = []
        for obs_shape, h in agent.calls[2 * epoch : 2 * epoch + 2]:
            assert obs_shape == (5, 2, OBS_DIM)  # whole sequences of 2 env columns
            assert h.shape == (2, 1, HIDDEN)  # [B, N, H], B leading
            for row in h:
                seen.append(next(b for b in range(4) if torch.equal(row, stored[b])))
        assert sorted(seen) == [0, 1, 2, 3]  # each column exactly once per epoch


def test_a2c_recurrent_starts_from_stored_state():
    agent = GruAgent()
    algo = A2C()
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(5, 3), mid_batch_reset=True)
    samples = make_samples(5, 3, recurrent=True)
    opt_info = algo.optimize_agent(0, samples)
    assert len(opt_info.loss) == 1 and len(agent.calls) == 1
    obs_shape, h = agent.calls[0]
    assert obs_shape == (5, 3, OBS_DIM)
    torch.testing.assert_close(h, samples.agent.agent_info.prev_rnn_state.h[0])


def test_a2c_optimize_and_lr_schedule():
    agent = LinearAgent()
    algo = A2C(learning_rate=0.01, linear_lr_schedule=True)
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(4, 2), mid_batch_reset=True)
    opt_info = algo.optimize_agent(5, make_samples(4, 2))
    assert len(opt_info.loss) == 1 and algo.update_counter == 1
    assert algo.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    assert A2C(learning_rate=0.01).lr_at(7) == 0.01  # no schedule by default


def test_ppo_linear_schedules():
    algo = PPO(learning_rate=1e-3, ratio_clip=0.2, minibatches=1, epochs=1)
    algo.initialize(LinearAgent(), n_itr=10, batch_spec=BatchSpec(4, 2), mid_batch_reset=True)
    assert algo.lr_at(0) == 1e-3 and algo.ratio_clip_at(0) == 0.2
    assert algo.lr_at(5) == pytest.approx(5e-4) and algo.ratio_clip_at(5) == pytest.approx(0.1)
    assert algo.lr_at(10) == 0.0 and algo.ratio_clip_at(10) == 0.0
    algo.optimize_agent(5, make_samples(4, 2))
    assert algo.optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert algo.current_ratio_clip == pytest.approx(0.1)
    # Pure function of itr: going back to an earlier iteration gives its values again.
    algo.optimize_agent(0, make_samples(4, 2))
    assert algo.optimizer.param_groups[0]["lr"] == 1e-3 and algo.current_ratio_clip == 0.2


def test_update_obs_rms_once_with_valid_observations():
    samples = make_samples(4, 2)
    samples.env.done[1, 0] = True  # column 0 valid for t = 0, 1; column 1 for all 4
    for algo in (PPO(minibatches=2, epochs=2), A2C()):
        agent = LinearAgent()
        agent.rms_updates = []
        agent.update_obs_rms = agent.rms_updates.append  # an observation normaliser's hook
        agent.updates_obs_rms = True  # declares it (BaseAgent's default is False)
        algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(4, 2), mid_batch_reset=False)
        algo.optimize_agent(0, samples)
        assert len(agent.rms_updates) == 1
        obs = samples.env.observation
        expected = torch.cat([obs[:2, 0], obs[:, 1]])
        got = agent.rms_updates[0]
        assert got.shape == (6, OBS_DIM)
        assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, expected.tolist()))


# -- the non-finite guard (E1) ----------------------------------------------------------


def nan_samples():
    samples = make_samples(2, 2)
    samples.env.observation[0, 0, 0] = float("nan")
    return samples


def test_nonfinite_loss_skips_step_and_raises_after_three():
    agent = LinearAgent()
    algo = A2C()
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(2, 2), mid_batch_reset=True)
    before = params_of(agent)
    for itr in range(2):
        opt_info = algo.optimize_agent(itr, nan_samples())
        assert math.isnan(opt_info.loss[0])
        assert all(torch.equal(a, b) for a, b in zip(before, params_of(agent)))
    assert algo.skipped_steps == 2 and algo.update_counter == 0
    # A finite step in between resets the streak.
    algo.optimize_agent(2, make_samples(2, 2))
    assert algo.update_counter == 1
    algo.optimize_agent(3, nan_samples())
    algo.optimize_agent(4, nan_samples())
    with pytest.raises(
        FloatingPointError,
        match=r"A2C: 3 non-finite gradient steps in a row, the last at itr 5: non-finite pi_loss=nan",
    ):
        algo.optimize_agent(5, nan_samples())
    assert algo.skipped_steps == 5


def test_nonfinite_gradient_is_skipped_too():
    agent = LinearAgent()
    agent.model.weight.register_hook(lambda grad: grad * float("inf"))
    algo = PPO(minibatches=1, epochs=3)
    algo.initialize(agent, n_itr=10, batch_spec=BatchSpec(2, 2), mid_batch_reset=True)
    before = params_of(agent)
    with pytest.raises(
        FloatingPointError,
        match=r"PPO: 3 non-finite gradient steps in a row, the last at itr 7: non-finite .*gradNorm=(nan|inf)",
    ):
        algo.optimize_agent(7, make_samples(2, 2))
    assert all(torch.equal(a, b) for a, b in zip(before, params_of(agent)))
    assert algo.update_counter == 0 and algo.skipped_steps == 3


# -- resume ------------------------------------------------------------------------------


def test_ppo_resume_from_state_dict_repeats_the_run():
    batch_spec = BatchSpec(4, 2)
    s0, s1 = make_samples(4, 2, seed=1), make_samples(4, 2, seed=2)

    agent_a = LinearAgent(seed=3)
    algo_a = PPO(minibatches=2, epochs=2)
    algo_a.initialize(agent_a, n_itr=4, batch_spec=batch_spec, mid_batch_reset=True)
    algo_a.optimize_agent(0, s0)
    agent_snapshot = copy.deepcopy(agent_a.model.state_dict())
    algo_snapshot = copy.deepcopy(algo_a.state_dict())
    algo_a.optimize_agent(1, s1)

    torch.manual_seed(12345)  # a different process seed: the state must carry everything
    agent_b = LinearAgent(seed=4)
    agent_b.model.load_state_dict(agent_snapshot)
    algo_b = PPO(minibatches=2, epochs=2)
    algo_b.initialize(agent_b, n_itr=99, batch_spec=batch_spec, mid_batch_reset=True)
    algo_b.load_state_dict(algo_snapshot)
    assert algo_b.n_itr == 4 and algo_b.update_counter == 4
    algo_b.optimize_agent(1, s1)
    for a, b in zip(params_of(agent_a), params_of(agent_b)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert algo_b.update_counter == algo_a.update_counter == 8


def test_load_state_dict_before_initialize_is_an_error():
    with pytest.raises(RuntimeError, match="call initialize"):
        PPO().load_state_dict({})
