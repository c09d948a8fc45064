"""DdpgAgent / Td3Agent: exploration, eval determinism, critics, targets, state dicts."""

import multiprocessing as mp

import pytest
import torch

from rlpyt.agents.qpg.ddpg_agent import AgentInfo, DdpgAgent
from rlpyt.agents.qpg.td3_agent import Td3Agent
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import BatchSpec

DDPG_TD3 = [DdpgAgent, Td3Agent]


def _normal(seed, shape):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("AgentCls", DDPG_TD3)
def test_sample_mode_adds_seeded_clipped_noise(make_agent, agent_inputs, asym_spaces, AgentCls):
    agent = make_agent(AgentCls, asym_spaces, action_std=0.3)
    agent.sample_mode(5)
    inputs = agent_inputs(asym_spaces, B=6)
    step = agent.step(*inputs)
    assert isinstance(step.agent_info, AgentInfo)
    mu = agent.model(*inputs)
    assert torch.equal(step.agent_info.mu, mu)
    # The noise is the first draw of the exploration generator, seeded from the run seed.
    expected = torch.clamp(mu + 0.3 * _normal(agent._exploration_seed, (6, 2)), -1, 1)
    # (The Gaussian forms the std as exp(log(std)): equal up to float rounding.)
    torch.testing.assert_close(step.action, agent.to_env_action(expected), rtol=0, atol=1e-6)
    # Another env rank gets another stream.
    agent.collector_initialize(global_B=2, env_ranks=[1])
    assert not torch.equal(agent.step(*inputs).action, step.action)


@pytest.mark.parametrize("AgentCls", DDPG_TD3)
def test_eval_mode_is_deterministic_mu(make_agent, agent_inputs, pendulum_spaces, AgentCls):
    agent = make_agent(AgentCls, pendulum_spaces, action_std=0.5)
    agent.eval_mode(3)
    inputs = agent_inputs(pendulum_spaces, B=4)
    first, second = agent.step(*inputs), agent.step(*inputs)
    assert torch.equal(first.action, second.action)
    mu = agent.model(*inputs).detach()
    torch.testing.assert_close(first.action, 2 * mu, rtol=0, atol=1e-6)  # Pendulum: 2 * model
    agent.sample_mode(3)
    assert not torch.equal(agent.step(*inputs).action, first.action)


def test_noise_clip_and_pretrain_std_schedule(make_agent, agent_inputs, asym_spaces):
    agent = make_agent(
        DdpgAgent, asym_spaces, action_std=0.1, action_noise_clip=0.05, pretrain_std=2.0
    )
    agent.give_min_itr_learn(4)
    assert agent.min_itr_learn == 4
    inputs = agent_inputs(asym_spaces, B=500)
    mu = agent.model(*inputs)
    for itr, std in [(0, 2.0), (3, 2.0), (4, 0.1), (9, 0.1)]:
        agent.sample_mode(itr)
        assert agent.exploration_std(itr) == std
        assert float(agent.distribution.std) == pytest.approx(std)
        noise = agent.to_model_action(agent.step(*inputs).action) - mu
        # The clip bounds the noise however wide the std; it is reached.
        assert 0.05 - 1e-5 <= noise.abs().max() <= 0.05 + 1e-5
    # Without pretrain_std, DDPG explores with action_std from the start.
    plain = make_agent(DdpgAgent, asym_spaces, action_std=0.2)
    plain.give_min_itr_learn(4)
    plain.sample_mode(0)
    assert float(plain.distribution.std) == pytest.approx(0.2)
    assert make_agent(Td3Agent, asym_spaces).exploration_std(0) == 0.1  # min_itr_learn 0


def test_ddpg_critic_methods(make_agent, agent_inputs, asym_spaces):
    agent = make_agent(DdpgAgent, asym_spaces)
    obs, pa, pr = agent_inputs(asym_spaces, lead=(3, 2))
    action = torch.rand(3, 2, 2) * 2 - 1
    q = agent.q(obs, pa, pr, action)
    assert q.shape == (3, 2) and torch.equal(q, agent.q_model(obs, pa, pr, action))
    q_mu = agent.q_at_mu(obs, pa, pr)
    assert torch.equal(q_mu, agent.q_model(obs, pa, pr, agent.model(obs, pa, pr)))
    q_mu.sum().backward()  # the policy loss reaches mu
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.mu_parameters())
    with torch.no_grad():
        for p in agent.model.parameters():
            p.add_(0.5)  # online mu differs from its target from here on
    target = agent.target_q_at_mu(obs, pa, pr)
    assert not target.requires_grad
    expected = agent.target_q_model(obs, pa, pr, agent.target_model(obs, pa, pr))
    assert torch.equal(target, expected)
    assert not torch.equal(target, agent.q_at_mu(obs, pa, pr))


