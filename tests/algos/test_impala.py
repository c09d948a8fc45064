"""IMPALA and APPO: hand-computed losses on built batches, wiring of V-trace, steps, resume.

The agents are tiny fakes written against the agent interface (as in test_a2c_ppo.py).
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

from rlpyt.algos.pg.appo import APPO
from rlpyt.algos.pg.impala import IMPALA, ImpalaOptInfo
from rlpyt.algos.utils import discount_return, vtrace_from_importance_weights
from rlpyt.distributions.categorical import DistInfo
from rlpyt.samplers.collections import AgentSamplesBsv, BatchSpec, EnvSamples, Samples


def make_samples(T, B, seed=0, recurrent=False, behaviour_prob=None):
    g = torch.Generator().manual_seed(seed)
    prob = torch.softmax(torch.randn(T, B, N_ACTIONS, generator=g), dim=-1)
    if behaviour_prob is not None:
        prob = behaviour_prob
    value = torch.randn(T, B, generator=g)
    if recurrent:
        prev_rnn_state = RnnState(h=torch.randn(T, B, 1, HIDDEN, generator=g))
        agent_info = AgentInfoRnn(DistInfo(prob=prob), value, prev_rnn_state)
    else:
        agent_info = AgentInfo(DistInfo(prob=prob), value)
    done = torch.zeros(T, B, dtype=torch.bool)
    timeout = torch.zeros(T, B, dtype=torch.bool)
    if T > 2:
        done[1, 0] = True
        done[2, B - 1] = timeout[2, B - 1] = True
    agent = AgentSamplesBsv(
        action=torch.randint(N_ACTIONS, (T, B), generator=g),
        prev_action=torch.zeros(T, B, dtype=torch.long),
        agent_info=agent_info,
        bootstrap_value=torch.randn(1, B, generator=g),
        timeout_value=torch.randn(T, B, generator=g),
    )
    env = EnvSamples(
        observation=torch.randn(T, B, OBS_DIM, generator=g),
        reward=torch.randn(T, B, generator=g),
        prev_reward=torch.zeros(T, B),
        done=done,
        env_info=EnvInfo(timeout=timeout),
    )
    return Samples(agent=agent, env=env)


def initialized(algo, agent, T, B, n_itr=10, mid_batch_reset=True):
    algo.initialize(agent, n_itr=n_itr, batch_spec=BatchSpec(T, B), mid_batch_reset=mid_batch_reset)
    return algo


def test_defaults_are_monobeast():
    algo = initialized(IMPALA(), LinearAgent(), 4, 2)
    assert (algo.discount, algo.learning_rate) == (0.99, 4.8e-4)
    assert (algo.value_loss_coeff, algo.entropy_loss_coeff, algo.clip_grad_norm) == (0.5, 6e-4, 40)
    assert algo.linear_lr_schedule
    assert isinstance(algo.optimizer, torch.optim.RMSprop)
    group = algo.optimizer.param_groups[0]
    assert (group["alpha"], group["eps"], group["momentum"]) == (0.99, 0.01, 0.0)
    assert (algo.clip_rho_threshold, algo.clip_c_threshold, algo.clip_pg_rho_threshold) == (1, 1, 1)
    assert APPO().ratio_clip == 0.4


def test_loss_hand_computed_uniform_policy():
    """Uniform pi (log pi = -ln 2), V = 0, on-policy data (rho = 1), no episode ends.

    T=2, B=1, rewards (1, 2), bootstrap 4, gamma 0.5: v_1 = 2 + 0.5*4 = 4, v_0 = 1 + 0.5*4 = 3
    and A = v (V = 0). pi_loss = -sum(log pi * A) = ln2 * (3 + 4); value_loss = 0.5 * 0.5 *
    (9 + 16); entropy_loss = -0.1 * 2 * ln 2 (summed, not averaged).
    """
    T, B = 2, 1
    samples = make_samples(T, B, behaviour_prob=torch.full((T, B, N_ACTIONS), 0.5))
    samples.env.reward[:] = torch.tensor([[1.0], [2.0]])
    samples.agent.bootstrap_value[:] = 4.0
    algo = initialized(IMPALA(discount=0.5, entropy_loss_coeff=0.1), LinearAgent(zero=True), T, B)
    terms = algo.loss_terms(samples)
    assert terms.pi_loss.item() == pytest.approx(LN2 * 7)
    assert terms.value_loss.item() == pytest.approx(0.25 * 25)
    assert terms.entropy_loss.item() == pytest.approx(-0.1 * 2 * LN2)
    assert terms.entropy.item() == pytest.approx(LN2)
    assert terms.rho.item() == pytest.approx(1.0)
    loss, entropy, perplexity = algo.loss(samples)
    assert loss.item() == pytest.approx(LN2 * 7 + 6.25 - 0.2 * LN2)
    assert perplexity.item() == pytest.approx(2.0)


def test_targets_are_vtrace_of_learner_values_and_behaviour_ratios():
    """The loss uses V-trace with log_rhos = log pi - log mu and the learner's values."""
    T, B = 5, 3
    samples = make_samples(T, B, seed=3)
    agent = LinearAgent(seed=1)
    algo = initialized(
        IMPALA(discount=0.9, value_loss_coeff=1.0, clip_rho_threshold=2.0), agent, T, B
    )
    dist_info, value = agent(samples.env.observation, None, None)
    dist = agent.distribution
    action = samples.agent.action
    log_pi = dist.log_likelihood(action, dist_info)
    log_mu = dist.log_likelihood(action, samples.agent.agent_info.dist_info)
    vs, adv = vtrace_from_importance_weights(
        log_pi - log_mu,
        samples.env.reward,
        value,
        samples.env.done,
        samples.agent.bootstrap_value,
        0.9,
        clip_rho_threshold=2.0,
        timeout=samples.env.env_info.timeout,
        timeout_value=samples.agent.timeout_value,
    )
    terms = algo.loss_terms(samples)
    torch.testing.assert_close(terms.pi_loss, -(log_pi * adv).sum())
    torch.testing.assert_close(terms.value_loss, (0.5 * (vs - value) ** 2).sum())
    torch.testing.assert_close(terms.rho, torch.exp(log_pi - log_mu).mean())
    # Targets are constants: the value loss's gradient is that of 0.5 (vs - V)^2 with vs fixed.
    weight = agent.model.weight
    grad = torch.autograd.grad(terms.value_loss, weight)[0]
    expected = torch.autograd.grad((0.5 * (vs - value) ** 2).sum(), weight)[0]
    torch.testing.assert_close(grad, expected)


