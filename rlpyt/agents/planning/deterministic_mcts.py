"""MCTS for deterministic envs, with a transposition table and loop avoidance.

The search of one real step runs ``n_passes`` passes from the real state (the
root). The tree is a graph: one :class:`Node` per distinct state, found through a
transposition table that lives for the whole episode (two move orders that reach
one state share its node, and the tree of the previous real step is reused).

A node's value ``V(s)`` is the mean of the value samples it received: its rating
when it was created (one sample) and one sample per pass that ended at or went
through it. The quality of an action is ``Q(s, a) = r(s, a) + discount * V(s')``,
or ``r(s, a)`` where the move ends the episode (the env's termination or time
limit: nothing more is collected, so no node is made for the next state).

One pass:

1. **Selection.** From the root, follow the action maximising the UCT score
   ``Q(s, a) + exploration_weight * sqrt(log N(s)) / (1 + n(s, a))`` (``N(s)``:
   the node's number of samples; ``n(s, a)``: passes that took ``a`` at ``s``;
   exact ties broken at random) until an unexpanded node, or a move that ends the
   episode. Without loop avoidance, a move back to a node of the pass's path closes
   a cycle and also ends the pass, with the sample ``Q(s, a)`` at the node it leaves
   (values change only in the backup, so selection would otherwise go round the
   cycle forever).
2. **Loop avoidance** (``avoid_loops``). A move whose next state is already on the
   pass's path, or was a real state of this episode, is not a candidate (in
   selection, in the leaf's backup and in the choice of the real action). Loops
   never pay in a deterministic env whose rewards do not depend on time, and the
   trajectory rule stops the agent from walking back and forth between real steps.
   A node with no candidate left is a dead end: the pass ends there with the value
   ``dead_end_value``, so the search turns to new states (Alpacka's choice, too).
3. **Expansion.** Step the model once per action from the leaf (restoring the
   leaf's state before each). Next states not in the table become nodes, rated by
   the leaf rater: the value network (all new nodes of the pass in one batch: one
   ``yield``; its output is used as is) or ``leaf="rollout"``, the discounted
   return of ``n_leaf_rollouts`` random rollouts of at most ``rollout_time_limit``
   steps, averaged (no network).
4. **Backup.** The leaf's sample is ``max_a Q(leaf, a)`` over its candidate moves
   (a one-step lookahead on the ratings just made; ``r(s, a)`` for a move that ends
   the episode, ``dead_end_value`` when there is none; a move into a node without a
   sample yet, i.e. back to the new root in the first pass, is left out). Each node
   above on the path gets ``r(s, a) + discount * (the sample of the node below)``.

The real action is the root's candidate move with the largest ``Q`` (``action_selection="value"``)
or the most passes (``"visits"``).

States are identified by ``state_key``: ``"observation"`` (default) keys on the bytes
of the observation, right for envs whose observation is their whole state except
for step counters (all of :mod:`rlpyt.envs.planning`): the model's ``clone_state()``
includes the step counters of time limits (gymnasium's ``TimeLimit``), so no two
states reached at different times would share a node. ``"clone_state"`` keys on the
model's ``clone_state()`` itself (which must then be hashable). A node keeps the
``clone_state()`` of the first path that reached it, and expansions restore it: with
``"observation"`` keys, the time counter of that path.
"""

import math

import numpy as np

from rlpyt.agents.planning.base import PlanningAgent, SearchResult
from rlpyt.agents.planning.tree_search import (
    SearchCounters,
    argmax_random_tie,
    check_choice,
    check_int,
    check_number,
    random_rollout_return,
    require_heads,
)

__all__ = ["DeterministicMctsAgent", "Node"]

LEAF_RATERS = ("value", "rollout")
ACTION_SELECTIONS = ("value", "visits")
STATE_KEYS = ("observation", "clone_state")


class Node:
    """One state of a deterministic search graph.

    ``value_sum / visits`` is ``V(s)``. After expansion, ``rewards``, ``done`` and
    ``children`` hold one entry per action (``children[a]`` is None where the move ends
    the episode), and ``edge_visits[a]`` counts the passes that took ``a`` here.
    """

    __slots__ = (
        "key", "state", "observation", "value_sum", "visits",
        "children", "rewards", "done", "edge_visits",
    )  # fmt: skip

    def __init__(self, key, state, observation):
        self.key = key
        self.state = state
        self.observation = observation
        self.value_sum = 0.0
        self.visits = 0
        self.children = None  # None until expanded
        self.rewards = None
        self.done = None
        self.edge_visits = None

    @property
    def expanded(self) -> bool:
        return self.children is not None

    @property
    def value(self) -> float:
        return self.value_sum / self.visits if self.visits else math.nan

    def add_sample(self, value: float) -> None:
        self.value_sum += value
        self.visits += 1


