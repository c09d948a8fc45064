"""Best-first search (as in Trust-but-Verify, Czechowski et al. 2021): expand the most
promising node of a fringe, rated by a value network."""

import heapq
import math
import pickle

import numpy as np

from rlpyt.agents.planning.base import PlanningAgent, SearchResult
from rlpyt.utils.validation import require_in_range, require_int_at_least, require_non_negative

__all__ = ["BestFirstSearchAgent"]

HEURISTICS = ("value", "value_plus_bonus")
TRANSPOSITIONS = ("observation", "state")


class BestFirstSearchAgent(PlanningAgent):
    """Best-first search with a value network and a budget of expansions per real step.

    Each real step builds a search graph from the real state. A *fringe* (priority
    queue) holds the nodes not yet expanded, keyed by the heuristic ``h``; each
    expansion pops the best one, steps the model with every action from its state,
    and adds each child whose state is not yet in the graph (a transposition table).
    The new children's values come from one network request (batched with the other
    envs' requests by the base). Children whose episode ended are leaves: they are
    rated, never expanded. After ``n_expansions`` expansions (or an empty fringe) the
    agent takes the first action on the path to the best node found (the one of
    highest ``h``, excluding the root; the earlier found wins a tie). A child reached
    with ``done`` and ``env_info.solved`` is a goal: the search stops at once and the
    agent follows the path to it.

    The value of a node is the network's ``V(observation)``; for a node whose episode
    terminated (not a time-limit cut, which is rated by ``V``) it is the reward of
    the step into it (its future is empty; the reward says whether reaching it is
    good). The heuristic ``h`` is

    * ``"value"``: the node's value;
    * ``"value_plus_bonus"``: value + ``bonus_weight / sqrt(1 + n)``, ``n`` = how often
      the real episode has been in the node's state (counted at each real step, kept
      per env and cleared by ``reset_one``): states already visited lose their bonus,
      so the agent does not walk in loops.

    **Transpositions.** Nodes are keyed by ``transposition``:

    * ``"observation"`` (default): the observation's bytes. The planning envs observe
      their whole state, and their ``clone_state`` includes step counters (the
      gymnasium ``TimeLimit``'s elapsed steps, BitFlipper's and Sokoban's own), so
      the same position reached at two depths would have two different states;
    * ``"state"``: ``clone_state()`` itself when hashable, else its pickle (bytes):
      for envs whose observation is not the whole state.

    Reported: ``value`` = the discounted return along the path to the chosen node plus
    ``discount**depth * V`` of its end (no ``V`` for a terminal end); ``qualities[a]`` =
    the same for the best node whose path starts with ``a`` (NaN where the graph has
    none, e.g. a move that leaves the state unchanged); one-hot ``action_probs``.
    Metrics per real step: ``nodes_expanded``, ``tree_size`` (nodes in the graph, the
    root included), ``depth`` (of the chosen node), ``model_steps``, ``goal_found``
    (1 when the search reached a solved state), ``root_value``.

    Args:
        n_expansions: node expansions per real step.
        heuristic: ``"value"`` or ``"value_plus_bonus"``.
        bonus_weight: the bonus's weight (``"value_plus_bonus"``).
        discount: of the path returns in ``value`` and ``qualities``.
        transposition: ``"observation"`` or ``"state"``, see above.
        ModelCls, model_kwargs, initial_model_state_dict: the network, with a value head.
    """

    def __init__(
        self,
        *,
        n_expansions: int = 10,
        heuristic: str = "value_plus_bonus",
        bonus_weight: float = 1.0,
        discount: float = 0.99,
        transposition: str = "observation",
        ModelCls,
        model_kwargs=None,
        initial_model_state_dict=None,
    ):
        if ModelCls is None:
            raise ValueError(
                "BestFirstSearchAgent needs a value network: pass ModelCls "
                "(e.g. rlpyt.models.planning.PlanningMlpModel)"
            )
        self.n_expansions = require_int_at_least("n_expansions", n_expansions, 1)
        if heuristic not in HEURISTICS:
            raise ValueError(
                f"BestFirstSearchAgent: heuristic must be one of {HEURISTICS}, got {heuristic!r}"
            )
        if transposition not in TRANSPOSITIONS:
            raise ValueError(
                f"BestFirstSearchAgent: transposition must be one of {TRANSPOSITIONS}, "
                f"got {transposition!r}"
            )
        require_non_negative("bonus_weight", bonus_weight)
        require_in_range("discount", discount, 0.0, 1.0)
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs=model_kwargs,
            initial_model_state_dict=initial_model_state_dict,
        )
        self.heuristic = heuristic
        self.bonus_weight = float(bonus_weight) if heuristic == "value_plus_bonus" else 0.0
        self.discount = float(discount)
        self.transposition = transposition
        self._visits = {}  # env id -> {node key: real steps spent in that state this episode}

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        self.require_heads(("value",), f"heuristic={self.heuristic!r}")

    def reset_one(self, idx):
        self._visits[idx] = {}

    def search(self, env_id: int, observation):
        model = self.model_of(env_id)
        visits = self._visits.setdefault(env_id, {})
        root = _Node(model.clone_state(), observation, None, None, 0.0, 1.0, order=0)
        root_key = self._key(root.observation, root.state)
        visits[root_key] = visits.get(root_key, 0) + 1
        graph = {root_key: root}
        found = []  # non-root nodes, in the order found
        fringe = [(0.0, 0, root)]  # (-h, order found, node): best h first, earlier on ties
        expanded = model_steps = 0
        goal = None
        while fringe and expanded < self.n_expansions and goal is None:
            node = heapq.heappop(fringe)[2]
            expanded += 1
            new = []
            for action in range(self.n_actions):
                model.restore_state(node.state)
                step = model.step(action)
                model_steps += 1
                state = model.clone_state() if self.transposition == "state" else None
                key = self._key(step.observation, state)
                if key in graph:
                    continue
                child = _Node(
                    state if state is not None else model.clone_state(),
                    step.observation,
                    node,
                    action,
                    node.ret + node.discount * float(step.reward),
                    node.discount * self.discount,
                    order=len(found) + 1,
                )
                child.key = key
                graph[key] = child
                found.append(child)
                new.append(child)
                if step.done and not bool(getattr(step.env_info, "timeout", False)):
                    child.terminal = True
                    child.value = float(step.reward)
                    if bool(getattr(step.env_info, "solved", False)):
                        goal = child
                        goal.h = math.inf  # the best node there can be
                        break
                child.leaf = bool(step.done)
            if goal is not None:
                break
            rated = [c for c in new if not c.terminal]
            if rated:
                values = (yield np.stack([c.observation for c in rated]))["value"]
                for c, v in zip(rated, values, strict=True):
                    c.value = float(v)
            for c in new:
                c.h = c.value + self._bonus(visits.get(c.key, 0))
                if not c.leaf and not c.terminal:
                    heapq.heappush(fringe, (-c.h, c.order, c))
        return self._result(goal, found, expanded, len(graph), model_steps)

    def _result(self, goal, found, expanded, tree_size, model_steps) -> SearchResult:
        qualities = np.full(self.n_actions, np.nan)
        best_of_action = {}
        for node in found:  # in the order found: on ties the earlier stays
            if math.isnan(node.h):  # found in the expansion that reached a goal: unrated
                continue
            a = node.first_action
            if a not in best_of_action or node.h > best_of_action[a].h:
                best_of_action[a] = node
        for a, node in best_of_action.items():
            qualities[a] = node.estimate
        chosen = goal
        if chosen is None and best_of_action:
            chosen = min(best_of_action.values(), key=lambda n: (-n.h, n.order))
        if chosen is None:  # every action leads back to the root: nothing to prefer
            action, value, depth = int(self.rng.integers(self.n_actions)), math.nan, 0
        else:
            action, value, depth = chosen.first_action, chosen.estimate, chosen.depth
        return SearchResult(
            action=action,
            value=value,
            qualities=qualities.astype(np.float32),
            metrics={
                "nodes_expanded": float(expanded),
                "tree_size": float(tree_size),
                "depth": float(depth),
                "model_steps": float(model_steps),
                "goal_found": float(goal is not None),
                "root_value": value,
            },
        )

    def _bonus(self, visits: int) -> float:
        return self.bonus_weight / math.sqrt(1.0 + visits) if self.bonus_weight else 0.0

    def _key(self, observation, state):
        if self.transposition == "observation":
            return np.asarray(observation).tobytes()
        try:
            hash(state)
        except TypeError:  # e.g. gymnasium classic control: numpy arrays and a generator
            return pickle.dumps(state)
        return state


class _Node:
    """A node of the search graph (a state reached from the root by a path of actions)."""

    def __init__(self, state, observation, parent, action, ret, discount, order):
        self.state = state  # the model's clone_state()
        self.observation = observation
        # The first action on the path from the root (None for the root).
        self.first_action = (
            action if parent is None or parent.first_action is None else (parent.first_action)
        )
        self.depth = 0 if parent is None else parent.depth + 1
        self.ret = ret  # discounted return of the path from the root
        self.discount = discount  # discount ** depth
        self.value = math.nan
        self.h = math.nan
        self.terminal = False  # the episode terminated on entering it
        self.leaf = False  # the episode ended on entering it (terminated or time limit)
        self.key = None
        self.order = order  # 0 for the root, then 1, 2, ... in the order found

    @property
    def estimate(self) -> float:
        """The path's return plus the discounted value of its end (none for a terminal)."""
        return self.ret if self.terminal else self.ret + self.discount * self.value
