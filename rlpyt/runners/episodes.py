"""The epoch runner of the planning agents: epochs of whole episodes, then training.

One iteration is an *epoch*: the episode sampler plays ``B`` episodes from reset to
their end (:class:`~rlpyt.samplers.episodes.base.BaseEpisodeSampler`), the algorithm
trains on them (e.g. :class:`~rlpyt.algos.planning.SupervisedFromSearch`), and
diagnostics are stored; every ``log_interval_epochs`` a progress row and a snapshot are
written. Everything else -- the logger files, the progress bar, Ctrl-C and SIGTERM
(:class:`~rlpyt.runners.minibatch_rl.Preempted` with a snapshot), atomic snapshots and
exact resume -- is :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`'s.

Progress rows hold the usual columns (``Iteration``, ``CumSteps`` -- the sum of the
episodes' lengths --, ``CumTime (s)``, ``StepsPerSecond``, ``CumCompletedTrajs``,
``CumUpdates``, ``CumTrainTime``, ...), the statistics of the trajectory infos
(``ReturnAverage``, ``SolvedAverage``, ...), the algorithm's losses, and, as Alpacka
logs them, over the episodes since the last row:

* ``episode/return_mean``, ``episode/length_mean``, ``episode/solved_rate``,
  ``episode/count`` (episodes in the row), ``episode/time`` (seconds of sampling per
  epoch, the mean over the row's epochs);
* ``agent/<metric>``: the mean over the episodes of each per-episode agent metric
  (:class:`~rlpyt.samplers.episodes.base.EpisodeTrajInfo`'s ``agent/*`` fields: search
  depth, tree size, time per real step...).
"""

import math
import time

from rlpyt.runners.minibatch_rl import MinibatchRlBase
from rlpyt.utils.logging import logger
from rlpyt.utils.validation import require_int_at_least

__all__ = ["EpisodeRunner"]


class EpisodeRunner(MinibatchRlBase):
    """Runs ``n_epochs`` epochs of whole episodes (see the module docstring).

    Args:
        algo, agent, sampler: an algorithm that trains on a list of episodes, a planning
            agent, an episode sampler (not yet initialized).
        n_epochs: epochs to run (rounded up to a whole number of log intervals).
        seed: run seed (random when None, and logged).
        affinity: as for :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`.
        log_interval_epochs: epochs between progress rows and snapshots.
        resume_from: a run directory or snapshot file to continue from.
        progress_bar: show a progress bar of the epochs to the next row.
        reproducible: as for :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`.
    """

    def __init__(
        self,
        algo,
        agent,
        sampler,
        n_epochs,
        seed=None,
        affinity=None,
        log_interval_epochs=1,
        resume_from=None,
        progress_bar=True,
        reproducible=False,
    ):
        n_epochs = require_int_at_least("n_epochs", n_epochs, 1)
        log_interval_epochs = require_int_at_least("log_interval_epochs", log_interval_epochs, 1)
        super().__init__(
            algo=algo,
            agent=agent,
            sampler=sampler,
            n_steps=n_epochs,  # the base's step counts are read as epochs (get_n_itr)
            seed=seed,
            affinity=affinity,
            log_interval_steps=log_interval_epochs,
            resume_from=resume_from,
            progress_bar=progress_bar,
            reproducible=reproducible,
        )
        self.n_epochs = n_epochs
        self.log_interval_epochs = log_interval_epochs

    # -- set-up -------------------------------------------------------------------

    def initialize_sampler(self):
        """Build the envs, initialize the agent and bind it to them (no examples)."""
        return self.sampler.initialize(
            agent=self.agent,
            affinity=self.affinity,
            seed=self.seed + 1,
            traj_info_kwargs=self.get_traj_info_kwargs(),
        )

    def initialize_algo(self, n_itr, examples):
        self.algo.initialize(agent=self.agent, n_itr=n_itr, batch_spec=self.sampler.batch_spec)

    def get_n_itr(self):
        """``n_epochs``, rounded up to whole log intervals."""
        self.log_interval_itrs = self.log_interval_epochs
        return math.ceil(self.n_epochs / self.log_interval_epochs) * self.log_interval_epochs

    def initialize_logging(self):
        super().initialize_logging()
        self._cum_steps = 0  # the sum of the lengths of all episodes so far
        self._sample_times = []  # seconds of sampling of each epoch since the last row

    # -- one epoch ------------------------------------------------------------------

    def obtain_samples(self, itr):
        """The epoch's ``(episodes, traj_infos)``, its sampling time kept for the row."""
        start = time.perf_counter()
        episodes, traj_infos = self.sampler.obtain_samples(itr)
        self._sample_times.append(time.perf_counter() - start)
        self._cum_steps += sum(len(episode) for episode in episodes)
        return episodes, traj_infos

    def cum_steps(self, itr) -> int:
        """The sum of the lengths of the episodes of epochs ``0..itr``."""
        return self._cum_steps

    # -- the row ------------------------------------------------------------------------

    def _log_infos(self, traj_infos):
        """Statistics of the trajectory infos (but the agent's metrics, logged as means),
        ``episode/*``, ``agent/*``, and the means of the algorithm's diagnostics."""
        example = traj_infos[0] if traj_infos else self.sampler.TrajInfoCls()
        for k in example:
            if not k.startswith(("_", "agent/")):
                logger.record_tabular_misc_stat(k, [info[k] for info in traj_infos])
        logger.record_tabular("episode/count", len(traj_infos))
        for key, field in (("return_mean", "Return"), ("length_mean", "Length")):
            logger.record_tabular(f"episode/{key}", _mean([info[field] for info in traj_infos]))
        logger.record_tabular(
            "episode/solved_rate", _mean([float(info["Solved"]) for info in traj_infos])
        )
        logger.record_tabular("episode/time", _mean(self._sample_times))
        self._sample_times = []
        metrics = sorted({k for info in traj_infos for k in info if k.startswith("agent/")})
        for key in metrics:
            logger.record_tabular(key, _mean([info[key] for info in traj_infos if key in info]))
        for k, values in self._opt_infos.items():
            logger.record_tabular(k, _mean(values))

    # -- snapshots ------------------------------------------------------------------------

    def get_itr_snapshot(self, itr) -> dict:
        state = super().get_itr_snapshot(itr)
        state["episode_runner"] = dict(sample_times=list(self._sample_times))
        return state

    def load_runner_state(self, snapshot: dict) -> None:
        """The step count and the sampling times since the last row."""
        self._cum_steps = snapshot["cum_steps"]
        self._sample_times = list(snapshot["episode_runner"]["sample_times"])


def _mean(values) -> float:
    return sum(values) / len(values) if values else float("nan")
