"""StochasticMctsAgent: exact values, sampled chance outcomes, transpositions, Bellman
backups, priors, FrozenLake."""

import gymnasium as gym
import numpy as np
import pytest
from mcts_play import ConstantModel, bind, play

from rlpyt.agents.planning import StochasticMctsAgent
from rlpyt.envs.base import Env
from rlpyt.envs.gym import GymEnvWrapper, gym_make
from rlpyt.envs.model import CloneStateUnsupportedError
from rlpyt.models.planning import PlanningMlpModel

# FrozenLake actions: 0 left, 1 down, 2 right, 3 up; cells row-major on the 4x4 map
# SFFF / FHFH / FFFH / HFFG (holes 5, 7, 11, 12; the goal 15 pays 1).


def lake(slippery=True, n_envs=1):
    return [gym_make("FrozenLake-v1", is_slippery=slippery, map_name="4x4") for _ in range(n_envs)]


def search_once(agent, envs):
    observation = np.stack([np.asarray(env.reset()) for env in envs])
    agent.reset()
    return agent.step(observation, None, None)


def test_two_passes_back_up_exact_values():
    envs = lake(slippery=False)
    agent = StochasticMctsAgent(
        n_passes=2, discount=0.9, leaf="value", transpositions="none", ModelCls=ConstantModel,
        model_kwargs=dict(value=0.5),
    )  # fmt: skip
    bind(agent, envs)
    step = search_once(agent, envs)
    root = agent.last_roots[0]
    # A tree. Pass 1 rates the root (0.5); pass 2 tries one action (all tied), rates its
    # outcome 0.5 (a new node, even where it is cell 0 again) and backs up 0 + 0.9 * 0.5
    # into that action and the root.
    (a,) = np.flatnonzero(root.action_visits)
    assert sum(root.action_visits) == 1 and root.visits == 2
    assert step.agent_info.value[0] == pytest.approx((0.5 + 0.45) / 2)
    expected_q = np.full(4, np.nan)
    expected_q[a] = 0.45
    np.testing.assert_allclose(step.agent_info.qualities[0], expected_q, 1e-6)
    assert step.action[0] == a and step.agent_info.action_probs[0].tolist() == np.eye(4)[a].tolist()
    assert agent.forward_calls == 2
    m = agent.step_metrics[0]
    assert (m["n_passes"], m["tree_size"], m["depth"], m["nodes_expanded"], m["model_steps"]) == (
        2, 2, 1, 2, 1,
    )  # fmt: skip


def test_q_leaf_initialises_action_values_and_rates_by_max():
    envs = lake(slippery=False)
    q = [0.1, 0.2, 0.3, 0.4]
    agent = StochasticMctsAgent(
        n_passes=2, discount=0.9, leaf="q", exploration_weight=0.0, transpositions="none",
        ModelCls=ConstantModel, model_kwargs=dict(value=None, q=q),
    )  # fmt: skip
    bind(agent, envs)
    step = search_once(agent, envs)
    root = agent.last_roots[0]
    # Pass 2 takes "up" (Q 0.4): against the wall, back to cell 0, a new node in the tree,
    # rated max Q = 0.4.
    assert root.action_visits == [0, 0, 0, 1] and agent.forward_calls == 2
    assert root.qualities() == pytest.approx([0.1, 0.2, 0.3, 0.9 * 0.4])
    assert step.agent_info.value[0] == pytest.approx((0.4 + 0.36) / 2)


def test_policy_prior_steers_the_visits():
    envs = lake()
    agent = StochasticMctsAgent(
        n_passes=60, leaf="value", prior="policy", exploration_weight=5.0,
        ModelCls=ConstantModel, model_kwargs=dict(value=0.0, policy=[0.0, 0.0, 4.0, 0.0]),
    )  # fmt: skip
    bind(agent, envs)
    search_once(agent, envs)
    root = agent.last_roots[0]
    prior = np.exp([0.0, 0.0, 4.0, 0.0]) / np.exp([0.0, 0.0, 4.0, 0.0]).sum()
    np.testing.assert_allclose(root.prior, prior)
    # 59 passes start at the root, and come back to it through cycles.
    visits = np.array(root.action_visits)
    assert visits.sum() >= 59 and visits[2] > 0.8 * visits.sum()


