"""Algorithms of the planning agents: training their networks from search results."""

from rlpyt.algos.planning.no_training import NoTraining
from rlpyt.algos.planning.supervised import SupervisedFromSearch

__all__ = ["SupervisedFromSearch", "NoTraining"]
