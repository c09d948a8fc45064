"""MCTS for stochastic envs: PUCT over decision nodes, chance outcomes sampled by the model.

The search of one real step builds a fresh tree from the real state (the root) in
``n_passes`` simulations. An action of a decision node leads to a *chance node*:
a distribution over outcome decision nodes, one per distinct observed result
``(next observation, reward, done)`` of taking it. States are not merged (no
transposition table): an outcome is only known by simulating.

**Each simulation samples the chance.** It restores the model to the root's state
and re-seeds the model's random generator from the agent's (``self.rng``), then
steps the model along the tree. Restoring alone would not do: the model's state
includes its generator (``clone_state`` must make the next steps bit-identical), so
every simulation would draw the same outcome of each random transition (the same
slip on the ice, the same sticky action) and the tree would see one outcome per
action. The same holds for rollouts: each starts at a restored state, re-seeded.
See :meth:`rlpyt.envs.model.PerfectModel.reseed`; an env that cannot re-seed fails at
:meth:`bind_envs`.

One simulation:

1. **Selection** (PUCT). At a decision node take the action maximising
   ``Q(s, a) + exploration_weight * P(s, a) * sqrt(N(s)) / (1 + n(s, a))``
   (``N(s)``: simulations through the node; ``n(s, a)``: through the action; ``P``: the
   prior; exact ties broken at random), step the model, and go to the outcome node of
   the observed result, made if new. Stop at a new node, an unexpanded one, or when the
   episode ends (the env's termination or time limit).
2. **Expansion and rating** of the leaf (a node where the episode ended is worth 0):
   ``leaf="rollout"``: the mean discounted return of ``n_leaf_rollouts`` uniform random
   rollouts of at most ``rollout_time_limit`` steps; ``"value"``: the value head;
   ``"q"``: ``max_a`` of the Q head. The network is asked in one ``yield`` per
   simulation (with the policy head when ``prior="policy"``), its outputs used as is.
   The actions' prior is uniform or ``softmax(policy logits)``. Until an action has been
   tried, its ``Q`` is the Q head's value for it (``"q"``), else the leaf's value.
3. **Backup.** ``backup="average"`` (default, classic MCTS): the return sampled along
   the path, ``r_1 + discount * r_2 + ... + discount**k * leaf value``, is averaged into
   each action's ``Q`` and each node's value. ``backup="max"`` (expectimax on the tree):
   ``Q(s, a)`` is the mean over the action's outcome nodes, weighted by their visits, of
   ``r + discount * V(s')``, and ``V(s) = max`` of the tried actions' ``Q`` (a leaf's:
   its rating); it converges faster where the tree policy's averages lag the best action.

The real action is the root's action with the most simulations (``action_selection="visits"``,
default) or the largest ``Q`` among the tried ones (``"value"``). ``action_probs`` is the
root's visit distribution; ``qualities`` the root's ``Q`` (NaN for an action never tried).
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

__all__ = ["StochasticMctsAgent", "DecisionNode"]

LEAF_RATERS = ("rollout", "value", "q")
PRIORS = ("uniform", "policy")
ACTION_SELECTIONS = ("visits", "value")
BACKUPS = ("average", "max")
_SEED_HIGH = 2**63


class DecisionNode:
    """A state reached in simulation.

    After expansion: ``prior [A]``, ``q_init [A]`` (an untried action's Q), and per
    action ``visits [A]``, ``return_sum [A]`` and ``outcomes[a]``, a dict from the
    observed ``(observation bytes, reward, done)`` to the next :class:`DecisionNode`.
    """

    __slots__ = ("terminal", "visits", "value_sum", "max_value", "prior", "q_init",
                 "action_visits", "return_sum", "outcomes")  # fmt: skip

    def __init__(self, terminal: bool):
        self.terminal = terminal
        self.visits = 0
        self.value_sum = 0.0
        self.max_value = math.nan  # backup="max": V(s) = max of the tried actions' Q
        self.prior = None  # None until expanded
        self.q_init = None
        self.action_visits = None
        self.return_sum = None
        self.outcomes = None

    @property
    def expanded(self) -> bool:
        return self.prior is not None

    def value(self, backup: str = "average") -> float:
        """``V(s)``: the mean sampled return (``"average"``) or ``max_value`` (``"max"``)."""
        if backup == "max":
            return self.max_value
        return self.value_sum / self.visits if self.visits else math.nan

    def qualities(self) -> np.ndarray:
        """[A] ``Q(s, a)``: the mean sampled return, ``q_init`` for an untried action."""
        tried = self.action_visits > 0
        q = self.q_init.copy()
        q[tried] = self.return_sum[tried] / self.action_visits[tried]
        return q


class StochasticMctsAgent(PlanningAgent):
    """PUCT search with sampled chance outcomes (see the module docstring).

    Args:
        n_passes: simulations per real step (>= 1).
        discount: in [0, 1].
        exploration_weight: ``c_puct`` (>= 0).
        prior: ``"uniform"`` or ``"policy"`` (softmax of the network's policy head).
        leaf: ``"rollout"``, ``"value"`` or ``"q"`` (see the module docstring).
        n_leaf_rollouts, rollout_time_limit: the random rollouts of ``leaf="rollout"``.
        action_selection: ``"visits"`` or ``"value"``.
        backup: ``"average"`` or ``"max"`` (see the module docstring).
        ModelCls, model_kwargs, initial_model_state_dict: the network, needed for
            ``leaf`` ``"value"``/``"q"`` or ``prior="policy"`` (with those heads).
    """

    def __init__(
        self,
        *,
        n_passes: int = 100,
        discount: float = 0.99,
        exploration_weight: float = 1.0,
        prior: str = "uniform",
        leaf: str = "rollout",
        n_leaf_rollouts: int = 1,
        rollout_time_limit: int = 100,
        action_selection: str = "visits",
        backup: str = "average",
        ModelCls=None,
        model_kwargs=None,
        initial_model_state_dict=None,
    ):
        name = type(self).__name__
        self.n_passes = check_int(name, "n_passes", n_passes, 1)
        self.discount = check_number(name, "discount", discount, 0.0, 1.0)
        self.exploration_weight = check_number(name, "exploration_weight", exploration_weight, 0.0)
        self.prior = check_choice(name, "prior", prior, PRIORS)
        self.leaf = check_choice(name, "leaf", leaf, LEAF_RATERS)
        self.n_leaf_rollouts = check_int(name, "n_leaf_rollouts", n_leaf_rollouts, 1)
        self.rollout_time_limit = check_int(name, "rollout_time_limit", rollout_time_limit, 1)
        self.action_selection = check_choice(
            name, "action_selection", action_selection, ACTION_SELECTIONS
        )
        self.backup = check_choice(name, "backup", backup, BACKUPS)
        if self._heads() and ModelCls is None:
            raise ValueError(
                f"{name}: leaf={leaf!r}, prior={prior!r} need the network's "
                f"{list(self._heads())} head(s), but ModelCls is None: give ModelCls "
                "(e.g. PlanningMlpModel) or use leaf='rollout', prior='uniform'"
            )
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs=model_kwargs,
            initial_model_state_dict=initial_model_state_dict,
        )
        self.last_roots = {}  # env id -> the root DecisionNode of its last search (to inspect)

    def _heads(self) -> tuple:
        """The network heads the search reads."""
        heads = {"rollout": (), "value": ("value",), "q": ("q",)}[self.leaf]
        return heads + (("policy",) if self.prior == "policy" else ())

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        super().initialize(env_spaces, share_memory, global_B, env_ranks)
        if self._heads():
            require_heads(
                self, self.model, self._heads(), f"leaf={self.leaf!r}, prior={self.prior!r}"
            )

    def bind_envs(self, envs, seed=None) -> None:
        """As :meth:`PlanningAgent.bind_envs`; fails here for an env that cannot re-seed."""
        super().bind_envs(envs, seed)
        for b in range(len(self._envs)):
            model = self.model_of(b)
            model.reseed(0)  # raises CloneStateUnsupportedError naming the env
            model.catch_up(self._envs[b])

    # -- the search ------------------------------------------------------------

    def search(self, env_id, observation):
        model = self.model_of(env_id)
        root_state = model.clone_state()
        root = self.last_roots[env_id] = DecisionNode(terminal=False)
        counters = SearchCounters()
        size = [1]  # decision nodes in the tree
        for _ in range(self.n_passes):
            self._restore(model, root_state)
            yield from self._simulate(root, np.asarray(observation), model, counters, size)
        counters.n_passes = self.n_passes
        qualities = root.qualities()
        tried = root.action_visits > 0
        if self.action_selection == "visits":
            action = argmax_random_tie(root.action_visits.astype(np.float64), self.rng)
        else:
            action = argmax_random_tie(np.where(tried, qualities, -np.inf), self.rng)
        return SearchResult(
            action=action,
            value=root.value(self.backup),
            action_probs=root.action_visits / root.action_visits.sum(),
            qualities=np.where(tried, qualities, np.nan),
            metrics=counters.metrics(size[0], root.value(self.backup)),
        )

    def _restore(self, model, state) -> None:
        """Restore ``state``, then draw a fresh generator for the model's random transitions."""
        model.restore_state(state)
        model.reseed(int(self.rng.integers(_SEED_HIGH)))

    def _simulate(self, root, root_observation, model, counters, size):
        """One simulation from the root (the model at the root's state, re-seeded)."""
        path = []  # (node, action, reward) of each step
        node, observation = root, root_observation
        while node.expanded and not node.terminal:
            action = self._select(node)
            step = model.step(action)
            counters.model_steps += 1
            reward = float(step.reward)
            observation = np.asarray(step.observation)
            key = (observation.tobytes(), reward, bool(step.done))
            path.append((node, action, reward))
            child = node.outcomes[action].get(key)
            if child is None:
                child = node.outcomes[action][key] = DecisionNode(terminal=bool(step.done))
                size[0] += 1
                node = child
                break
            node = child
        counters.depth = max(counters.depth, len(path))
        if node.terminal:
            value = 0.0
        else:
            value = yield from self._expand(node, observation, model, counters)
        node.value_sum += value
        node.visits += 1
        node.max_value = value  # a leaf: its rating (0 where the episode ended)
        for parent, action, reward in reversed(path):
            value = reward + self.discount * value
            parent.value_sum += value
            parent.visits += 1
            parent.action_visits[action] += 1
            if self.backup == "average":
                parent.return_sum[action] += value
            else:
                parent.return_sum[action] = sum(
                    child.visits * (key[1] + self.discount * child.max_value)
                    for key, child in parent.outcomes[action].items()
                )
                tried = parent.action_visits > 0
                parent.max_value = float(parent.qualities()[tried].max())

    def _select(self, node) -> int:
        bonus = math.sqrt(node.visits) / (1 + node.action_visits)
        scores = node.qualities() + self.exploration_weight * node.prior * bonus
        return argmax_random_tie(scores, self.rng)

    def _expand(self, node, observation, model, counters):
        """Rate a new leaf and set up its actions; returns the leaf's value."""
        n = self.n_actions
        outputs = {}
        if self._heads():
            outputs = yield observation[None]
        if self.leaf == "rollout":
            value = self._rollout_value(model, counters)
            q_init = np.full(n, value)
        elif self.leaf == "value":
            value = float(outputs["value"][0])
            q_init = np.full(n, value)
        else:
            q_init = np.asarray(outputs["q"][0], dtype=np.float64)
            value = float(q_init.max())
        if self.prior == "policy":
            logits = np.asarray(outputs["policy"][0], dtype=np.float64)
            prior = np.exp(logits - logits.max())
            prior /= prior.sum()
        else:
            prior = np.full(n, 1.0 / n)
        node.prior, node.q_init = prior, q_init
        node.action_visits = np.zeros(n, dtype=np.int64)
        node.return_sum = np.zeros(n)
        node.outcomes = [{} for _ in range(n)]
        counters.nodes_expanded += 1
        return value

    def _rollout_value(self, model, counters) -> float:
        state = model.clone_state() if self.n_leaf_rollouts > 1 else None
        total = 0.0
        for i in range(self.n_leaf_rollouts):
            if i:
                self._restore(model, state)
            ret, steps = random_rollout_return(
                model, self.rng, self.n_actions, self.rollout_time_limit, self.discount
            )
            total += ret
            counters.model_steps += steps
        return total / self.n_leaf_rollouts
