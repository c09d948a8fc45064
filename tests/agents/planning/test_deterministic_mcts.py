"""DeterministicMctsAgent: exact values on Tower of Hanoi, transpositions, loops, batching."""

import gymnasium as gym
import numpy as np
import pytest
from mcts_play import ConstantModel, bind, play

from rlpyt.agents.planning import DeterministicMctsAgent
from rlpyt.envs.gym import GymEnvWrapper, gym_make
from rlpyt.models.planning import PlanningMlpModel

# Hanoi actions (rlpyt.envs.planning.hanoi.MOVES): 0: peg 0->1, 1: 0->2, 2: 1->0, 3: 1->2,
# 4: 2->0, 5: 2->1. A state is the peg of each disk, smallest first.


def hanoi(n_disks, n_envs=1):
    return [gym_make("rlpyt/Hanoi-v0", n_disks=n_disks) for _ in range(n_envs)]


def first_search(agent, envs):
    """One real step from the start; returns (root node, agent_info of env 0)."""
    observation = np.stack([env.reset() for env in envs])
    agent.reset()
    step = agent.step(observation, None, None)
    return agent.table_of(0)[observation[0].tobytes()], step


def key_of(pegs):
    one_hot = np.zeros((len(pegs), 3), dtype=np.float32)
    one_hot[np.arange(len(pegs)), pegs] = 1.0
    return one_hot.ravel().tobytes()


def test_one_pass_expands_the_root_with_exact_values():
    envs = hanoi(2)
    agent = DeterministicMctsAgent(
        n_passes=1, discount=0.9, exploration_weight=0.0, ModelCls=ConstantModel,
        model_kwargs=dict(value=0.5),
    )  # fmt: skip
    bind(agent, envs)
    root, step = first_search(agent, envs)
    # From (0, 0) only moves 0 and 1 are valid (to (1, 0) and (2, 0), rated 0.5); the
    # invalid moves leave the state as is: loops, excluded from the leaf's max.
    assert root.value == pytest.approx(0.45) and root.visits == 1
    q_loop = 0.9 * 0.45
    np.testing.assert_allclose(step.agent_info.qualities[0], [0.45, 0.45] + [q_loop] * 4, 1e-6)
    assert step.agent_info.value[0] == pytest.approx(0.45)
    assert step.action[0] in (0, 1)
    assert np.array_equal(step.agent_info.action_probs[0], np.eye(6)[step.action[0]])  # no visits
    assert agent.forward_calls == 1 and agent.search_steps == 1
    m = agent.step_metrics[0]
    assert (m["n_passes"], m["tree_size"], m["nodes_expanded"], m["model_steps"]) == (1, 3, 1, 6)
    assert m["depth"] == 0 and m["root_value"] == pytest.approx(0.45)


def test_second_pass_backs_up_reward_plus_discounted_value():
    envs = hanoi(2)
    agent = DeterministicMctsAgent(
        n_passes=2, discount=0.9, exploration_weight=0.0, ModelCls=ConstantModel,
        model_kwargs=dict(value=0.5),
    )  # fmt: skip
    bind(agent, envs, seed=3)
    root, step = first_search(agent, envs)
    # Pass 2 takes move 0 or 1 (tied), expands that child: one new state rated 0.5, its
    # best non-looping move is worth 0.9 * 0.5. Child: mean(0.5, 0.45); root: mean(0.45,
    # 0 + 0.9 * 0.45).
    a = int(np.argmax(root.edge_visits))
    assert root.edge_visits.tolist() == np.eye(6, dtype=int)[a].tolist()
    child = root.children[a]
    assert child.visits == 2 and child.value == pytest.approx((0.5 + 0.45) / 2)
    assert root.value == pytest.approx((0.45 + 0.405) / 2)
    assert step.agent_info.qualities[0][a] == pytest.approx(0.9 * (0.5 + 0.45) / 2)
    assert np.array_equal(step.agent_info.action_probs[0], np.eye(6)[a])
    assert agent.step_metrics[0]["depth"] == 1 and agent.step_metrics[0]["tree_size"] == 4


def test_a_move_that_ends_the_episode_is_worth_its_reward():
    envs = hanoi(2)
    agent = DeterministicMctsAgent(
        n_passes=1, discount=0.9, exploration_weight=0.0, ModelCls=ConstantModel,
        model_kwargs=dict(value=0.5),
    )  # fmt: skip
    bind(agent, envs)
    envs[0].reset()
    envs[0].step(np.int64(0))  # (1, 0)
    observation = envs[0].step(np.int64(1)).observation  # (1, 2): move 3 solves
    step = agent.step(observation[None], None, None)
    assert step.action[0] == 3
    assert step.agent_info.qualities[0][3] == pytest.approx(1.0)  # reward only
    assert step.agent_info.value[0] == pytest.approx(1.0)


