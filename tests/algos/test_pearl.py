"""PEARL: where the encoder's gradients come from, targets through time limits, the
per-task replays and the collection schedule."""

import numpy as np
import pytest
import torch

from rlpyt.agents.qpg.pearl_agent import PearlAgent
from rlpyt.algos.qpg.pearl import PEARL
from rlpyt.envs.meta import meta_make
from rlpyt.replays.task import TaskReplay, Transition
from rlpyt.samplers.meta import MetaSerialSampler


def _setup(seed=0, precision_rank=0, **sampler_kwargs):
    torch.manual_seed(seed)
    kwargs = dict(
        n_train_tasks=3, n_test_tasks=2, num_initial_steps=40, num_tasks_sample=2,
        num_steps_prior=20, num_steps_posterior=40, num_extra_rl_steps_posterior=20,
        embedding_batch_size=8, num_steps_per_eval=60, num_exp_traj_eval=1,
    )  # fmt: skip
    kwargs.update(sampler_kwargs)
    sampler = MetaSerialSampler(EnvCls=meta_make, env_kwargs=dict(name="point-robot"), **kwargs)
    agent = PearlAgent(
        hidden_sizes=[16, 16], encoder_hidden_sizes=[16], latent_size=3,
        encoder_precision_rank=precision_rank,
    )  # fmt: skip
    examples = sampler.initialize(agent, seed=seed + 1)
    algo = PEARL(num_train_steps_per_itr=2, meta_batch=4, batch_size=8, embedding_batch_size=6)
    algo.initialize(agent, n_itr=3, examples=examples)
    return sampler, agent, algo


def _grads(loss, params):
    grads = torch.autograd.grad(loss, list(params), allow_unused=True, retain_graph=True)
    return [g for g in grads if g is not None and bool(g.abs().sum() > 0)]


@pytest.mark.parametrize("precision_rank", [0, 2])
def test_encoder_gradients_from_critic_and_kl_only(precision_rank):
    sampler, agent, algo = _setup(precision_rank=precision_rank)
    samples, _ = sampler.obtain_samples(0)
    algo.append_samples(samples)
    context, batch = algo.sample_meta_batch()
    posterior = algo.posterior_batch(context)
    alpha = torch.tensor(1.0)
    q_loss = algo.q_loss(batch, posterior.z, alpha)
    kl_loss = algo.kl_loss(posterior)
    pi_loss, _ = algo.pi_loss(batch, posterior.z, alpha)
    encoder = list(agent.encoder_parameters())
    n = len(encoder)
    assert len(_grads(q_loss, encoder)) == n  # the Bellman error reaches every encoder tensor
    assert len(_grads(kl_loss, encoder)) == n
    assert _grads(pi_loss, encoder) == []  # the actor sees z detached
    assert len(_grads(pi_loss, agent.pi_parameters())) > 0
    assert _grads(kl_loss, agent.q_parameters()) == []
    # One optimizer step moves the encoder (and only by the critic + KL losses).
    before = [p.detach().clone() for p in encoder]
    algo.train_step(0, context, batch)
    assert any(not torch.equal(b, p) for b, p in zip(before, encoder))


