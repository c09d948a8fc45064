"""Samplers of whole episodes (epochs of episodes for the planning agents).

:class:`SerialEpisodeSampler` plays all envs in the training process;
:class:`CpuEpisodeSampler` splits them among worker processes and
:class:`RayEpisodeSampler` among Ray actors. All three play the same episodes from the
same seed (see :mod:`rlpyt.samplers.episodes.collector`). ``RayEpisodeSampler`` imports
Ray on first use (``pip install 'rlpyt[ray]'``).
"""

from rlpyt.samplers.episodes.base import BaseEpisodeSampler, Episode, EpisodeTrajInfo
from rlpyt.samplers.episodes.parallel import CpuEpisodeSampler
from rlpyt.samplers.episodes.serial import SerialEpisodeSampler

__all__ = [
    "BaseEpisodeSampler",
    "Episode",
    "EpisodeTrajInfo",
    "SerialEpisodeSampler",
    "CpuEpisodeSampler",
    "RayEpisodeSampler",
]


def __getattr__(name):
    # Ray is an optional extra: imported on first use of the Ray sampler only.
    if name == "RayEpisodeSampler":
        from rlpyt.samplers.episodes.ray import RayEpisodeSampler

        return RayEpisodeSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
