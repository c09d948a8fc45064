"""BestFirstSearchAgent: goals, transpositions, the visit bonus, batching, refusals."""

import numpy as np
import pytest
import torch
from planning_play import ConstantHeads, NoCloneEnv, play_episodes

from rlpyt.agents.planning import BestFirstSearchAgent
from rlpyt.envs.gym import GymEnvWrapper, gym_make
from rlpyt.envs.model import CloneStateUnsupportedError
from rlpyt.envs.planning import BitFlipper, Hanoi
from rlpyt.models.planning import PlanningMlpModel


class MinusHamming(torch.nn.Module):
    """A perfect BitFlipper heuristic: V = -(bits differing from the goal)."""

    def __init__(self, observation_shape, action_size):
        super().__init__()
        self.n_bits = observation_shape[0] // 2

    def forward(self, observation):
        bits, goal = observation[..., : self.n_bits], observation[..., self.n_bits :]
        return {"value": -(bits - goal).abs().sum(-1)}


def bit_flippers(n_envs, n_bits, seed):
    """BitFlipper envs and the Hamming distance of each one's start from its goal."""
    envs = [gym_make("rlpyt/BitFlipper-v0", n_bits=n_bits) for _ in range(n_envs)]
    distances = []
    for b in range(n_envs):
        probe = gym_make("rlpyt/BitFlipper-v0", n_bits=n_bits)
        probe.seed(seed + b)
        obs = probe.reset()
        distances.append(int(np.abs(obs[:n_bits] - obs[n_bits:]).sum()))
    return envs, distances


def test_a_perfect_heuristic_walks_straight_to_the_goal():
    envs, distances = bit_flippers(6, n_bits=10, seed=0)
    agent = BestFirstSearchAgent(n_expansions=2, heuristic="value", ModelCls=MinusHamming)
    played, _ = play_episodes(agent, envs, seed=0)
    assert all(p.solved for p in played)
    assert [p.length for p in played] == distances
    # The second expansion pops a child one flip closer; the agent acts toward the best
    # node found, a grandchild two flips closer.
    first = played[0].metrics[0]
    if distances[0] > 2:
        assert first["nodes_expanded"] == 2 and first["depth"] == 2
        assert first["tree_size"] == 1 + 10 + 9  # root, its 10 children, 9 new grandchildren
        assert first["goal_found"] == 0.0
    last = played[0].metrics[-1]
    assert last["goal_found"] == 1.0 and last["root_value"] == 0.0


def test_a_goal_found_deep_in_the_search_is_followed():
    envs, distances = bit_flippers(1, n_bits=6, seed=3)
    assert distances[0] >= 3
    agent = BestFirstSearchAgent(
        n_expansions=6, heuristic="value", discount=0.5, ModelCls=MinusHamming
    )
    played, _ = play_episodes(agent, envs, seed=3)
    first = played[0].metrics[0]
    assert first["goal_found"] == 1.0
    assert first["depth"] == distances[0]
    # The path's return: -1 per flip, 0 for the solving flip, discounted by 0.5.
    assert first["root_value"] == pytest.approx(-sum(0.5**k for k in range(distances[0] - 1)))
    assert played[0].solved and played[0].length == distances[0]


@pytest.mark.parametrize("n_disks", [2, 3])
def test_an_untrained_network_solves_small_hanoi_when_the_budget_covers_the_states(n_disks):
    # 3**n_disks states: the search meets the goal at the first real step.
    agent = BestFirstSearchAgent(n_expansions=3**n_disks, ModelCls=PlanningMlpModel)
    envs = [gym_make("rlpyt/Hanoi-v0", n_disks=n_disks)]
    played, _ = play_episodes(agent, envs, seed=1)
    for p in played:
        assert p.solved and p.length >= 2**n_disks - 1
        assert p.metrics[0]["goal_found"] == 1.0
        assert p.metrics[0]["tree_size"] <= 3**n_disks