def test_on_policy_rho_one_and_advantage_is_return_minus_value():
    """Behaviour = learner policy: V-trace reduces to discounted returns (across cuts)."""
    T, B = 5, 3
    agent = LinearAgent(seed=2)
    samples = make_samples(T, B, seed=4)
    dist_info, value = agent(samples.env.observation, None, None)
    samples.agent.agent_info.dist_info.prob[:] = dist_info.prob.detach()
    algo = initialized(IMPALA(discount=0.9), agent, T, B)
    terms = algo.loss_terms(samples)
    assert terms.rho.item() == pytest.approx(1.0)
    ret = discount_return(
        samples.env.reward,
        samples.env.done,
        samples.agent.bootstrap_value,
        0.9,
        timeout=samples.env.env_info.timeout,
        timeout_value=samples.agent.timeout_value,
    )
    log_pi = agent.distribution.log_likelihood(samples.agent.action, dist_info)
    expected_pi_loss = -(log_pi * (ret - value.detach())).sum()
    torch.testing.assert_close(terms.pi_loss, expected_pi_loss)


def test_wait_reset_masks_steps_after_done():
    T, B = 5, 3
    samples = make_samples(T, B, seed=5)
    algo = initialized(IMPALA(), LinearAgent(seed=0), T, B, mid_batch_reset=False)
    before = algo.loss_terms(samples)
    changed = Samples(
        agent=samples.agent, env=samples.env._replace(reward=samples.env.reward.clone())
    )
    changed.env.reward[2:, 0] += 100.0  # column 0 is done at t=1: later steps carry no data
    after = algo.loss_terms(changed)
    torch.testing.assert_close(after.pi_loss, before.pi_loss)
    torch.testing.assert_close(after.value_loss, before.value_loss)


def test_impala_optimize_one_step_and_lr_schedule():
    T, B = 4, 2
    agent = LinearAgent()
    algo = initialized(IMPALA(learning_rate=1e-2), agent, T, B, n_itr=4)
    before = params_of(agent)
    opt_info = algo.optimize_agent(2, make_samples(T, B))
    assert isinstance(opt_info, ImpalaOptInfo)
    assert len(opt_info.loss) == len(opt_info.rho) == 1 and algo.update_counter == 1
    assert algo.optimizer.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.5)
    assert any(not torch.equal(a, b) for a, b in zip(before, params_of(agent)))
    assert set(algo.opt_info_fields) == set(ImpalaOptInfo._fields)


def test_recurrent_starts_from_stored_state():
    T, B = 4, 2
    agent = GruAgent()
    samples = make_samples(T, B, recurrent=True)
    initialized(IMPALA(), agent, T, B).optimize_agent(0, samples)
    torch.testing.assert_close(agent.calls[-1][1], samples.agent.agent_info.prev_rnn_state.h[0])