def test_q_target_bootstraps_through_time_limit():
    """Same batch with terminal False (a time-limit cut) and True: the target differs by
    exactly discount * V(s', z) (computed from the target critics)."""
    sampler, agent, algo = _setup()
    algo.reward_scale, algo.discount = 2.0, 0.9
    M, B, L = 2, 3, agent.latent_size
    batch = Transition(
        observation=torch.randn(M, B, 2), action=torch.zeros(M, B, 2),
        reward=torch.ones(M, B), sparse_reward=torch.zeros(M, B),
        next_observation=torch.randn(M, B, 2), terminal=torch.zeros(M, B, dtype=torch.bool),
    )  # fmt: skip
    z = torch.randn(M, L)
    alpha = torch.tensor(1.0)
    q1, q2 = agent.q(agent.with_z(batch.observation, z[:, None]), None, None, torch.zeros(M, B, 2))

    def loss(terminal):
        torch.manual_seed(5)  # the same policy sample a' inside q_loss
        b = batch._replace(terminal=torch.full((M, B), terminal))
        return float(algo.q_loss(b, z, alpha).detach())

    def expected(y):
        return float((((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean()).detach())

    # A termination: y = reward_scale * r = 2 exactly.
    assert loss(True) == pytest.approx(expected(2.0), rel=1e-6)
    # A time-limit cut: y = 2 + 0.9 * (min Q'(s', a', z) - alpha log pi(a'|s', z)).
    next_input = agent.with_z(batch.next_observation, z[:, None])
    torch.manual_seed(5)
    with torch.no_grad():
        next_action, next_log_pi, _ = agent.pi(next_input, None, None)
        tq1, tq2 = agent.target_q(next_input, None, None, next_action)
    y = 2.0 + 0.9 * (torch.minimum(tq1, tq2) - next_log_pi)
    assert loss(False) == pytest.approx(expected(y), rel=1e-6)
    assert loss(False) != pytest.approx(loss(True), rel=1e-3)


def test_task_replay_fifo_growth_and_state():
    example = Transition(np.zeros(2, np.float32), np.zeros(1, np.float32), np.float32(0),
                         np.float32(0), np.zeros(2, np.float32), False)  # fmt: skip
    replay = TaskReplay(example, capacity=100)

    def chunk(start, n):
        r = np.arange(start, start + n, dtype=np.float32)
        return Transition(np.stack([r, r], 1), r[:, None], r, r, np.stack([r, r], 1), r % 2 == 0)

    replay.append(chunk(0, 70))
    replay.append(chunk(70, 50))  # grows to 100, then wraps: 0..19 overwritten
    assert len(replay) == 100
    assert sorted(replay.all().reward.tolist()) == list(range(20, 120))
    copy = TaskReplay(example, capacity=100)
    copy.load_state_dict(replay.state_dict())
    rng1, rng2 = np.random.default_rng(0), np.random.default_rng(0)
    np.testing.assert_array_equal(replay.sample(30, rng1).reward, copy.sample(30, rng2).reward)
    replay.clear()
    assert len(replay) == 0


def test_collection_schedule_and_encoder_replay():
    sampler, agent, algo = _setup()
    samples, infos = sampler.obtain_samples(0)
    # Initial: 40 steps on each of 3 tasks into both replays; then 2 tasks with prior 20 +
    # posterior 40 steps (encoder, cleared first) and 20 extra steps (RL replay only).
    initial = samples[:3]
    assert [(s.task, len(s.transitions.reward), s.to_encoder, s.clear_encoder) for s in initial] == [
        (0, 40, True, False), (1, 40, True, False), (2, 40, True, False)
    ]  # fmt: skip
    per_task = samples[3:]
    assert [(len(s.transitions.reward), s.to_encoder, s.clear_encoder) for s in per_task] == [
        (60, True, True),
        (20, False, False),
    ] * 2
    assert per_task[0].task != per_task[2].task  # without replacement
    algo.append_samples(samples)
    for s in per_task[::2]:
        # The encoder replay holds exactly this iteration's prior + posterior data.
        assert len(algo.encoder_replays[s.task]) == 60
        assert len(algo.rl_replays[s.task]) == 40 + 60 + 20
        np.testing.assert_array_equal(
            algo.encoder_replays[s.task].all().reward, s.transitions.reward
        )
    assert sampler.env_steps == 3 * 40 + 2 * 80
    assert len(infos) == (3 * 40 + 2 * 80) // 20
    # Time limits are not terminal.
    assert not any(s.transitions.terminal.any() for s in samples)


def test_meta_test_adaptation_curve_is_reproducible():
    sampler, agent, algo = _setup()
    agent.eval_mode(0)
    state = agent.exploration_generator.get_state()
    returns, sparse = sampler.meta_test(4)
    assert returns.shape == (2, 3)
    np.testing.assert_array_equal(returns, sampler.meta_test(4)[0])
    assert torch.equal(state, agent.exploration_generator.get_state())  # training stream untouched
    np.testing.assert_array_equal(returns, sparse)  # dense env: the same


def test_env_without_tasks_refused_at_start():
    import gymnasium

    from rlpyt.envs.gym import GymEnvWrapper

    sampler = MetaSerialSampler(
        EnvCls=lambda: GymEnvWrapper(gymnasium.make("Pendulum-v1")), n_train_tasks=2, n_test_tasks=1
    )
    with pytest.raises(TypeError, match=r"no sample_tasks\(\) and no set_task\(\)"):
        sampler.initialize(PearlAgent(), seed=0)
