"""SoftmaxAgent and EpsilonGreedyAgent: exact distributions, lookahead, batching, refusals."""

import numpy as np
import pytest
from planning_play import ConstantHeads, NoCloneEnv, line_env, play_episodes

from rlpyt.agents.planning import EpsilonGreedyAgent, SoftmaxAgent
from rlpyt.envs.gym import GymEnvWrapper
from rlpyt.envs.model import CloneStateUnsupportedError

REWARDS = (0.0, 1.0, 0.5)


def first_step(agent, envs, seed=0):
    agent.initialize(envs[0].spaces)
    observations = np.stack([env.reset() for env in envs])
    agent.bind_envs(envs, seed=seed)
    zeros = np.zeros(len(envs))
    return agent.step(observations, zeros, zeros)


def test_softmax_over_the_q_head():
    agent = SoftmaxAgent(temperature=0.5, ModelCls=ConstantHeads, model_kwargs=dict(q=[1, 2, 3]))
    info = first_step(agent, [line_env()]).agent_info
    e = np.exp(np.array([1.0, 2.0, 3.0]) / 0.5)
    probs = e / e.sum()
    np.testing.assert_allclose(info.action_probs[0], probs, rtol=1e-6)
    np.testing.assert_array_equal(info.qualities[0], [1, 2, 3])
    assert info.value[0] == pytest.approx(probs @ [1, 2, 3], rel=1e-6)
    assert agent.step_metrics[0]["model_steps"] == 0


@pytest.mark.parametrize(
    "q, expected",
    [([1, 2, 3], [0.1, 0.1, 0.8]), ([2, 2, 0], [0.45, 0.45, 0.1])],
)
def test_epsilon_greedy_distribution_splits_the_greedy_mass_among_ties(q, expected):
    agent = EpsilonGreedyAgent(epsilon=0.3, ModelCls=ConstantHeads, model_kwargs=dict(q=q))
    info = first_step(agent, [line_env()]).agent_info
    np.testing.assert_allclose(info.action_probs[0], expected, rtol=1e-6)


def test_actions_are_drawn_from_the_distribution_with_the_agents_generator():
    def actions(seed):
        agent = EpsilonGreedyAgent(
            epsilon=0.3, ModelCls=ConstantHeads, model_kwargs=dict(q=[1, 2, 3])
        )
        first_step(agent, [line_env()], seed=seed)
        obs = np.zeros((1, 1))
        return np.array([agent.step(obs, 0, 0).action[0] for _ in range(500)])

    a = actions(7)
    np.testing.assert_allclose(np.bincount(a, minlength=3) / len(a), [0.1, 0.1, 0.8], atol=0.06)
    np.testing.assert_array_equal(actions(7), a)


@pytest.mark.parametrize("Agent", [SoftmaxAgent, EpsilonGreedyAgent])
def test_value_head_rates_actions_by_one_step_lookahead(Agent):
    kwargs = dict(head="value", discount=0.9, ModelCls=ConstantHeads, model_kwargs=dict(value=4.0))
    # Not terminal after one step: r + 0.9 * V.
    agent = Agent(**kwargs)
    info = first_step(agent, [line_env(rewards=REWARDS, length=3)]).agent_info
    np.testing.assert_allclose(info.qualities[0], np.add(REWARDS, 3.6), rtol=1e-6)
    assert agent.step_metrics[0]["model_steps"] == 3
    # Terminal after one step: r alone.
    info = first_step(Agent(**kwargs), [line_env(rewards=REWARDS, length=1)]).agent_info
    np.testing.assert_array_equal(info.qualities[0], REWARDS)
    # Cut by a time limit after one step: bootstrapped, r + 0.9 * V.
    info = first_step(Agent(**kwargs), [line_env(time_limit=1, rewards=REWARDS, length=5)])
    np.testing.assert_allclose(info.agent_info.qualities[0], np.add(REWARDS, 3.6), rtol=1e-6)


@pytest.mark.parametrize("head, forward_calls", [("q", 4), ("value", 3)])
def test_one_forward_pass_per_real_step_for_all_envs(head, forward_calls):
    # 5 envs, 4 real steps. The lookahead of the last step reaches only terminal states,
    # rated by their reward alone: no network call.
    agent = SoftmaxAgent(head=head, ModelCls=ConstantHeads)
    played, rounds = play_episodes(agent, [line_env(length=4) for _ in range(5)], seed=0)
    assert rounds == 4
    assert agent.forward_calls == agent.search_steps == forward_calls


def test_q_head_needs_no_model_but_lookahead_does():
    envs = [GymEnvWrapper(NoCloneEnv()) for _ in range(2)]
    played, _ = play_episodes(SoftmaxAgent(ModelCls=ConstantHeads), envs, max_steps=3)
    assert [p.length for p in played] == [3, 3]
    agent = EpsilonGreedyAgent(head="value", ModelCls=ConstantHeads)
    agent.initialize(envs[0].spaces)
    with pytest.raises(CloneStateUnsupportedError, match=r"NoCloneEnv.*clone_state"):
        agent.bind_envs(envs)


@pytest.mark.parametrize(
    "Agent, kwargs, error",
    [
        (SoftmaxAgent, dict(temperature=0.0), "temperature must be > 0"),
        (EpsilonGreedyAgent, dict(epsilon=1.5), r"epsilon must be in \[0.0, 1.0\]"),
        (SoftmaxAgent, dict(head="policy"), "head must be one of"),
        (SoftmaxAgent, dict(discount=-0.1), "discount must be in"),
        (EpsilonGreedyAgent, dict(ModelCls=None), "needs a network"),
    ],
)
def test_bad_settings_are_refused_at_construction(Agent, kwargs, error):
    kwargs = dict(dict(ModelCls=ConstantHeads), **kwargs)
    with pytest.raises(ValueError, match=error):
        Agent(**kwargs)


def test_a_network_without_the_head_is_refused_at_initialize():
    from rlpyt.models.planning import PlanningMlpModel

    agent = SoftmaxAgent(head="q", ModelCls=PlanningMlpModel)  # heads=("value",) by default
    with pytest.raises(ValueError, match=r"\['q'\] head"):
        agent.initialize(line_env().spaces)