def test_transposition_two_move_orders_share_one_node():
    envs = hanoi(2)
    agent = DeterministicMctsAgent(n_passes=30, leaf="rollout", rollout_time_limit=5)
    bind(agent, envs)
    root, _ = first_search(agent, envs)
    via_1 = root.children[1]  # disk 0 to peg 2 ...
    via_0_then_3 = root.children[0].children[3]  # ... or to peg 1, then on to peg 2
    assert via_1 is via_0_then_3 and via_1.key == key_of((2, 0))
    assert root.children[2] is root  # an invalid move loops onto the same node
    assert len(agent.table_of(0)) <= 9  # 3**2 states, one node each


def test_table_kept_over_the_episode_and_cleared_on_reset():
    envs = hanoi(3)
    agent = DeterministicMctsAgent(n_passes=5, leaf="rollout", rollout_time_limit=5)
    bind(agent, envs)
    root, step = first_search(agent, envs)
    assert root.edge_visits.sum() == 5 - 1  # the first pass expands the new root
    child = root.children[int(step.action[0])]
    visits_before = child.edge_visits.sum() if child.expanded else 0
    observation = envs[0].step(step.action[0]).observation
    agent.step(observation[None], None, None)
    assert agent.table_of(0)[observation.tobytes()] is child  # the tree is reused
    assert child.edge_visits.sum() == visits_before + 5  # + one per pass, the root known
    agent.reset_one(0)
    assert agent.table_of(0) == {}


def test_loop_avoidance_never_goes_back_to_a_real_state():
    envs = hanoi(2)
    kwargs = dict(n_passes=40, exploration_weight=5.0, ModelCls=ConstantModel)
    agent = DeterministicMctsAgent(**kwargs)
    bind(agent, envs)
    envs[0].reset()
    agent.reset()
    agent.step(envs[0].reset()[None], None, None)  # the start (0, 0) is now a real state
    observation = envs[0].step(np.int64(1)).observation  # (2, 0)
    agent.step(observation[None], None, None)
    root = agent.table_of(0)[observation.tobytes()]
    assert root.children[4].key == key_of((0, 0))  # move 4 goes back to the start
    assert root.edge_visits[4] == 0 and root.edge_visits.sum() >= 40  # + the first step's
    # Without loop avoidance the strong exploration tries it.
    agent = DeterministicMctsAgent(**kwargs, avoid_loops=False)
    bind(agent, envs)
    envs[0].reset()
    agent.reset()
    agent.step(envs[0].reset()[None], None, None)
    observation = envs[0].step(np.int64(1)).observation
    agent.step(observation[None], None, None)
    assert agent.table_of(0)[observation.tobytes()].edge_visits[4] > 0