def test_td3_twin_critics_and_target_smoothing(make_agent, agent_inputs, asym_spaces):
    agent = make_agent(Td3Agent, asym_spaces, target_noise_std=5.0, target_noise_clip=0.3)
    obs, pa, pr = agent_inputs(asym_spaces, B=400)
    action = torch.rand(400, 2) * 2 - 1
    q1, q2 = agent.q(obs, pa, pr, action)
    assert torch.equal(q1, agent.q_model(obs, pa, pr, action))
    assert torch.equal(q2, agent.q2_model(obs, pa, pr, action))
    assert not torch.equal(q1, q2)
    assert torch.equal(
        agent.q_at_mu(obs, pa, pr), agent.q_model(obs, pa, pr, agent.model(obs, pa, pr))
    )
    target_mu = agent.target_model(obs, pa, pr)
    torch.manual_seed(11)
    target_action = agent.target_action(obs, pa, pr)
    # Noise from the global RNG, clipped to +-0.3, then the action clamped to [-1, 1].
    torch.manual_seed(11)
    noise = torch.clamp(5.0 * torch.randn(400, 2), -0.3, 0.3)
    expected = torch.clamp(target_mu + noise, -1, 1)
    torch.testing.assert_close(target_action, expected, rtol=0, atol=1e-6)
    assert (target_action - target_mu).abs().max() <= 0.3 + 1e-6
    assert ((target_action - target_mu).abs() > 0.3 - 1e-6).float().mean() > 0.9
    torch.manual_seed(11)
    tq1, tq2 = agent.target_q_at_mu(obs, pa, pr)
    assert not tq1.requires_grad and not tq2.requires_grad
    assert torch.equal(tq1, agent.target_q_model(obs, pa, pr, target_action))
    assert torch.equal(tq2, agent.target_q2_model(obs, pa, pr, target_action))
    agent.set_target_noise(0.01, noise_clip=None)
    smooth = agent.target_action(obs, pa, pr) - target_mu
    assert 0.3 > smooth.abs().max() > 0
    assert len(list(agent.q_parameters())) == 2 * len(list(agent.q1_parameters()))


def _perturb(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g).to(p.device))


@pytest.mark.parametrize("AgentCls", DDPG_TD3)
def test_targets_move_by_exactly_tau(make_agent, asym_spaces, AgentCls):
    agent = make_agent(AgentCls, asym_spaces)
    pairs = [(agent.model, agent.target_model), (agent.q_model, agent.target_q_model)]
    if AgentCls is Td3Agent:
        pairs.append((agent.q2_model, agent.target_q2_model))
    for i, (online, target) in enumerate(pairs):
        for o, t in zip(online.parameters(), target.parameters()):
            assert torch.equal(o, t)  # targets start as copies
            assert not t.requires_grad
        _perturb(online, seed=i)
    before = [[t.clone() for t in target.parameters()] for _, target in pairs]
    agent.update_target(tau=0.25)
    for (online, target), old in zip(pairs, before):
        for o, t, t0 in zip(online.parameters(), target.parameters(), old):
            torch.testing.assert_close(t, 0.75 * t0 + 0.25 * o, rtol=0, atol=1e-7)
    agent.update_target()  # tau = 1: a hard copy
    for online, target in pairs:
        assert all(torch.equal(o, t) for o, t in zip(online.parameters(), target.parameters()))
    with pytest.raises(ValueError, match="tau"):
        agent.update_target(tau=0)


@pytest.mark.parametrize("AgentCls", DDPG_TD3)
def test_state_dict_round_trip(make_agent, agent_inputs, asym_spaces, AgentCls):
    source = make_agent(AgentCls, asym_spaces, seed=0)
    _perturb(source.model, 1)
    _perturb(source.q_model, 2)
    state = source.state_dict()
    keys = {"model", "q_model", "target_model", "target_q_model"}
    if AgentCls is Td3Agent:
        keys |= {"q2_model", "target_q2_model"}
    assert set(state) == keys
    restored = make_agent(AgentCls, asym_spaces, seed=1)
    restored.load_state_dict(state)
    from_init = make_agent(AgentCls, asym_spaces, seed=2, initial_model_state_dict=state)
    for agent in (restored, from_init):
        for key, weights in agent.state_dict().items():
            assert all(torch.equal(weights[k], v) for k, v in state[key].items()), key
    inputs = agent_inputs(asym_spaces)
    restored.eval_mode(0)
    source.eval_mode(0)
    assert torch.equal(restored.step(*inputs).action, source.step(*inputs).action)
    # Plain mu weights as initial_model_state_dict set mu only.
    mu_only = make_agent(AgentCls, asym_spaces, seed=3, initial_model_state_dict=state["model"])
    assert all(torch.equal(mu_only.model.state_dict()[k], v) for k, v in state["model"].items())
    with pytest.raises(KeyError, match="q_model"):
        restored.load_state_dict({"model": state["model"]})


