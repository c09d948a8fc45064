"""The base of the planning agents: searches with a model of the env, network calls batched.

A planning agent acts through the ordinary contract, ``agent.step(observation,
prev_action, prev_reward)`` for the ``[B]`` envs of a sampler, but decides each
action by searching a model of its env: a :class:`~rlpyt.envs.model.PerfectModel`
per env, restored to the real env's state before each real step. The sampler
hands the agent its envs once, with :meth:`PlanningAgent.bind_envs`.

**Searches are coroutines.** :meth:`PlanningAgent.search` is a generator, one
per env and real step. When it needs the network it yields a ``[n, *obs_shape]``
array of observations and receives the network's outputs for them, a dict of
``[n, ...]`` numpy arrays (one entry per head of the model: ``"value"`` ``[n]``,
``"policy"`` ``[n, A]`` logits, ``"q"`` ``[n, A]``)::

    outputs = yield observations
    values = outputs["value"]

It finishes by returning a :class:`SearchResult`. :meth:`PlanningAgent.run_searches`
advances the searches of all envs in lockstep: at each *search step* the
requests of every search still running are concatenated into one batch, the
network runs once on it (on the agent's device: the GPU when the run has one),
and each search gets its rows back. So B envs cost one forward pass per search
step, not B; :attr:`PlanningAgent.forward_calls` and
:attr:`PlanningAgent.search_steps` count them. A search that never yields (random
rollouts, no network) costs no forward pass.

Whether the B envs live in this process (serial sampling), in worker processes
(each worker's agent batches its own envs) or in Ray actors is the sampler's
business: the agent code is the same.

**Randomness per env.** While the search of env ``b`` runs (inside
:meth:`PlanningAgent.step`), ``self.rng`` is env ``b``'s own generator,
``self.env_rngs[b]``, seeded from the bind seed and the env's global rank. So the
draws of one env's searches (rollouts, tie breaks) do not depend on which other
envs the agent holds, and a run gives the same episodes whether its envs are
played in one process or split among workers. Outside the searches ``self.rng``
is the agent's own generator.
"""

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from rlpyt.agents.base import AgentStep, BaseAgent
from rlpyt.envs.model import PerfectModel
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.seed import derive_seed

__all__ = ["PlanningAgent", "PlanningAgentInfo", "SearchResult"]

# What every planner reports per real step, for training from search:
# value: the search's estimate of the root (the real state);
# action_probs [A]: the policy target (MCTS visit counts normalised; one-hot where a
#     planner only picks an action);
# qualities [A]: the search's value of each action at the root (NaN where it has none).
PlanningAgentInfo = namedarraytuple("PlanningAgentInfo", ["value", "action_probs", "qualities"])


@dataclass
class SearchResult:
    """What one search returns (the generator's return value)."""

    action: int
    value: float = float("nan")
    action_probs: np.ndarray | None = None  # [A]; None: one-hot of ``action``
    qualities: np.ndarray | None = None  # [A]; None: all NaN
    metrics: dict = field(default_factory=dict)  # floats, averaged per episode by the sampler