class Corridor(gym.Env):
    """Cells 0..n-1, action 0 left, 1 right (a wall at both ends); no reward, no end."""

    def __init__(self, n=3):
        self.n = n
        self.observation_space = gym.spaces.Box(0.0, 1.0, (n,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.cell = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell = 0
        return self._obs(), {}

    def step(self, action):
        self.cell = min(max(self.cell + (1 if action == 1 else -1), 0), self.n - 1)
        return self._obs(), 0.0, False, False, {}

    def _obs(self):
        return np.eye(self.n, dtype=np.float32)[self.cell]

    def clone_state(self):
        return self.cell

    def restore_state(self, state):
        self.cell = state


def test_dead_end_value_is_backed_up():
    envs = [GymEnvWrapper(Corridor(2))]
    agent = DeterministicMctsAgent(
        n_passes=3, discount=0.9, dead_end_value=-3.0, exploration_weight=0.0,
        ModelCls=ConstantModel, model_kwargs=dict(value=0.5),
    )  # fmt: skip
    bind(agent, envs)
    root, _ = first_search(agent, envs)
    cell1 = root.children[1]
    # Pass 1 expands cell 0 (left stays: a loop; right: cell 1, rated 0.5). Passes 2 and 3
    # go right; at cell 1 left returns to the path and right stays: a dead end, worth -3.
    assert root.children[0] is root and root.edge_visits.tolist() == [0, 2]
    assert cell1.visits == 3 and cell1.value == pytest.approx((0.5 - 3.0 - 3.0) / 3)
    assert root.value == pytest.approx((0.9 * 0.5 + 0.9 * -3.0 * 2) / 3)
    assert agent.step_metrics[0]["depth"] == 1


def test_finds_the_optimal_plan_of_hanoi_3():
    for leaf, kwargs in (("value", dict(ModelCls=ConstantModel)), ("rollout", {})):
        envs = hanoi(3)
        agent = DeterministicMctsAgent(n_passes=100, discount=0.9, leaf=leaf, **kwargs)
        bind(agent, envs, seed=1)
        (episode,), _ = play(agent, envs)
        assert episode.solved and episode.length == 7, (leaf, episode.actions)


def test_untrained_network_solves_hanoi_3():
    envs = hanoi(3, n_envs=2)
    agent = DeterministicMctsAgent(n_passes=20, ModelCls=PlanningMlpModel)
    bind(agent, envs, seed=2)
    episodes, _ = play(agent, envs, max_steps=100)
    assert all(e.solved for e in episodes)


def test_one_forward_per_search_step_for_all_envs():
    class Recording(DeterministicMctsAgent):
        batch_sizes = []

        def evaluate(self, observations):
            self.batch_sizes.append(len(observations))
            return super().evaluate(observations)

    n_envs, n_passes = 4, 6
    envs = hanoi(4, n_envs=n_envs)
    agent = Recording(n_passes=n_passes, ModelCls=PlanningMlpModel)
    bind(agent, envs, seed=0)
    observation = np.stack([env.reset() for env in envs])
    agent.reset()
    for _ in range(3):
        calls, steps = agent.forward_calls, agent.search_steps
        step = agent.step(observation, None, None)
        # One forward per search step (each pass yields at most once), not one per env.
        assert agent.forward_calls - calls == agent.search_steps - steps <= n_passes
        observation = np.stack([env.step(a).observation for env, a in zip(envs, step.action)])
    assert max(agent.batch_sizes) > 2  # the new nodes of several envs in one batch


def test_same_seed_same_actions():
    runs = []
    for _ in range(2):
        envs = hanoi(3, n_envs=2)
        agent = DeterministicMctsAgent(n_passes=8, leaf="rollout", rollout_time_limit=10)
        bind(agent, envs, seed=5)
        episodes, _ = play(agent, envs, max_steps=30)
        runs.append([e.actions for e in episodes])
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_passes=0), "n_passes must be an integer >= 1"),
        (dict(discount=1.5), "discount must be a number in"),
        (dict(leaf="tree"), "leaf must be one of"),
        (dict(action_selection="best"), "action_selection must be one of"),
        (dict(state_key="hash"), "state_key must be one of"),
        (dict(exploration_weight=-1), "exploration_weight"),
        (dict(leaf="value"), "ModelCls is None"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    kwargs = {"leaf": "rollout", **kwargs}
    with pytest.raises(ValueError, match=match):
        DeterministicMctsAgent(**kwargs)


def test_network_without_value_head_refused():
    agent = DeterministicMctsAgent(ModelCls=PlanningMlpModel, model_kwargs=dict(heads=("q",)))
    with pytest.raises(ValueError, match=r"'value'.*head"):
        agent.initialize(hanoi(2)[0].spaces)


def test_without_loop_avoidance_a_cycle_ends_the_pass():
    # Corridor(2): both cells are expanded after two passes, so the third pass can only go
    # round a cycle; it ends at the move that closes it, with that move's Q as its sample.
    envs = [GymEnvWrapper(Corridor(2))]
    agent = DeterministicMctsAgent(
        n_passes=3, discount=0.9, exploration_weight=0.0, avoid_loops=False,
        ModelCls=ConstantModel, model_kwargs=dict(value=0.5),
    )  # fmt: skip
    bind(agent, envs)
    root, _ = first_search(agent, envs)
    cell1 = root.children[1]
    # Pass 1 expands cell 0: left loops back to the unrated root (left out), right: 0.45.
    # Pass 2 goes right, expands cell 1: max(0.9 * 0.45, 0.9 * 0.5) = 0.45.
    # Pass 3 goes right, right again: back to cell 1, Q = 0.9 * (0.5 + 0.45) / 2 = 0.4275.
    assert root.children[0] is root and cell1.children[1] is cell1
    assert root.edge_visits.tolist() == [0, 2] and cell1.edge_visits.tolist() == [0, 1]
    assert cell1.visits == 3 and cell1.value == pytest.approx((0.5 + 0.45 + 0.4275) / 3)
    assert root.visits == 3
    assert root.value == pytest.approx((0.45 + 0.9 * 0.45 + 0.9 * 0.4275) / 3)
    assert agent.step_metrics[0]["depth"] == 2