def test_each_simulation_draws_its_own_outcome():
    envs = lake(slippery=True)
    agent = StochasticMctsAgent(n_passes=60, exploration_weight=1.0, rollout_time_limit=10)
    bind(agent, envs)
    step = search_once(agent, envs)
    root = agent.last_roots[0]
    # From cell 0 "right" slips to 1, 4 or stays at 0 ("up" against the wall): with the
    # model re-seeded after each restore, every action shows more than one outcome.
    cells = {a: sorted(int(np.frombuffer(k[0], np.int64)[0]) for k in root.outcomes[a])
             for a in range(4)}  # fmt: skip
    assert cells[2] == [0, 1, 4] and all(len(c) > 1 for c in cells.values())
    # The root's actions were taken 59 times (pass 1 rates the root) and more through cycles.
    visits = np.array(root.action_visits)
    assert visits.sum() >= 59
    np.testing.assert_allclose(step.agent_info.action_probs[0], visits / visits.sum())


def test_max_backup_is_the_expectimax_of_the_tree():
    envs = lake(slippery=True)
    agent = StochasticMctsAgent(
        n_passes=80, backup="max", discount=0.95, rollout_time_limit=20, transpositions="none"
    )
    bind(agent, envs, seed=4)
    search_once(agent, envs)

    def check(node):
        if not node.expanded or node.terminal:
            return
        q = node.bellman_qualities(0.95)
        for a in np.flatnonzero(node.action_visits):
            children, counts = node.outcomes[a], node.outcome_visits[a]
            # In a tree a child is reached only through its edge.
            assert {k: c.visits for k, c in children.items()} == counts
            assert sum(counts.values()) == node.action_visits[a]
            expected = sum(
                n * (key[1] + 0.95 * children[key].max_value) for key, n in counts.items()
            )
            assert q[a] == pytest.approx(expected / node.action_visits[a])
            for c in children.values():
                check(c)
        if any(node.action_visits):  # else a leaf: its rating
            assert node.max_value == max(x for x, n in zip(q, node.action_visits) if n)

    check(agent.last_roots[0])


class Coin(gym.Env):
    """A tiny stochastic env with known values. Observation: the state, 0 to 3 (3 ends).

    0 (start): action 0 pays 0.5 and ends; action 1 flips a coin: to 1 or to 2.
    1: either action pays 1 and ends.
    2: action 0 flips a coin: to 1, or the end (no pay); action 1 goes back to 0.
    So 1 is the outcome of two actions in two states, and 0 -> 2 -> 0 is a cycle. With
    discount 0.9: V(1) = 1, V(0) = Q(0, 1) = 0.9 * (V(1) + V(2)) / 2 and V(2) = Q(2, 1)
    = 0.9 V(0) (> Q(2, 0) = 0.45), so V(0) = 0.45 / (1 - 0.405) = 0.7563.
    """

    V0 = 0.45 / (1 - 0.405)

    def __init__(self):
        self.observation_space = gym.spaces.Discrete(4)
        self.action_space = gym.spaces.Discrete(2)
        self.state = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = 0
        return self.state, {}

    def step(self, action):
        heads = bool(self.np_random.integers(2))
        if self.state == 0:
            state, reward = (3, 0.5) if action == 0 else (1 if heads else 2, 0.0)
        elif self.state == 1:
            state, reward = 3, 1.0
        else:
            state, reward = (1 if heads else 3, 0.0) if action == 0 else (0, 0.0)
        self.state = state
        return state, reward, state == 3, False, {}

    def clone_state(self):
        return self.state

    def restore_state(self, state):
        self.state = state


def key_of(state, done=False):
    """The table key of Coin's ``state``."""
    return (np.int64(state).tobytes(), done)


def coin_search(n_passes, seed=0, **kwargs):
    envs = [GymEnvWrapper(Coin())]
    agent = StochasticMctsAgent(
        n_passes=n_passes, discount=0.9, backup="max", action_selection="value", **kwargs
    )
    bind(agent, envs, seed=seed)
    return agent, search_once(agent, envs)


