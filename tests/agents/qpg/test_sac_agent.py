"""SacAgent: squashed-Gaussian log-likelihoods, log_std bounds, acting phases, critics, targets."""

import pytest
import torch
from torch.distributions import AffineTransform, Normal, TanhTransform, TransformedDistribution

from rlpyt.agents.qpg.sac_agent import MAX_LOG_STD, MIN_LOG_STD, AgentInfo, SacAgent
from rlpyt.distributions.gaussian import DistInfoStd
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec


def _linear_pi(agent, mean_scale=0.3, log_std_bias=(-0.5, -1.0)):
    """Replace pi's MLP weights: moderate means, state-dependent stds (no hidden layer)."""
    linear = agent.model.mlp.model[0]
    g = torch.Generator().manual_seed(5)
    A = linear.out_features // 2
    with torch.no_grad():
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=g))
        linear.weight[:A] *= mean_scale
        linear.weight[A:] *= 0.05
        linear.bias[:A] = 0.1
        linear.bias[A:] = torch.tensor(log_std_bias)


def _sac(make_agent, spaces, seed=0, **kwargs):
    kwargs.setdefault("model_kwargs", dict(hidden_sizes=[]))
    return make_agent(SacAgent, spaces, seed=seed, **kwargs)


@pytest.mark.parametrize("squash", [1.0, 0.5])
def test_pi_log_likelihood_matches_torch_transformed_distribution(
    make_agent, agent_inputs, asym_spaces, squash
):
    agent = _sac(make_agent, asym_spaces, action_squash=squash)
    _linear_pi(agent)
    inputs = agent_inputs(asym_spaces, B=64)
    torch.manual_seed(3)
    action, log_pi, dist_info = agent.pi(*inputs)
    assert action.shape == (64, 2) and log_pi.shape == (64,)
    assert isinstance(dist_info, DistInfoStd)
    mean, log_std = agent.model(*inputs)
    assert torch.equal(dist_info.mean, mean) and torch.equal(dist_info.log_std, log_std)
    transforms = [TanhTransform()] + ([AffineTransform(0.0, squash)] if squash != 1 else [])
    base = Normal(mean.detach().double(), log_std.detach().double().exp())
    reference = TransformedDistribution(base, transforms).log_prob(action.detach().double())
    torch.testing.assert_close(log_pi.detach().double(), reference.sum(-1), atol=2e-4, rtol=1e-5)
    assert action.abs().max() <= squash
    # The sample is reparameterised: the policy loss reaches pi through action and log_pi.
    (log_pi - action.sum(-1)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.pi_parameters())


def test_log_std_is_clamped(make_agent, agent_inputs, asym_spaces):
    agent = _sac(make_agent, asym_spaces)
    _linear_pi(agent, mean_scale=0.0, log_std_bias=(10.0, -40.0))
    _action, _log_pi, dist_info = agent.pi(*agent_inputs(asym_spaces, B=3))
    assert torch.equal(dist_info.log_std, torch.tensor([[MAX_LOG_STD, MIN_LOG_STD]] * 3))
    assert (MIN_LOG_STD, MAX_LOG_STD) == (-20, 2)
    agent.sample_mode(0)
    step = agent.step(*agent_inputs(asym_spaces, B=3))
    assert isinstance(step.agent_info, AgentInfo)
    assert torch.equal(step.agent_info.dist_info.log_std, dist_info.log_std)


def test_acting_phases(make_agent, agent_inputs, asym_spaces):
    agent = _sac(make_agent, asym_spaces, action_squash=0.8, pretrain_std=0.75)
    _linear_pi(agent)
    agent.give_min_itr_learn(2)
    inputs = agent_inputs(asym_spaces, B=6)
    mean, log_std = (x.detach() for x in agent.model(*inputs))

    def first_draw(std):  # from the exploration generator's first draw
        normal = torch.randn(6, 2, generator=torch.Generator().manual_seed(agent._exploration_seed))
        return agent.to_env_action(0.8 * torch.tanh(mean + std * normal))

    for itr, std in [(1, 0.75), (2, log_std.exp())]:
        agent.sample_mode(itr)
        assert agent.exploration_std(itr) == (0.75 if itr < 2 else None)
        agent.collector_initialize()  # reseeds the exploration generator
        torch.testing.assert_close(agent.step(*inputs).action, first_draw(std), rtol=0, atol=1e-6)
    agent.eval_mode(2)
    first, second = agent.step(*inputs), agent.step(*inputs)
    assert torch.equal(first.action, second.action)
    assert torch.equal(first.action, agent.to_env_action(0.8 * torch.tanh(mean)))