def test_appo_surrogate_hand_computed():
    """Uniform pi; behaviour p(0) = 0.25 (r = 2) at t=0 and 0.625 (r = 0.8) at t=1, V = 0.

    With pg rho clip 1, the V-trace advantages are min(1, r) * (r_t + gamma v_{t+1}):
    rewards (1, -1), bootstrap 0, gamma 0.5, c = min(1, r): v_1 = -1 (rho_1 = 0.8: V + 0.8 *
    (-1)= -0.8), so A_1 = 0.8 * (-1) = -0.8 and A_0 = 1 * (1 + 0.5 * -0.8) = 0.6.
    Surrogate with eps 0.4: t0: min(2 * 0.6, 1.4 * 0.6) = 0.84; t1: min(0.8 * -0.8, 0.8 * -0.8)
    = -0.64. pi_loss = -(0.84 - 0.64) = -0.2.
    """
    T, B = 2, 1
    prob = torch.tensor([[[0.25, 0.75]], [[0.625, 0.375]]])
    samples = make_samples(T, B, behaviour_prob=prob)
    samples.agent.action[:] = 0
    samples.env.reward[:] = torch.tensor([[1.0], [-1.0]])
    samples.agent.bootstrap_value[:] = 0.0
    algo = initialized(APPO(discount=0.5), LinearAgent(zero=True), T, B)
    terms = algo.loss_terms(samples)
    assert terms.pi_loss.item() == pytest.approx(-0.2)
    # v_0 = V + rho_0 delta_0 + gamma c_0 (v_1 - V_1) = 1 * (1 + 0) + 0.5 * 1 * (-0.8) = 0.6
    assert terms.value_loss.item() == pytest.approx(0.5 * 0.5 * (0.6**2 + 0.8**2))


def test_appo_minibatches_of_columns_and_divisibility():
    T, B = 3, 4
    with pytest.raises(ValueError, match="batch_B = 4 is not divisible by minibatches = 3"):
        initialized(APPO(minibatches=3), LinearAgent(), T, B)
    algo = initialized(APPO(epochs=3, minibatches=2), LinearAgent(), T, B)
    opt_info = algo.optimize_agent(0, make_samples(T, B))
    assert len(opt_info.loss) == len(opt_info.rho) == 6 and algo.update_counter == 6
    # The first step is on-policy only if the behaviour policy is the learner's: here it is not.
    assert all(math.isfinite(x) for x in opt_info.loss)


def test_appo_resume_repeats_the_run():
    T, B = 3, 4
    samples = make_samples(T, B)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        agent = LinearAgent()
        algo = initialized(APPO(epochs=2, minibatches=2), agent, T, B)
        algo.optimize_agent(0, samples)
        runs.append((agent, algo))
    (agent_a, algo_a), (agent_b, algo_b) = runs
    # A deep copy, as a snapshot file is: torch's load_state_dict keeps same-device tensors.
    algo_b.load_state_dict(copy.deepcopy(algo_a.state_dict()))
    algo_a.optimize_agent(1, samples)
    algo_b.optimize_agent(1, samples)
    for a, b in zip(params_of(agent_a), params_of(agent_b)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(clip_rho_threshold=0.0), "clip_rho_threshold"),
        (dict(trace_lambda=1.5), "trace_lambda"),
        (dict(entropy_loss_coeff=-1.0), "entropy_loss_coeff"),
    ],
)
def test_hyperparameter_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IMPALA(**kwargs)


@pytest.mark.parametrize("recurrent", [False, True])
def test_first_pass_is_on_policy_with_the_pg_agents(recurrent):
    """Sampled by rlpyt's MLP agents (feed-forward and LSTM), re-evaluated: pi/mu = 1.

    The learner's pass over the batch reproduces the behaviour distributions on every valid
    step (for the LSTM, from the stored initial state up to each column's first done), so
    IMPALA in the synchronous runner is on-policy at its first pass.
    """
    from rlpyt.agents.pg.mlp import MlpFfAgent, MlpLstmAgent
    from rlpyt.cli.build import make_env_factory
    from rlpyt.samplers.serial.sampler import SerialSampler

    torch.manual_seed(0)
    EnvCls, env_kwargs, _ = make_env_factory({"id": "CartPole-v1", "kwargs": {}})
    sampler = SerialSampler(
        EnvCls=EnvCls, env_kwargs=env_kwargs, batch_T=30, batch_B=4, max_decorrelation_steps=0
    )
    agent = MlpLstmAgent() if recurrent else MlpFfAgent()
    algo = IMPALA()
    examples = sampler.initialize(agent, seed=1, bootstrap_value=algo.bootstrap_value)
    algo.initialize(
        agent,
        n_itr=10,
        batch_spec=sampler.batch_spec,
        mid_batch_reset=sampler.mid_batch_reset,
        examples=examples,
    )
    try:
        for itr in range(2):
            samples, _ = sampler.obtain_samples(itr)
            assert samples.env.done.any()  # episode ends inside the batch are covered
            terms = algo.loss_terms(samples)
            assert terms.rho.item() == pytest.approx(1.0, abs=1e-5)
            algo.optimize_agent(itr, samples)
    finally:
        sampler.shutdown()
