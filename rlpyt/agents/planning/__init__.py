"""Planning agents: act by searching a model of the env (see :mod:`.base`)."""

from rlpyt.agents.planning.base import PlanningAgent, PlanningAgentInfo, SearchResult
from rlpyt.agents.planning.best_first_search import BestFirstSearchAgent
from rlpyt.agents.planning.deterministic_mcts import DeterministicMctsAgent
from rlpyt.agents.planning.random import RandomAgent
from rlpyt.agents.planning.shooting import ShootingAgent
from rlpyt.agents.planning.stochastic_mcts import StochasticMctsAgent
from rlpyt.agents.planning.value_agents import EpsilonGreedyAgent, SoftmaxAgent

__all__ = [
    "PlanningAgent",
    "PlanningAgentInfo",
    "SearchResult",
    "BestFirstSearchAgent",
    "DeterministicMctsAgent",
    "EpsilonGreedyAgent",
    "RandomAgent",
    "ShootingAgent",
    "SoftmaxAgent",
    "StochasticMctsAgent",
]