def test_step_on_pendulum_stays_in_the_box(make_agent, pendulum_env):
    agent = make_agent(SacAgent, pendulum_env.spaces)
    samples, _, _ = build_samples_buffer(agent, pendulum_env, BatchSpec(3, 2))
    assert tuple(samples.agent.agent_info.dist_info.mean.shape) == (3, 2, 1)
    del samples
    agent.sample_mode(0)
    observation = torch.randn(1000, 3, generator=torch.Generator().manual_seed(0))
    action = agent.step(observation, torch.zeros(1000, 1), torch.zeros(1000)).action
    assert action.shape == (1000, 1) and action.abs().max() <= 2.0
    assert action.min() < -1.0 and action.max() > 1.0  # the whole box is reachable


def test_critics_and_targets(make_agent, agent_inputs, asym_spaces):
    agent = make_agent(SacAgent, asym_spaces)
    obs, pa, pr = agent_inputs(asym_spaces, lead=(3, 2))
    action = torch.rand(3, 2, 2) * 2 - 1
    q1, q2 = agent.q(obs, pa, pr, action)
    assert q1.shape == (3, 2) and q1.requires_grad
    assert torch.equal(q1, agent.q1_model(obs, pa, pr, action))
    assert torch.equal(q2, agent.q2_model(obs, pa, pr, action))
    tq1, tq2 = agent.target_q(obs, pa, pr, action)
    assert not tq1.requires_grad and not tq2.requires_grad
    assert torch.equal(tq1, q1.detach()) and torch.equal(tq2, q2.detach())  # copies at start
    online = [agent.q1_model, agent.q2_model]
    targets = [agent.target_q1_model, agent.target_q2_model]
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for net in online:
            for p in net.parameters():
                p.add_(torch.randn(p.shape, generator=g))
    before = [[t.clone() for t in net.parameters()] for net in targets]
    agent.update_target(tau=0.1)
    for net, target, old in zip(online, targets, before):
        for o, t, t0 in zip(net.parameters(), target.parameters(), old):
            torch.testing.assert_close(t, 0.9 * t0 + 0.1 * o, rtol=0, atol=1e-7)
    agent.update_target(1)
    for net, target in zip(online, targets):
        assert all(torch.equal(o, t) for o, t in zip(net.parameters(), target.parameters()))
    n1, n2 = len(list(agent.q1_parameters())), len(list(agent.q2_parameters()))
    assert len(list(agent.q_parameters())) == n1 + n2 == 8


def test_state_dict_round_trip(make_agent, agent_inputs, asym_spaces):
    source = make_agent(SacAgent, asym_spaces, seed=0)
    with torch.no_grad():
        for p in source.model.parameters():
            p.mul_(2.0)
    state = source.state_dict()
    assert set(state) == {"model", "q1_model", "q2_model", "target_q1_model", "target_q2_model"}
    restored = make_agent(SacAgent, asym_spaces, seed=1)
    restored.load_state_dict(state)
    from_init = make_agent(SacAgent, asym_spaces, seed=2, initial_model_state_dict=state)
    for agent in (restored, from_init):
        for key, weights in agent.state_dict().items():
            assert all(torch.equal(weights[k], v) for k, v in state[key].items()), key
    inputs = agent_inputs(asym_spaces)
    source.eval_mode(0)
    restored.eval_mode(0)
    assert torch.equal(restored.step(*inputs).action, source.step(*inputs).action)
    with pytest.raises(KeyError, match="q1_model"):
        restored.load_state_dict(state["model"])


def test_defaults_and_argument_checks(asym_spaces):
    agent = SacAgent()
    agent.initialize(asym_spaces)
    widths = [m.out_features for m in agent.model.modules() if isinstance(m, torch.nn.Linear)]
    q_widths = [m.out_features for m in agent.q1_model.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [256, 256, 4] and q_widths == [256, 256, 1]
    assert agent.pretrain_std == 0.75 and agent.action_squash == 1.0
    for kwargs, name in [
        (dict(action_squash=1.5), "action_squash"),
        (dict(action_squash=0.0), "action_squash"),
        (dict(pretrain_std=-1.0), "pretrain_std"),
    ]:
        with pytest.raises(ValueError, match=name):
            SacAgent(**kwargs)


def test_pretrain_std_zero_acts_with_the_squashed_mean_until_learning(
    make_agent, agent_inputs, asym_spaces
):
    # The original rlpyt's SacAgent(pretrain_std=0.0): deterministic actions before learning.
    agent = _sac(make_agent, asym_spaces, action_squash=0.8, pretrain_std=0.0)
    _linear_pi(agent)
    agent.give_min_itr_learn(3)
    inputs = agent_inputs(asym_spaces, B=5)
    mean, log_std = (x.detach() for x in agent.model(*inputs))
    expected = agent.to_env_action(0.8 * torch.tanh(mean))
    agent.sample_mode(2)
    first = agent.step(*inputs).action
    second = agent.step(*inputs).action
    assert torch.equal(first, expected) and torch.equal(second, expected)
    # From min_itr_learn on, the policy's own std: stochastic again.
    agent.sample_mode(3)
    assert not torch.equal(agent.step(*inputs).action, expected)
    with pytest.raises(ValueError, match="pretrain_std must be >= 0, got -0.5"):
        SacAgent(pretrain_std=-0.5)
