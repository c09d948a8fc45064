"""Samplers of whole episodes, for the planning agents and the epoch runner.

An *epoch* runs ``n_envs`` episodes (one per env) from reset to their end
(termination, or ``episode_time_limit`` steps), all envs stepping in lockstep so
that a planning agent batches the network calls of their searches (see
:mod:`rlpyt.agents.planning.base`). Envs whose episode ended wait for the others.
:meth:`BaseEpisodeSampler.obtain_samples` returns the epoch's episodes, as
:class:`Episode` records, and their trajectory infos.
"""

from dataclasses import dataclass

import numpy as np

from rlpyt.samplers.collections import BatchSpec, TrajInfo

__all__ = ["Episode", "EpisodeTrajInfo", "BaseEpisodeSampler"]


@dataclass
class Episode:
    """One finished episode of length ``T``.

    Attributes:
        observation: ``[T + 1, *obs_shape]``; the last row is the observation after the last
            step.
        action, reward: ``[T]``.
        terminated: the last step ended the episode in a terminal state (False: cut by the
            time limit, the env's or the sampler's ``episode_time_limit``; value targets
            bootstrap).
        solved: the env reported ``solved`` at the end (False for envs without the flag).
        agent_info: the agent's ``[T]`` agent_info (a namedarraytuple, e.g.
            ``PlanningAgentInfo``).
        env_rank: the global index of the env that played it (for stratified/ordered use).
    """

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminated: bool
    solved: bool
    agent_info: object
    env_rank: int = 0

    def __len__(self) -> int:
        return len(self.action)


class EpisodeTrajInfo(TrajInfo):
    """TrajInfo with ``Solved`` and the agent's per-step metrics averaged over the episode.

    The sampler calls :meth:`add_agent_metrics` with the agent's ``step_metrics`` entry of
    this env after each step; the finished record has ``agent/<name>`` = their mean.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.Solved = False
        self._metric_sums = {}

    def step(self, observation, action, reward, done, agent_info, env_info) -> None:
        super().step(observation, action, reward, done, agent_info, env_info)
        solved = getattr(env_info, "solved", None)
        if solved is not None:
            self["Solved"] = bool(solved)

    def add_agent_metrics(self, metrics: dict) -> None:
        for key, value in metrics.items():
            self._metric_sums[key] = self._metric_sums.get(key, 0.0) + float(value)

    def terminate(self, observation) -> "EpisodeTrajInfo":
        length = max(self["Length"], 1)
        for key, total in self._metric_sums.items():
            self[f"agent/{key}"] = total / length
        return self


class BaseEpisodeSampler:
    """The interface of the episode samplers (serial, parallel workers, Ray actors).

    Args:
        EnvCls, env_kwargs: how to build each env (as for the step samplers).
        n_envs: episodes per epoch (B).
        episode_time_limit: cut each episode after this many steps (None: the env's own limit).
        TrajInfoCls: the record of each episode.

    Raises ValueError for ``n_envs < 1`` or ``episode_time_limit < 1``.
    """

    def __init__(
        self,
        EnvCls,
        env_kwargs=None,
        n_envs=16,
        episode_time_limit=None,
        TrajInfoCls=EpisodeTrajInfo,
    ):
        if int(n_envs) < 1:
            raise ValueError(f"{type(self).__name__}: n_envs must be >= 1, got {n_envs}")
        if episode_time_limit is not None and int(episode_time_limit) < 1:
            raise ValueError(
                f"{type(self).__name__}: episode_time_limit must be >= 1 (or None: the env's "
                f"own limit), got {episode_time_limit}"
            )
        self.EnvCls = EnvCls
        self.env_kwargs = dict(env_kwargs or {})
        self.n_envs = int(n_envs)
        self.episode_time_limit = episode_time_limit
        self.TrajInfoCls = TrajInfoCls

    @property
    def batch_spec(self) -> BatchSpec:
        """``(T=episode_time_limit or 0, B=n_envs)``, for the runner's snapshot record."""
        return BatchSpec(int(self.episode_time_limit or 0), self.n_envs)

    def initialize(self, agent, affinity=None, seed=None, traj_info_kwargs=None):
        """Build the envs (and workers), initialize the agent and bind it to the envs."""
        raise NotImplementedError

    def obtain_samples(self, itr):
        """Run one epoch: returns ``(episodes, traj_infos)``, ``n_envs`` of each, env order."""
        raise NotImplementedError

    def state_dict(self):
        """What an exact resume needs (env generators, agent sampling state), or None."""
        return None

    def load_state_dict(self, state) -> None:
        """Restore :meth:`state_dict`."""

    def shutdown(self) -> None:
        """Stop workers, close envs (idempotent)."""