def test_outcomes_with_one_state_share_a_node():
    agent, _ = coin_search(300, transpositions="step")
    table = agent.table_of(0)
    root, one, two, end = (table[key_of(s, s == 3)] for s in range(4))
    assert len(table) == 4 and root is agent.last_roots[0] and end.terminal
    to_one, to_zero = (np.int64(1).tobytes(), 0.0, False), (np.int64(0).tobytes(), 0.0, False)
    # State 1, the outcome of a coin flip in states 0 and 2, is one node; 2's action 1
    # leads back to the root itself.
    assert root.outcomes[1][to_one] is one and two.outcomes[0][to_one] is one
    assert two.outcomes[1][to_zero] is root
    # A node's visits are the passes through it: here those that reached it by either edge.
    assert one.visits == root.outcome_visits[1][to_one] + two.outcome_visits[0][to_one] > 0
    # Pass 1 rates the root; each time a later pass is at the root it takes an action (no
    # pass ends at it: max_depth is never reached here).
    assert root.visits == 1 + sum(root.action_visits) > 300
    # Paths go round the cycle 0 -> 2 -> 0 (the shortest path to the end has 2 steps).
    assert agent.step_metrics[0]["depth"] >= 4
    # The terminal outcomes of all three states share one node too, worth 0.
    ends = [k for node in (root, one, two) for o in node.outcomes for k in o if k[2]]
    assert {id(node.outcomes[a][k]) for node in (root, one, two) for a in range(2)
            for k in node.outcomes[a] if k[2]} == {id(end)}  # fmt: skip
    assert len(ends) >= 3 and end.max_value == 0.0
    # Without transpositions the same state is a new node per outcome.
    agent, _ = coin_search(300, transpositions="none")
    root = agent.last_roots[0]
    two = root.outcomes[1][(np.int64(2).tobytes(), 0.0, False)]
    assert two.outcomes[0][to_one] is not root.outcomes[1][to_one]
    assert two.outcomes[1][to_zero] is not root and agent.table_of(0) is None


def test_bellman_backup_on_shared_statistics():
    agent, step = coin_search(1500, seed=3)
    table = agent.table_of(0)
    root, one, two = (table[key_of(s)] for s in range(3))
    # Every action of state 1 pays 1 and ends: V(1) = 1 exactly once one is tried.
    assert one.max_value == 1.0
    # Q(0, a) from the counts of the outcomes and their values, V(0) = max_a Q(0, a).
    counts = root.outcome_visits[1]
    n_one = counts[(np.int64(1).tobytes(), 0.0, False)]
    n_two = counts[(np.int64(2).tobytes(), 0.0, False)]
    q_gamble = (n_one * 0.9 * 1.0 + n_two * 0.9 * two.max_value) / (n_one + n_two)
    assert root.bellman_qualities(0.9) == pytest.approx([0.5, q_gamble], abs=1e-12)
    assert root.max_value == pytest.approx(q_gamble, abs=1e-12)
    np.testing.assert_allclose(step.agent_info.qualities[0], [0.5, q_gamble], rtol=1e-6)
    # The estimates converge to the true values (asynchronous value iteration on the
    # sampled counts; here within 0.03 of them).
    assert root.max_value == pytest.approx(Coin.V0, abs=0.03)
    assert two.max_value == pytest.approx(0.9 * Coin.V0, abs=0.03)
    assert step.action[0] == 1 and step.agent_info.value[0] == pytest.approx(root.max_value)


def test_max_depth_ends_a_pass_at_the_current_value():
    agent, step = coin_search(30, max_depth=1)
    table = agent.table_of(0)
    root, one, two = (table[key_of(s)] for s in range(3))
    # Every pass after the first (the root's rating) takes one step: to the end, or to 1
    # or 2, rated when new and worth its current value (its rating) afterwards.
    assert agent.step_metrics[0]["depth"] == 1 and sum(root.action_visits) == 29
    assert sum(one.action_visits) == 0 and sum(two.action_visits) == 0
    counts = root.outcome_visits[1]
    n_one = counts[(np.int64(1).tobytes(), 0.0, False)]
    n_two = counts[(np.int64(2).tobytes(), 0.0, False)]
    assert one.visits == n_one and two.visits == n_two
    q_gamble = 0.9 * (n_one * one.max_value + n_two * two.max_value) / (n_one + n_two)
    np.testing.assert_allclose(step.agent_info.qualities[0], [0.5, q_gamble], rtol=1e-6)


def test_episode_table_is_kept_across_real_steps_and_forgotten_at_reset():
    envs = [GymEnvWrapper(Coin())]
    # (max_depth=1: every pass takes one action at the root, whose visits are then exact.)
    agent = StochasticMctsAgent(n_passes=20, backup="max", transpositions="episode", max_depth=1)
    bind(agent, envs)
    search_once(agent, envs)
    table = agent.table_of(0)
    root = agent.last_roots[0]
    agent.step(np.zeros((1,), np.int64), None, None)  # the same real state again
    assert agent.table_of(0) is table and agent.last_roots[0] is root and root.visits == 40
    agent.reset()
    assert agent.table_of(0) is None
    search_once(agent, envs)
    assert agent.last_roots[0] is not root and agent.last_roots[0].visits == 20
    # transpositions="step": a new table for each real step.
    agent = StochasticMctsAgent(n_passes=20, backup="max", transpositions="step", max_depth=1)
    bind(agent, envs)
    search_once(agent, envs)
    table = agent.table_of(0)
    agent.step(np.zeros((1,), np.int64), None, None)
    assert agent.table_of(0) is not table and agent.last_roots[0].visits == 20


