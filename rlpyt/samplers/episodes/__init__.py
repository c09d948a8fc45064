"""Samplers of whole episodes (epochs of episodes for the planning agents)."""

from rlpyt.samplers.episodes.base import BaseEpisodeSampler, Episode, EpisodeTrajInfo

__all__ = ["BaseEpisodeSampler", "Episode", "EpisodeTrajInfo"]
