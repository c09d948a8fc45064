"""Planning agents: act by searching a model of the env (see :mod:`.base`)."""

from rlpyt.agents.planning.base import PlanningAgent, PlanningAgentInfo, SearchResult

__all__ = ["PlanningAgent", "PlanningAgentInfo", "SearchResult"]