def test_one_forward_per_search_step_for_all_envs():
    n_envs, n_passes = 4, 5
    envs = lake(n_envs=n_envs)
    agent = StochasticMctsAgent(
        n_passes=n_passes, leaf="value", prior="policy", ModelCls=PlanningMlpModel,
        model_kwargs=dict(heads=("value", "policy")),
    )  # fmt: skip
    bind(agent, envs)
    search_once(agent, envs)
    # Every simulation rates one leaf (or ends in a hole): one batch per simulation.
    assert agent.forward_calls == agent.search_steps <= n_passes


def test_same_seed_same_actions():
    runs = []
    for _ in range(2):
        envs = lake(n_envs=2)
        agent = StochasticMctsAgent(n_passes=10, rollout_time_limit=10)
        bind(agent, envs, seed=7)
        episodes, _ = play(agent, envs, max_steps=15)
        runs.append([e.actions for e in episodes])
    assert runs[0] == runs[1]


def test_env_that_cannot_reseed_refused_at_bind():
    class Stateful(Env):
        def clone_state(self):
            return 0

        def restore_state(self, state):
            pass

    agent = StochasticMctsAgent(n_passes=2)
    agent.initialize(lake()[0].spaces)
    with pytest.raises(CloneStateUnsupportedError, match="Stateful lacks reseed_transitions"):
        agent.bind_envs([Stateful()])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_passes=0), "n_passes must be an integer >= 1"),
        (dict(prior="dirichlet"), "prior must be one of"),
        (dict(leaf="tree"), "leaf must be one of"),
        (dict(backup="min"), "backup must be one of"),
        (dict(transpositions=True), "transpositions must be one of"),
        (dict(max_depth=0), "max_depth must be an integer >= 1"),
        (dict(n_leaf_rollouts=0), "n_leaf_rollouts"),
        (dict(leaf="q"), r"\['q'\] head.*ModelCls is None"),
        (dict(prior="policy"), r"\['policy'\] head.*ModelCls is None"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StochasticMctsAgent(**kwargs)


def test_network_without_the_needed_head_refused():
    agent = StochasticMctsAgent(leaf="q", ModelCls=PlanningMlpModel)
    with pytest.raises(ValueError, match=r"\['q'\] head"):
        agent.initialize(lake()[0].spaces)


def success_probability(policy, transitions, horizon=100):
    """P(reach the goal within ``horizon`` steps from cell 0) of ``policy`` [16, 4] (action
    probabilities per cell) on FrozenLake's ``transitions`` (``env.unwrapped.P``)."""
    value = np.zeros(16)
    for _ in range(horizon):
        value = np.array(
            [
                sum(
                    policy[s, a] * p * (r + (0.0 if done else value[s2]))
                    for a in range(4)
                    for p, s2, r, done in transitions[s][a]
                )
                for s in range(16)
            ]
        )
    return value[0]


# The settings that meet the acceptance on FrozenLake 4x4 slippery with random
# rollout leaves (no network); see the module docstring of stochastic_mcts for the numbers.
FROZEN_LAKE_SETTINGS = dict(
    n_passes=50, max_depth=20, exploration_weight=1.0, discount=0.99, backup="max",
    action_selection="value", rollout_time_limit=50, transpositions="episode",
)  # fmt: skip


@pytest.mark.slow
def test_rollout_search_solves_slippery_frozen_lake():
    """Real 100-step episodes, 2 seeds x 12 (a reduced run of the acceptance check; about
    40 s of CPU).

    The uniform random policy succeeds with probability 0.014 (exact), the optimal one
    0.74; the agent's full measurement is in the module docstring of stochastic_mcts.
    """
    (env,) = lake()
    assert success_probability(np.full((16, 4), 0.25), env.env.unwrapped.P) < 0.02
    successes = []
    for seed in (0, 1):
        envs = lake()
        agent = StochasticMctsAgent(**FROZEN_LAKE_SETTINGS)
        bind(agent, envs, seed=seed)
        episodes, _ = play(agent, envs, n_rounds=12)
        successes += [e.returns > 0 for e in episodes]
    assert np.mean(successes) >= 0.45
