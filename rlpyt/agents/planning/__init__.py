"""Planning agents: act by searching a model of the env (see :mod:`.base`)."""

from rlpyt.agents.planning.base import PlanningAgent, PlanningAgentInfo, SearchResult
from rlpyt.agents.planning.deterministic_mcts import DeterministicMctsAgent
from rlpyt.agents.planning.stochastic_mcts import StochasticMctsAgent

__all__ = [
    "PlanningAgent",
    "PlanningAgentInfo",
    "SearchResult",
    "DeterministicMctsAgent",
    "StochasticMctsAgent",
]
