"""Samplers of whole episodes (epochs of episodes for the planning agents).

:class:`SerialEpisodeSampler` plays all envs in the training process;
:class:`CpuEpisodeSampler` splits them among worker processes and
:class:`RayEpisodeSampler` among Ray actors. All three play the same episodes from the
same seed (see :mod:`rlpyt.samplers.episodes.collector`).
"""

from rlpyt.samplers.episodes.base import BaseEpisodeSampler, Episode, EpisodeTrajInfo
from rlpyt.samplers.episodes.serial import SerialEpisodeSampler

__all__ = ["BaseEpisodeSampler", "Episode", "EpisodeTrajInfo", "SerialEpisodeSampler"]
