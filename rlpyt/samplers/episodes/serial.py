"""Episode sampling in the training process: all envs in one lockstep group."""

from rlpyt.samplers.collections import TrajInfoFactory
from rlpyt.samplers.episodes.base import BaseEpisodeSampler
from rlpyt.samplers.episodes.collector import make_collector
from rlpyt.utils.seed import make_seed

__all__ = ["SerialEpisodeSampler"]


class SerialEpisodeSampler(BaseEpisodeSampler):
    """Plays the ``n_envs`` episodes of each epoch in this process, with the runner's agent.

    All envs step in lockstep, so a planning agent batches the network calls of all
    their searches: one forward pass per search step for the whole epoch's envs. Same
    keyword arguments as :class:`~rlpyt.samplers.episodes.base.BaseEpisodeSampler`::

        SerialEpisodeSampler(EnvCls=gym_make, env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=3),
                             n_envs=16, episode_time_limit=None, TrajInfoCls=EpisodeTrajInfo)

    Epoch ``e`` reseeds env ``b`` from ``(seed, b, e)`` before its reset
    (:mod:`rlpyt.samplers.episodes.collector`), and the agent draws from one generator
    per env, so the parallel and Ray samplers play the same episodes from the same seed.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.collector = None
        self.agent = None
        self.seed = None
        self.epoch = 0  # epochs played: seeds the next one's envs
        self._closed = True  # until initialize()

    def initialize(self, agent, affinity=None, seed=None, traj_info_kwargs=None):
        """Build the envs, initialize the agent for them and bind it to them.

        ``affinity`` is accepted for the runner's uniform call and not used (the training
        process's own pinning applies). Raises
        :class:`~rlpyt.envs.model.CloneStateUnsupportedError` (from ``agent.bind_envs``)
        naming an env that cannot serve as a model. Returns None: episodes carry their
        own shapes.
        """
        self.seed = make_seed() if seed is None else int(seed)
        self.traj_info_factory = TrajInfoFactory(self.TrajInfoCls, traj_info_kwargs)
        self.collector = make_collector(
            self.EnvCls,
            self.env_kwargs,
            env_ranks=range(self.n_envs),
            agent=agent,
            global_B=self.n_envs,
            traj_info_factory=self.traj_info_factory,
            episode_time_limit=self.episode_time_limit,
            seed=self.seed,
        )
        self.agent = agent
        self.epoch = 0
        self._closed = False

    def obtain_samples(self, itr):
        """Run one epoch: ``(episodes, traj_infos)``, ``n_envs`` of each, in env order."""
        self._check_open()
        episodes, traj_infos = self.collector.collect(self.epoch)
        self.epoch += 1
        return episodes, traj_infos

    def state_dict(self) -> dict:
        """The epoch counter (it seeds the envs) and the agent's generators."""
        self._check_open()
        return {"epoch": self.epoch, "agent": self.agent.sampling_state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self._check_open()
        self.epoch = int(state["epoch"])
        self.agent.load_sampling_state_dict(state["agent"])

    def _check_open(self):
        if self._closed:
            raise RuntimeError("SerialEpisodeSampler used before initialize() or after shutdown()")

    def shutdown(self) -> None:
        """Close the envs (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.collector.close()