class DeterministicMctsAgent(PlanningAgent):
    """MCTS with a transposition table and loop avoidance (see the module docstring).

    Args:
        n_passes: passes per real step (>= 1).
        discount: in [0, 1].
        exploration_weight: the UCT constant (>= 0; 0: greedy in ``Q``).
        leaf: ``"value"`` (the network's value head rates new nodes) or ``"rollout"``.
        n_leaf_rollouts, rollout_time_limit: the random rollouts of ``leaf="rollout"``.
        avoid_loops: exclude moves into the path or the episode's real states.
        dead_end_value: the value sample of a node with no move left (``avoid_loops``).
        action_selection: ``"value"`` (largest ``Q`` at the root) or ``"visits"``.
        state_key: ``"observation"`` or ``"clone_state"`` (what identifies a state).
        ModelCls, model_kwargs, initial_model_state_dict: the network
            (:class:`~rlpyt.agents.planning.base.PlanningAgent`); needed for ``leaf="value"``.
    """

    def __init__(
        self,
        *,
        n_passes: int = 10,
        discount: float = 0.99,
        exploration_weight: float = 1.0,
        leaf: str = "value",
        n_leaf_rollouts: int = 1,
        rollout_time_limit: int = 100,
        avoid_loops: bool = True,
        dead_end_value: float = -1.0,
        action_selection: str = "value",
        state_key: str = "observation",
        ModelCls=None,
        model_kwargs=None,
        initial_model_state_dict=None,
    ):
        name = type(self).__name__
        self.n_passes = check_int(name, "n_passes", n_passes, 1)
        self.discount = check_number(name, "discount", discount, 0.0, 1.0)
        self.exploration_weight = check_number(name, "exploration_weight", exploration_weight, 0.0)
        self.leaf = check_choice(name, "leaf", leaf, LEAF_RATERS)
        self.n_leaf_rollouts = check_int(name, "n_leaf_rollouts", n_leaf_rollouts, 1)
        self.rollout_time_limit = check_int(name, "rollout_time_limit", rollout_time_limit, 1)
        self.avoid_loops = bool(avoid_loops)
        self.dead_end_value = check_number(name, "dead_end_value", dead_end_value, -math.inf)
        self.action_selection = check_choice(
            name, "action_selection", action_selection, ACTION_SELECTIONS
        )
        self.state_key = check_choice(name, "state_key", state_key, STATE_KEYS)
        if leaf == "value" and ModelCls is None:
            raise ValueError(
                f"{name}: leaf='value' rates new nodes with a value network, but ModelCls "
                "is None: give ModelCls (e.g. PlanningMlpModel) or use leaf='rollout'"
            )
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs=model_kwargs,
            initial_model_state_dict=initial_model_state_dict,
        )
        self._tables = {}  # env id -> {state key: Node}, for the episode
        self._trajectories = {}  # env id -> keys of the episode's real states

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        if self.leaf == "value":
            require_heads(self, self.model, ("value",), "leaf='value'")

    def reset_one(self, idx):
        """A new episode of env ``idx``: forget its transposition table and trajectory."""
        self._tables[idx] = {}
        self._trajectories[idx] = set()

    def table_of(self, env_id: int) -> dict:
        """The transposition table of env ``env_id``'s episode (state key -> :class:`Node`)."""
        return self._tables[env_id]

    # -- the search ------------------------------------------------------------

    def search(self, env_id, observation):
        model = self.model_of(env_id)
        table = self._tables.setdefault(env_id, {})
        trajectory = self._trajectories.setdefault(env_id, set())
        counters = SearchCounters()
        root_key = self._key(observation, model)
        root = table.get(root_key)
        if root is None:
            root = table[root_key] = Node(root_key, model.clone_state(), np.array(observation))
        trajectory.add(root_key)
        for _ in range(self.n_passes):
            yield from self._pass(root, model, table, trajectory, counters)
        counters.n_passes = self.n_passes
        qualities = self._qualities(root)
        candidates = self._candidates(root, {root_key}, trajectory)
        if not any(candidates):  # every move loops: the least bad one
            candidates = [True] * self.n_actions
        if self.action_selection == "value":
            scores = qualities.tolist()
        else:
            scores = root.edge_visits.astype(np.float64).tolist()
        action = argmax_random_tie(
            [s if c else -math.inf for s, c in zip(scores, candidates, strict=True)], self.rng
        )
        visits = root.edge_visits.sum()
        return SearchResult(
            action=action,
            value=root.value,
            action_probs=root.edge_visits / visits if visits else None,
            qualities=qualities,
            metrics=counters.metrics(len(table), root.value),
        )

    # The per-node steps below (candidates, qualities, UCT scores) run once per node on a
    # pass's path, so they loop over the few actions in plain Python: numpy's per-call
    # overhead on [A] arrays cost more than the arithmetic (same float64 operations).

    def _pass(self, root, model, table, trajectory, counters):
        """One pass: select, expand (one yield when the network rates new nodes), back up."""
        path, actions = [root], []
        on_path = {root.key}
        node = root
        while node.expanded:
            action = self._select(node, on_path, trajectory)
            if action is None:  # a dead end
                tail = self.dead_end_value
                break
            actions.append(action)
            if node.done[action]:
                tail = node.rewards[action]  # the episode ends: the reward only
                break
            child = node.children[action]
            if child.key in on_path:  # a cycle (only without avoid_loops)
                tail = node.rewards[action] + self.discount * child.value
                break
            node = child
            path.append(node)
            on_path.add(node.key)
        else:
            yield from self._expand(node, model, table, counters)
            tail = self._leaf_sample(node, on_path, trajectory)
        counters.depth = max(counters.depth, len(actions))
        self._backup(path, actions, tail)

    def _candidates(self, node, on_path, trajectory) -> list:
        """[A] bools: the moves that do not loop back (all moves without avoid_loops)."""
        if not self.avoid_loops:
            return [True] * len(node.children)
        return [
            done or (child.key not in on_path and child.key not in trajectory)
            for child, done in zip(node.children, node.done, strict=True)
        ]

    def _quality_list(self, node) -> list:
        """[A] ``Q(s, a)`` of an expanded node, as floats."""
        discount = self.discount
        return [
            r if done else r + discount * child.value
            for r, done, child in zip(node.rewards, node.done, node.children, strict=True)
        ]

    def _qualities(self, node) -> np.ndarray:
        """[A] ``Q(s, a)`` of an expanded node (NaN for an unexpanded one)."""
        if not node.expanded:
            return np.full(self.n_actions, np.nan)
        return np.array(self._quality_list(node))

    def _leaf_sample(self, node, on_path, trajectory) -> float:
        """``max_a Q(leaf, a)`` over the candidate moves into nodes that have a value;
        ``dead_end_value`` when there is none."""
        qualities = [
            q
            for q, c in zip(
                self._quality_list(node), self._candidates(node, on_path, trajectory), strict=True
            )
            if c and q == q  # NaN: a node without a sample (the root, in the first pass)
        ]
        return max(qualities) if qualities else self.dead_end_value

    def _select(self, node, on_path, trajectory) -> int | None:
        """The UCT move at an expanded node (see the module docstring); None at a dead end.

        The scores of :meth:`_quality_list` and :meth:`_candidates` in one loop (the hot
        spot of a search): ``-inf`` for the moves that are not candidates.
        """
        weight = self.exploration_weight * (
            math.sqrt(math.log(node.visits)) if node.visits > 1 else 0.0
        )
        discount, avoid_loops, minus_inf = self.discount, self.avoid_loops, -math.inf
        scores, dead_end = [], True
        for r, done, child, n in zip(
            node.rewards, node.done, node.children, node.edge_visits.tolist(), strict=True
        ):
            if done:
                scores.append(r + weight / (1 + n))
            elif avoid_loops and (child.key in on_path or child.key in trajectory):
                scores.append(minus_inf)
                continue
            else:
                visits = child.visits
                value = child.value_sum / visits if visits else math.nan
                scores.append(r + discount * value + weight / (1 + n))
            dead_end = False
        if dead_end:
            return None
        return argmax_random_tie(scores, self.rng)

    def _expand(self, node, model, table, counters):
        """Step the model once per action from ``node``; rate the new next states."""
        n = self.n_actions
        node.children, node.rewards, node.done = [None] * n, [0.0] * n, [False] * n
        node.edge_visits = np.zeros(n, dtype=np.int64)
        new = []
        for a in range(n):
            model.restore_state(node.state)
            step = model.step(a)
            counters.model_steps += 1
            node.rewards[a] = float(step.reward)
            if step.done:
                node.done[a] = True
                continue
            key = self._key(step.observation, model)
            child = table.get(key)
            if child is None:
                child = table[key] = Node(key, model.clone_state(), np.array(step.observation))
                new.append(child)
                if self.leaf == "rollout":
                    child.add_sample(self._rollout_value(model, child.state, counters))
            node.children[a] = child
        counters.nodes_expanded += 1
        if new and self.leaf == "value":
            outputs = yield np.stack([c.observation for c in new])
            for child, value in zip(new, outputs["value"].tolist(), strict=True):
                child.add_sample(value)

    def _rollout_value(self, model, state, counters) -> float:
        total = 0.0
        for i in range(self.n_leaf_rollouts):
            if i:
                model.restore_state(state)
            ret, steps = random_rollout_return(
                model, self.rng, self.n_actions, self.rollout_time_limit, self.discount
            )
            total += ret
            counters.model_steps += steps
        return total / self.n_leaf_rollouts

    def _backup(self, path, actions, tail: float) -> None:
        """``tail`` is the last node's sample; each node above gets r + discount * sample."""
        value = tail
        path[-1].add_sample(value)
        if len(actions) == len(path):  # the pass ended with a move (episode end or cycle)
            path[-1].edge_visits[actions[-1]] += 1
        for node, action in zip(reversed(path[:-1]), reversed(actions[: len(path) - 1])):
            value = node.rewards[action] + self.discount * value
            node.add_sample(value)
            node.edge_visits[action] += 1

    def _key(self, observation, model):
        if self.state_key == "observation":
            return np.asarray(observation).tobytes()
        return model.clone_state()