class PlanningAgent(BaseAgent):
    """Acts by searching a model of each env; subclasses implement :meth:`search`.

    Args:
        ModelCls: the network's class (e.g. :class:`~rlpyt.models.planning.PlanningMlpModel`),
            or None for planners without one (random rollouts).
        model_kwargs: its keyword arguments besides the sizes taken from the env spaces.
        initial_model_state_dict: weights to load after building it.

    After :meth:`step`, :attr:`step_metrics` holds the metrics of each searched env
    (same order as the step's envs); the sampler averages them per episode.

    A subclass whose search never steps a model (a random agent, acting from a Q
    head) returns False from :attr:`uses_env_model`: then :meth:`bind_envs` makes no
    :class:`~rlpyt.envs.model.PerfectModel`, so such an agent also runs on envs that
    cannot be cloned.
    """

    def __init__(self, ModelCls=None, model_kwargs=None, initial_model_state_dict=None):
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs=model_kwargs,
            initial_model_state_dict=initial_model_state_dict,
        )
        self._envs = []
        self._models = []
        self.env_ranks = None  # global ranks of the bound envs (set by initialize)
        self.rng = np.random.default_rng()  # env b's generator while env b's search runs
        self._own_rng = self.rng
        self.env_rngs = []  # one generator per bound env (see the module docstring)
        self.forward_calls = 0  # network forward passes made by run_searches
        self.search_steps = 0  # lockstep rounds of run_searches (forward_calls <= search_steps)
        self.step_metrics = []

    # -- set-up ---------------------------------------------------------------

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        """Build the network (if the agent has one) for these spaces."""
        self.env_spaces = env_spaces
        self.env_model_kwargs = self.make_env_to_model_kwargs(env_spaces)
        if self.ModelCls is not None:
            self.model = self.ModelCls(**self.env_model_kwargs, **self.model_kwargs)
            if self.initial_model_state_dict is not None:
                self.model.load_state_dict(self.initial_model_state_dict)
            if share_memory:
                self.model.share_memory()
                self.shared_model = self.model
        self.global_B = global_B
        self.env_ranks = env_ranks

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        return dict(
            observation_shape=tuple(env_spaces.observation.shape),
            action_size=int(env_spaces.action.n),
        )

    def bind_envs(self, envs, seed=None) -> None:
        """Plan for these real envs (in the order of the ``[B]`` step inputs).

        Makes a :class:`~rlpyt.envs.model.PerfectModel` of each, which raises
        :class:`~rlpyt.envs.model.CloneStateUnsupportedError` naming an env that
        cannot be cloned, and seeds the agent's generators (rollouts, tie breaks):
        its own from ``seed``, and env ``b``'s, ``self.env_rngs[b]``, from ``seed`` and
        the env's global rank (``env_ranks[b]`` of :meth:`initialize`; ``b`` without
        them), so that it does not depend on how the envs are split among workers.
        ``seed=None``: fresh entropy.
        """
        self._envs = list(envs)
        self._models = [PerfectModel(env) for env in self._envs] if self.uses_env_model else []
        ranks = list(self.env_ranks) if self.env_ranks is not None else range(len(self._envs))
        if len(ranks) != len(self._envs):
            raise ValueError(
                f"{type(self).__name__}.bind_envs: {len(self._envs)} envs, but the agent was "
                f"initialized with {len(ranks)} env_ranks"
            )
        self.rng = self._own_rng = np.random.default_rng(seed)
        self.env_rngs = [
            np.random.default_rng(None if seed is None else derive_seed(seed, "env_rng", rank))
            for rank in ranks
        ]
        self.reset()

    @property
    def uses_env_model(self) -> bool:
        """Whether :meth:`search` steps a model of the env (then :meth:`bind_envs` needs
        envs with ``clone_state``/``restore_state``)."""
        return True

    @property
    def n_actions(self) -> int:
        return int(self.env_spaces.action.n)

    def require_heads(self, heads, purpose: str) -> None:
        """Raise ``ValueError`` unless the network exists and outputs each of ``heads``.

        Called by a subclass's :meth:`initialize`, so that a missing head fails at
        start-up (one forward pass on a zero observation) instead of at the first search
        that asks for it. ``purpose`` says why the heads are needed.
        """
        if self.model is None:
            raise ValueError(
                f"{type(self).__name__}: {purpose} needs a network with heads {tuple(heads)}; "
                "pass ModelCls (e.g. rlpyt.models.planning.PlanningMlpModel)"
            )
        shape = self.env_model_kwargs["observation_shape"]
        with torch.no_grad():
            outputs = self.model(torch.zeros((1, *shape), device=self.device))
        missing = [h for h in heads if h not in outputs]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: {purpose} needs the network's {missing} head(s), but "
                f"{type(self.model).__name__} outputs {sorted(outputs)}; e.g. "
                f"model_kwargs=dict(heads={tuple(sorted(set(outputs) | set(heads)))})"
            )

    # -- acting ---------------------------------------------------------------

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward, env_ids=None):
        """Plan one real step for envs ``env_ids`` (default: all bound envs).

        ``observation`` etc. have one row per env in ``env_ids``. Returns
        ``AgentStep(action [n], agent_info=PlanningAgentInfo [n])``.
        """
        ids = list(range(len(self._envs))) if env_ids is None else [int(b) for b in env_ids]
        if not self._envs:
            raise RuntimeError(
                f"{type(self).__name__}.step: no envs bound; the sampler calls bind_envs(envs) "
                "before the first step"
            )
        observation = np.asarray(observation)
        start = time.perf_counter()
        for b in ids if self._models else ():
            self._models[b].catch_up(self._envs[b])
        results = self.run_searches(
            [self.search(b, observation[i]) for i, b in enumerate(ids)], env_ids=ids
        )
        elapsed = (time.perf_counter() - start) / max(len(ids), 1)
        n = len(ids)
        action = np.array([r.action for r in results], dtype=np.int64)
        info = PlanningAgentInfo(
            value=np.array([r.value for r in results], dtype=np.float32),
            action_probs=np.zeros((n, self.n_actions), dtype=np.float32),
            qualities=np.full((n, self.n_actions), np.nan, dtype=np.float32),
        )
        for i, r in enumerate(results):
            if r.action_probs is None:
                info.action_probs[i, r.action] = 1.0
            else:
                info.action_probs[i] = r.action_probs
            if r.qualities is not None:
                info.qualities[i] = r.qualities
        self.step_metrics = [dict(r.metrics, time_per_step=elapsed) for r in results]
        return AgentStep(action=action, agent_info=info)

    def search(self, env_id: int, observation):
        """The search for env ``env_id`` from its current state (a generator, see the module
        docstring); ``self.model_of(env_id)`` is its model, already restored."""
        raise NotImplementedError
        yield  # pragma: no cover - makes this a generator function

    def model_of(self, env_id: int) -> PerfectModel:
        """The model of env ``env_id``."""
        if not self._models:
            raise RuntimeError(
                f"{type(self).__name__}.model_of: no env models (uses_env_model is False)"
            )
        return self._models[env_id]

    def run_searches(self, searches, env_ids=None) -> list:
        """Run generator searches in lockstep, one batched forward per search step.

        ``env_ids[i]``: the env of ``searches[i]``; while it runs, ``self.rng`` is that
        env's generator (None: the agent's own generator throughout).
        """
        results = [None] * len(searches)
        rngs = [self._own_rng] * len(searches)
        if env_ids is not None and self.env_rngs:
            rngs = [self.env_rngs[b] for b in env_ids]
        pending = {}  # index -> the observations its search asked about
        try:
            for i, search in enumerate(searches):
                self._advance(search, i, None, pending, results, rngs[i])
            while pending:
                order = list(pending)
                requests = [np.asarray(pending[i]) for i in order]
                sizes = [len(r) for r in requests]
                outputs = self.evaluate(np.concatenate(requests)) if sum(sizes) else {}
                self.search_steps += 1
                pending.clear()
                offset = 0
                for i, size in zip(order, sizes, strict=True):
                    rows = {k: v[offset : offset + size] for k, v in outputs.items()}
                    offset += size
                    self._advance(searches[i], i, rows, pending, results, rngs[i])
        finally:
            self.rng = self._own_rng
        return results

    def _advance(self, search, i, sent, pending, results, rng):
        self.rng = rng
        try:
            pending[i] = search.send(sent)
        except StopIteration as stop:
            if not isinstance(stop.value, SearchResult):
                raise TypeError(
                    f"a search must return a SearchResult, got {type(stop.value).__name__}"
                ) from None
            results[i] = stop.value

    def evaluate(self, observations: np.ndarray) -> dict:
        """One forward pass of the network on ``[n, *obs_shape]`` observations."""
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__} asked for the network but has no model")
        self.forward_calls += 1
        obs = torch.as_tensor(np.asarray(observations, dtype=np.float32), device=self.device)
        outputs = self.model(obs)
        return {k: v.detach().cpu().numpy() for k, v in outputs.items()}

    def __call__(self, observation, prev_action=None, prev_reward=None):
        """Training forward pass: the network's outputs (dict of tensors, with gradients)."""
        return self.model(observation.to(self.device, torch.float32))

    # -- per-episode state, modes, state ---------------------------------------

    def reset(self):
        for b in range(len(self._envs)):
            self.reset_one(b)

    def reset_one(self, idx):
        """Forget what the search kept about env ``idx``'s episode (trees, visited states)."""

    def train_mode(self, itr):
        if self.model is not None:
            self.model.train()
        self._mode = "train"

    def sample_mode(self, itr):
        if self.model is not None:
            self.model.eval()
        self._mode = "sample"

    def eval_mode(self, itr):
        if self.model is not None:
            self.model.eval()
        self._mode = "eval"

    def parameters(self):
        return self.model.parameters() if self.model is not None else iter(())

    def state_dict(self) -> dict:
        return self.model.state_dict() if self.model is not None else {}

    def load_state_dict(self, state_dict: dict):
        if self.model is not None:
            self.model.load_state_dict(state_dict)

    def sampling_state_dict(self) -> dict:
        """The generators' states: the agent's own (``rng``) and each env's (``env_rngs``)."""
        return {
            "rng": self._own_rng.bit_generator.state,
            "env_rngs": [g.bit_generator.state for g in self.env_rngs],
        }

    def load_sampling_state_dict(self, state: dict) -> None:
        if "rng" in state:
            self._own_rng.bit_generator.state = state["rng"]
        env_states = state.get("env_rngs", [])
        if env_states and len(env_states) != len(self.env_rngs):
            raise ValueError(
                f"{type(self).__name__}: the sampling state holds {len(env_states)} env "
                f"generators, the agent has {len(self.env_rngs)} envs bound"
            )
        for g, s in zip(self.env_rngs, env_states):
            g.bit_generator.state = s