def test_default_networks_and_argument_checks(pendulum_spaces):
    agent = DdpgAgent()
    agent.initialize(pendulum_spaces)
    widths = [m.out_features for m in agent.model.modules() if isinstance(m, torch.nn.Linear)]
    q_widths = [m.out_features for m in agent.q_model.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [400, 300, 1] and q_widths == [400, 300, 1]
    assert DdpgAgent.recurrent is False
    for kwargs, name in [
        (dict(action_std=-0.1), "action_std"),
        (dict(action_noise_clip=-1.0), "action_noise_clip"),
        (dict(pretrain_std=-1.0), "pretrain_std"),
    ]:
        with pytest.raises(ValueError, match=name):
            DdpgAgent(**kwargs)
    with pytest.raises(ValueError, match="target_noise_std"):
        Td3Agent(target_noise_std=-0.1)
    with pytest.raises(ValueError, match="min_itr_learn"):
        agent.give_min_itr_learn(-1)


def test_sampler_examples_and_exploration_state(make_agent, pendulum_env):
    agent = make_agent(Td3Agent, pendulum_env.spaces)
    samples, _, _ = build_samples_buffer(agent, pendulum_env, BatchSpec(3, 2))
    assert tuple(samples.agent.action.shape) == (3, 2, 1)
    assert tuple(samples.agent.agent_info.mu.shape) == (3, 2, 1)
    del samples
    # Resuming the exploration generator's state replays the same noise.
    agent.sample_mode(0)
    observation = torch.zeros(2, 3)
    inputs = (observation, torch.zeros(2, 1), torch.zeros(2))
    state = agent.sampling_state_dict()
    first = agent.step(*inputs).action
    agent.load_sampling_state_dict(state)
    assert torch.equal(agent.step(*inputs).action, first)


def _report_min_itr_learn(agent, ready, queue):
    ready.wait(10)
    queue.put(agent.min_itr_learn)


def test_min_itr_learn_reaches_forked_workers(asym_spaces):
    """The algorithm calls give_min_itr_learn after CPU-sampler workers forked."""
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("needs the fork start method")
    agent = DdpgAgent(model_kwargs=dict(hidden_sizes=[4]), q_model_kwargs=dict(hidden_sizes=[4]))
    agent.initialize(asym_spaces, share_memory=True)
    ctx = mp.get_context("fork")
    ready, queue = ctx.Event(), ctx.Queue()
    worker = ctx.Process(target=_report_min_itr_learn, args=(agent, ready, queue))
    worker.start()
    agent.give_min_itr_learn(7)
    ready.set()
    assert queue.get(timeout=10) == 7
    worker.join(10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_learner_with_shared_cpu_mu(make_agent, agent_inputs, asym_spaces):
    torch.manual_seed(0)
    agent = Td3Agent(model_kwargs=dict(hidden_sizes=[8]), q_model_kwargs=dict(hidden_sizes=[8]))
    agent.initialize(asym_spaces, share_memory=True)
    agent.to_device(0)
    inputs = agent_inputs(asym_spaces)
    assert agent.shared_model is not agent.model
    assert next(agent.shared_model.parameters()).device.type == "cpu"
    assert agent.q_at_mu(*inputs).device.type == "cuda"
    assert all(t.device.type == "cuda" for t in agent.target_q_at_mu(*inputs))
    agent.sample_mode(0)
    step = agent.step(*inputs)
    assert step.action.device.type == "cpu" and step.agent_info.mu.device.type == "cpu"
    model_action = agent.to_model_action(step.action.cuda())
    assert model_action.device.type == "cuda"
    _perturb(agent.model, 0)
    agent.sync_shared_memory()
    for k, v in agent.shared_model.state_dict().items():
        assert torch.equal(v, agent.model.state_dict()[k].cpu())


@pytest.mark.parametrize("AgentCls", [DdpgAgent, Td3Agent])
def test_zero_noise_std_samples_mu(make_agent, agent_inputs, asym_spaces, AgentCls):
    # As in the original rlpyt, a noise std of 0 adds no noise: sampling acts with mu.
    agent = make_agent(AgentCls, asym_spaces, action_std=0.3, pretrain_std=0.0)
    agent.give_min_itr_learn(2)
    inputs = agent_inputs(asym_spaces, B=5)
    mu = agent.model(*inputs).detach()
    agent.sample_mode(1)
    step = agent.step(*inputs)
    assert torch.equal(step.action, agent.to_env_action(torch.clamp(mu, -1.0, 1.0)))
    agent.sample_mode(2)  # learning started: action_std 0.3
    assert not torch.equal(agent.step(*inputs).action, step.action)
    quiet = make_agent(AgentCls, asym_spaces, action_std=0.0, pretrain_std=None)
    quiet.sample_mode(0)
    mu = quiet.model(*inputs).detach()
    assert torch.equal(quiet.step(*inputs).action, quiet.to_env_action(torch.clamp(mu, -1.0, 1.0)))
