"""EpsilonGreedyAgentMixin: the epsilon schedule, Ape-X vector epsilon, seeding of exploration."""

import numpy as np
import pytest
import torch

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.envs.base import EnvSpaces
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox

torch.set_num_threads(1)

SPACES = EnvSpaces(observation=FloatBox(-1, 1, (3,)), action=IntBox(0, 4))
MODEL = dict(hidden_sizes=(8,))


def _agent(global_B=1, env_ranks=None, seed=0, **kwargs):
    torch.manual_seed(seed)
    agent = DqnMlpAgent(model_kwargs=MODEL, **kwargs)
    agent.initialize(SPACES, global_B=global_B, env_ranks=env_ranks)
    return agent


def test_scalar_schedule_values():
    agent = _agent(eps_init=1.0, eps_final=0.25, eps_itr_min=10, eps_itr_max=20)
    assert agent.epsilon_at(0) == 1.0
    assert agent.epsilon_at(10) == 1.0
    assert agent.epsilon_at(15) == 0.625  # halfway: (1 + 0.25) / 2
    assert agent.epsilon_at(12) == pytest.approx(0.85, abs=1e-15)  # 0.8 * 1 + 0.2 * 0.25
    assert agent.epsilon_at(20) == 0.25
    assert agent.epsilon_at(10**6) == 0.25


def test_modes_set_the_distribution_epsilon():
    agent = _agent(eps_init=1.0, eps_final=0.25, eps_itr_min=10, eps_itr_max=20, eps_eval=0.125)
    assert agent.distribution.epsilon == 1.0  # before any mode: eps_init
    agent.sample_mode(15)
    assert agent.distribution.epsilon == 0.625
    agent.eval_mode(15)
    assert agent.distribution.epsilon == 0.125
    agent.train_mode(15)
    agent.sample_mode(30)
    assert agent.distribution.epsilon == 0.25


def test_set_epsilon_itr_min_max_moves_the_schedule():
    agent = _agent(eps_init=1.0, eps_final=0.5)
    agent.set_epsilon_itr_min_max(0, 4)
    assert agent.epsilon_at(1) == 0.875
    agent.set_epsilon_itr_min_max(3, 3)  # a step at itr 3
    assert (agent.epsilon_at(2), agent.epsilon_at(3)) == (1.0, 0.5)
    with pytest.raises(ValueError, match="eps_itr_max must be >= 3, got 2"):
        agent.set_epsilon_itr_min_max(3, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eps_init=1.5), "eps_init"),
        (dict(eps_final=-0.1), "eps_final"),
        (dict(eps_eval=2), "eps_eval"),
        (dict(eps_final_min=0.0), "eps_final_min"),
        (dict(eps_final_min=0.01, eps_final=0.0), "eps_final"),
        (dict(eps_itr_min=-1), "eps_itr_min"),
    ],
)
def test_bad_schedule_arguments_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DqnMlpAgent(**kwargs)


def test_vector_epsilon_endpoints_spacing_and_slices():
    kw = dict(eps_init=1.0, eps_final=0.1, eps_final_min=1e-4, eps_itr_min=0, eps_itr_max=10)
    full = _agent(global_B=8, **kw)
    final = full.epsilon_at(10)
    assert final.dtype == torch.float32 and final.shape == (8,)
    expected = np.geomspace(1e-4, 0.1, 8)
    assert torch.equal(final, torch.from_numpy(expected.astype(np.float32)))
    assert expected[0] == 1e-4 and expected[-1] == 0.1  # exact endpoints
    assert np.allclose(expected[1:] / expected[:-1], 1000 ** (1 / 7))  # log-spaced
    assert bool((final[1:] > final[:-1]).all())
    # A sampler holding global envs 4..7 gets exactly those entries.
    upper = _agent(global_B=8, env_ranks=[4, 5, 6, 7], **kw)
    assert torch.equal(upper.epsilon_at(10), final[4:])
    # All start at eps_init; each env's epsilon falls monotonically to its final value.
    assert torch.equal(full.epsilon_at(0), torch.ones(8))
    path = torch.stack([full.epsilon_at(i) for i in range(12)])
    assert bool((path[1:] <= path[:-1]).all())
    assert torch.equal(path[-1], final)


def test_vector_epsilon_of_a_single_env_is_eps_final():
    agent = _agent(eps_final=0.05, eps_final_min=1e-3, eps_itr_min=0, eps_itr_max=1)
    assert torch.equal(agent.epsilon_at(1), torch.tensor([0.05], dtype=torch.float32))


def test_vector_epsilon_steps_and_worker_slices():
    agent = _agent(global_B=4, eps_final=0.1, eps_final_min=0.01, eps_itr_min=0, eps_itr_max=1)
    agent.sample_mode(1)
    obs, act, rew = torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), torch.zeros(4)
    assert agent.step(obs, act, rew).action.shape == (4,)
    with pytest.raises(ValueError, match="collector_initialize"):
        agent.step(obs[:2], act[:2], rew[:2])  # a worker's slice of 2 envs
    agent.collector_initialize(global_B=4, env_ranks=[2, 3])
    agent.sample_mode(1)
    assert agent.step(obs[:2], act[:2], rew[:2]).action.shape == (2,)
    assert torch.equal(agent.distribution.epsilon, agent.epsilon_at(1))
    with pytest.raises(ValueError, match="env_ranks"):
        agent.collector_initialize(global_B=4, env_ranks=[3, 4])


def _actions(agent, n=50):
    obs = torch.zeros(6, 3)
    act, rew = torch.zeros(6, dtype=torch.long), torch.zeros(6)
    return torch.stack([agent.step(obs, act, rew).action for _ in range(n)])


def test_exploration_is_seeded_by_the_run_seed_and_env_rank():
    a1 = _agent(global_B=12, env_ranks=range(6), seed=3)
    a2 = _agent(global_B=12, env_ranks=range(6), seed=3)
    a3 = _agent(global_B=12, env_ranks=range(6), seed=4)
    a4 = _agent(global_B=12, env_ranks=range(6, 12), seed=3)  # another sampler's envs
    for a in (a1, a2, a3, a4):
        a.sample_mode(0)  # eps_init = 1: every action is a draw
    first = _actions(a1)
    assert torch.equal(_actions(a2), first)
    assert not torch.equal(_actions(a3), first)
    assert not torch.equal(_actions(a4), first)
    # The global torch RNG is left alone while acting.
    torch.manual_seed(5)
    before = torch.rand(3)
    torch.manual_seed(5)
    _actions(a1, 3)
    assert torch.equal(torch.rand(3), before)


def test_sampling_state_dict_resumes_the_exploration_stream():
    agent = _agent(seed=1)
    agent.sample_mode(0)
    _actions(agent, 5)
    state = agent.sampling_state_dict()
    assert state["exploration_rng_device"] == "cpu"
    cont = _actions(agent)
    agent.load_sampling_state_dict(state)
    assert torch.equal(_actions(agent), cont)