def test_transpositions_merge_states_reached_by_different_paths():
    # Hanoi with 2 disks has 9 states: the graph never holds more, however large the budget.
    # Keyed by clone_state() the TimeLimit's elapsed steps would tell depths apart; the
    # unwrapped env's own state is the position alone, so both keys agree there.
    for transposition, env in [
        ("observation", gym_make("rlpyt/Hanoi-v0", n_disks=2)),
        ("state", GymEnvWrapper(Hanoi(n_disks=2))),
    ]:
        agent = BestFirstSearchAgent(
            n_expansions=100,
            transposition=transposition,
            ModelCls=ConstantHeads,
            model_kwargs=dict(value=0.0),
        )
        played, _ = play_episodes(agent, [env], seed=0, max_steps=1)
        assert played[0].metrics[0]["tree_size"] <= 9
    # With clone_state keys through the TimeLimit, each depth is a new state.
    agent = BestFirstSearchAgent(n_expansions=12, transposition="state", ModelCls=ConstantHeads)
    played, _ = play_episodes(agent, [gym_make("rlpyt/Hanoi-v0", n_disks=2)], seed=0, max_steps=1)
    assert played[0].metrics[0]["tree_size"] > 9


def test_the_visit_bonus_steers_away_from_visited_states():
    # A constant value and one expansion per step: "value" always takes the first action
    # (flipping bit 0 back and forth); the bonus prefers unvisited states, flipping bit 0,
    # then 1, then 0 (to a new state), then 2.
    envs, distances = bit_flippers(1, n_bits=8, seed=9)
    assert distances[0] >= 6  # no goal within reach of 4 steps and one expansion
    actions = {}
    for heuristic in ("value", "value_plus_bonus"):
        agent = BestFirstSearchAgent(n_expansions=1, heuristic=heuristic, ModelCls=ConstantHeads)
        played, _ = play_episodes(agent, envs, seed=9, max_steps=4)
        actions[heuristic] = played[0].actions
    assert actions["value"] == [0, 0, 0, 0]
    assert actions["value_plus_bonus"] == [0, 1, 0, 2]


def test_visit_counts_are_cleared_by_reset_one():
    agent = BestFirstSearchAgent(n_expansions=1, ModelCls=ConstantHeads)
    play_episodes(agent, [gym_make("rlpyt/BitFlipper-v0", n_bits=8)], seed=11, max_steps=3)
    assert sum(agent._visits[0].values()) == 3
    agent.reset_one(0)
    assert agent._visits[0] == {}


def test_one_forward_pass_per_expansion_for_all_envs():
    # 4 envs, 3 expansions each, no goal within reach: 3 forward passes, not 12.
    envs, distances = bit_flippers(4, n_bits=8, seed=18)
    assert min(distances) >= 4
    agent = BestFirstSearchAgent(n_expansions=3, ModelCls=PlanningMlpModel)
    play_episodes(agent, envs, seed=18, max_steps=1)
    assert agent.forward_calls == agent.search_steps == 3
    assert [m["nodes_expanded"] for m in agent.step_metrics] == [3] * 4


def test_planning_on_an_env_without_clone_state_fails_at_bind():
    agent = BestFirstSearchAgent(ModelCls=PlanningMlpModel)
    agent.initialize(GymEnvWrapper(NoCloneEnv()).spaces)
    with pytest.raises(CloneStateUnsupportedError, match=r"NoCloneEnv.*clone_state"):
        agent.bind_envs([GymEnvWrapper(NoCloneEnv())])


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n_expansions=0), "n_expansions must be >= 1"),
        (dict(heuristic="bonus"), "heuristic must be one of"),
        (dict(bonus_weight=-1.0), "bonus_weight must be >= 0"),
        (dict(transposition="hash"), "transposition must be one of"),
        (dict(discount=2.0), "discount must be in"),
        (dict(ModelCls=None), "needs a value network"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs, error):
    kwargs = dict(dict(ModelCls=PlanningMlpModel), **kwargs)
    with pytest.raises(ValueError, match=error):
        BestFirstSearchAgent(**kwargs)


def test_bitflipper_start_is_seeded():
    # The tests above rely on the env's start being a function of its seed.
    a, b = BitFlipper(n_bits=8), BitFlipper(n_bits=8)
    np.testing.assert_array_equal(a.reset(seed=4)[0], b.reset(seed=4)[0])
