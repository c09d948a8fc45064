"""MCTS for stochastic envs: PUCT over decision nodes, chance outcomes sampled by the model.

The search of one real step runs ``n_passes`` simulations from the real state (the
root). An action of a decision node leads to a *chance node*: a distribution over
outcome decision nodes, one per distinct observed result ``(next observation,
reward, done)`` of taking it, with the number of times each was observed. An outcome
is only known by simulating; its frequency estimates its probability.

**Transpositions** (``transpositions``). With ``"episode"`` (default) or ``"step"``
the search is a graph: outcomes with the same state, keyed by ``(observation bytes,
done)``, share one decision node and its statistics, whichever action or path led to
them; a table finds it. With ``"episode"`` the table lives for the whole episode
(forgotten at :meth:`~StochasticMctsAgent.reset_one`), so each real step starts from
what earlier steps learned about the states; with ``"step"`` each real step starts
afresh. Merging is right when the observation is the env's whole state apart from
step counters (FrozenLake, Taxi, the planning envs); it merges states that differ
only in the time a time limit counts (that path's node is shared). Use ``"none"``
(a tree: every outcome its own node) where the observation does not determine the
state, e.g. Atari with sticky actions (the repeated action is not in the frames).
With transpositions and ``backup="max"``, the search is asynchronous value iteration
on the empirical model of the visited states, which converges where a tree with a
dozen outcome branches per level would need far more simulations.

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
   the observed result (made if new). Stop at a node not yet expanded, when the
   episode ends (the env's termination or time limit), or after ``max_depth`` steps.
   With transpositions a path may go round a cycle (slipping back to a state already
   on it); each occurrence of a node on the path counts as one visit. Continuing
   through cycles, rather than ending the pass there, matters: on slippery FrozenLake
   most paths slip back within a few steps, and the passes that end there rarely
   sample the far states whose values the root's decision needs.
2. **Expansion and rating** of the leaf (a node where the episode ended is worth 0;
   one already expanded, where ``max_depth`` ended the path, its current value ``V``):
   ``leaf="rollout"``: the mean discounted return of ``n_leaf_rollouts`` uniform random
   rollouts of at most ``rollout_time_limit`` steps; ``"value"``: the value head;
   ``"q"``: ``max_a`` of the Q head. The network is asked in one ``yield`` per
   simulation (with the policy head when ``prior="policy"``), its outputs used as is.
   The actions' prior is uniform or ``softmax(policy logits)``. Until an action has been
   tried, its ``Q`` is the Q head's value for it (``"q"``), else the leaf's value.
3. **Backup.** ``backup="average"`` (default, classic MCTS): the return sampled along
   the path, ``r_1 + discount * r_2 + ... + discount**k * leaf value``, is averaged into
   each action's ``Q`` and each node's value. ``backup="max"`` (Bellman backups):
   ``Q(s, a) = sum_o n(s, a, o) (r_o + discount * V(s'_o)) / n(s, a)`` over the
   action's observed outcomes ``o`` (their counts ``n(s, a, o)``), computed from the
   outcomes' *current* values whenever it is read (a shared node's value changes
   through other paths too), and ``V(s) = max`` of the tried actions' ``Q``, updated
   for the path's nodes bottom-up (a leaf's: its rating until an action is tried).

The real action is the root's action with the most simulations (``action_selection="visits"``,
default) or the largest ``Q`` among the tried ones (``"value"``; the better choice with
``backup="max"``). ``action_probs`` is the root's visit distribution; ``qualities`` the
root's ``Q`` (NaN for an action never tried).

FrozenLake 4x4 slippery (the optimal policy succeeds in 74% of its 100-step episodes,
the random one in 1.5%), random rollout leaves, no network: ``n_passes=50,
max_depth=20, exploration_weight=1, discount=0.99, backup="max",
action_selection="value", rollout_time_limit=50, transpositions="episode"``
(``discount=1`` makes all first moves equal in value and fails: 0.51). Measured on
real episodes (seeds 0, 1, 2 of the test's play loop, 100 each): success 0.55, 0.72,
0.59, mean 0.62; the optimal policy on the same env seeds: 0.63, 0.75, 0.67 (the
episodes' slips make most of the spread). 0.035 s per real step on a lightly loaded core.
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
TRANSPOSITIONS = ("none", "step", "episode")
_SEED_HIGH = 2**63


class DecisionNode:
    """A state reached in simulation.

    After expansion, per action ``a`` (Python lists of length A): ``prior[a]``,
    ``q_init[a]`` (an untried action's Q), ``action_visits[a]`` (passes that took ``a``
    here), ``return_sum[a]`` (``backup="average"``: the sum of their sampled returns),
    ``outcomes[a]``, a dict from each observed outcome ``(observation bytes, reward,
    done)`` to its :class:`DecisionNode`, and ``outcome_visits[a]``, the same keys to
    the number of passes that took ``a`` here and observed that outcome. Without
    transpositions ``outcome_visits[a][key]`` is the child's ``visits``; with them a
    child shared by several parents (or reached again through a cycle) has more.
    """

    __slots__ = ("terminal", "visits", "value_sum", "max_value", "prior", "q_init",
                 "action_visits", "return_sum", "outcomes", "outcome_visits")  # fmt: skip

    def __init__(self, terminal: bool):
        self.terminal = terminal
        self.visits = 0  # passes that went through or ended at the node
        self.value_sum = 0.0  # the sum of their sampled returns from here
        # backup="max": V(s), the largest Q of the tried actions; the rating before.
        self.max_value = 0.0 if terminal else math.nan
        self.prior = None  # None until expanded
        self.q_init = None
        self.action_visits = None
        self.return_sum = None
        self.outcomes = None
        self.outcome_visits = None

    @property
    def expanded(self) -> bool:
        return self.prior is not None

    def expand(self, prior, q_init) -> None:
        """Set up the actions (``prior``, ``q_init``: length-A sequences), none tried."""
        n = len(prior)
        self.prior, self.q_init = [float(p) for p in prior], [float(q) for q in q_init]
        self.action_visits = [0] * n
        self.return_sum = [0.0] * n
        self.outcomes = [{} for _ in range(n)]
        self.outcome_visits = [{} for _ in range(n)]

    def value(self, backup: str = "average") -> float:
        """``V(s)``: the mean sampled return (``"average"``) or ``max_value`` (``"max"``)."""
        if backup == "max":
            return self.max_value
        return self.value_sum / self.visits if self.visits else math.nan

    def qualities(self) -> list:
        """[A] ``Q(s, a)`` of ``backup="average"``: the mean sampled return
        ``return_sum[a] / action_visits[a]``, ``q_init[a]`` for an untried action."""
        return [
            total / n if n else q0
            for total, n, q0 in zip(self.return_sum, self.action_visits, self.q_init)
        ]

    def bellman_qualities(self, discount: float) -> list:
        """[A] ``Q(s, a)`` of ``backup="max"``, from the outcomes' current values:
        ``sum_o n(s, a, o) * (r_o + discount * V(s'_o)) / n(s, a)`` over the observed
        outcomes ``o`` (``V = max_value``), ``q_init[a]`` for an untried action."""
        q = list(self.q_init)
        for a, counts in enumerate(self.outcome_visits):
            if counts:
                children = self.outcomes[a]
                total = 0.0
                for key, n in counts.items():
                    total += n * (key[1] + discount * children[key].max_value)
                q[a] = total / self.action_visits[a]
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
        transpositions: ``"episode"`` (outcomes with the same observation share one node,
            kept for the whole episode), ``"step"`` (shared within one real step's
            search) or ``"none"`` (a tree: no two outcomes share a node).
        max_depth: the most steps of a simulation's path (>= 1).
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
        transpositions: str = "episode",
        max_depth: int = 100,
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
        self.transpositions = check_choice(name, "transpositions", transpositions, TRANSPOSITIONS)
        self.max_depth = check_int(name, "max_depth", max_depth, 1)
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
        self._tables = {}  # env id -> its episode's transposition table (transpositions="episode")

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

    def reset_one(self, idx):
        """A new episode of env ``idx``: forget its transposition table."""
        self._tables.pop(idx, None)

    def table_of(self, env_id: int) -> dict | None:
        """The transposition table of env ``env_id``'s last search, ``(observation bytes,
        done) -> DecisionNode`` (None with ``transpositions="none"``)."""
        return self._tables.get(env_id)

    # -- the search ------------------------------------------------------------

    def search(self, env_id, observation):
        model = self.model_of(env_id)
        root_state = model.clone_state()
        observation = np.asarray(observation)
        table = None
        if self.transpositions == "step" or (
            self.transpositions == "episode" and env_id not in self._tables
        ):
            self._tables[env_id] = {}
        if self.transpositions != "none":
            table = self._tables[env_id]
        counters = SearchCounters()
        size = [0]  # decision nodes in the tree (without transpositions)
        root = self.last_roots[env_id] = self._node(table, observation.tobytes(), False, size)
        for _ in range(self.n_passes):
            self._restore(model, root_state)
            yield from self._simulate(root, observation, model, table, counters, size)
        counters.n_passes = self.n_passes
        visits = np.array(root.action_visits, dtype=np.float64)
        tried = visits > 0
        qualities = np.where(tried, self._qualities(root), np.nan)
        if self.action_selection == "visits":
            action = argmax_random_tie(visits, self.rng)
        else:
            action = argmax_random_tie(np.where(tried, qualities, -np.inf), self.rng)
        return SearchResult(
            action=action,
            value=root.value(self.backup),
            action_probs=visits / max(visits.sum(), 1.0),
            qualities=qualities,
            metrics=counters.metrics(
                size[0] if table is None else len(table), root.value(self.backup)
            ),
        )

    def _node(self, table, observation_bytes, done, size) -> DecisionNode:
        """The node of a state: the table's (made and entered if new), or a new tree node."""
        if table is None:
            size[0] += 1
            return DecisionNode(terminal=done)
        key = (observation_bytes, done)
        node = table.get(key)
        if node is None:
            node = table[key] = DecisionNode(terminal=done)
        return node

    def _restore(self, model, state) -> None:
        """Restore ``state``, then draw a fresh generator for the model's random transitions."""
        model.restore_state(state)
        model.reseed(int(self.rng.integers(_SEED_HIGH)))

    def _simulate(self, root, root_observation, model, table, counters, size):
        """One simulation from the root (the model at the root's state, re-seeded)."""
        path = []  # (node, action, outcome key) of each step
        node, observation = root, root_observation
        while node.expanded and not node.terminal and len(path) < self.max_depth:
            action = self._select(node)
            step = model.step(action)
            counters.model_steps += 1
            observation = np.asarray(step.observation)
            done = bool(step.done)
            key = (observation.tobytes(), float(step.reward), done)
            path.append((node, action, key))
            child = node.outcomes[action].get(key)
            if child is None:
                child = node.outcomes[action][key] = self._node(table, key[0], done, size)
            node = child
        counters.depth = max(counters.depth, len(path))
        if node.terminal:
            value = 0.0
        elif not node.expanded:
            value = yield from self._expand(node, observation, model, counters)
            node.max_value = value  # its rating until an action is tried
        else:  # max_depth reached: the node's current estimate
            value = node.value(self.backup)
        node.value_sum += value
        node.visits += 1
        self._backup(path, value)

    def _backup(self, path, value: float) -> None:
        """Update the path's nodes bottom-up from the leaf's ``value``."""
        for parent, action, key in reversed(path):
            value = key[1] + self.discount * value  # the return sampled along the path
            parent.value_sum += value
            parent.visits += 1
            parent.action_visits[action] += 1
            counts = parent.outcome_visits[action]
            counts[key] = counts.get(key, 0) + 1
            if self.backup == "average":
                parent.return_sum[action] += value
            else:  # Bellman, from the current values of all outcomes of all tried actions
                q = parent.bellman_qualities(self.discount)
                parent.max_value = max(x for x, n in zip(q, parent.action_visits) if n)

    def _qualities(self, node) -> list:
        if self.backup == "average":
            return node.qualities()
        return node.bellman_qualities(self.discount)

    def _select(self, node) -> int:
        scale = self.exploration_weight * math.sqrt(node.visits)
        scores = [
            q + scale * p / (1 + n)
            for q, p, n in zip(self._qualities(node), node.prior, node.action_visits)
        ]
        best = max(scores)
        ties = [a for a, score in enumerate(scores) if score == best]
        return ties[0] if len(ties) == 1 else ties[int(self.rng.integers(len(ties)))]

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
        node.expand(prior, q_init)
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
