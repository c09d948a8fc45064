"""The small planning run of the EpisodeRunner tests; also a script, for the kill -9 test.

``python tests/runners/episode_runs.py LOG_DIR [--pause S]`` trains into ``LOG_DIR/run_0``
(snapshot mode "last"), pausing ``S`` seconds after each progress row so that a test can
kill it between two snapshots. ``--resume`` continues the run from its last snapshot.
"""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/

from rlpyt.agents.planning import DeterministicMctsAgent  # noqa: E402
from rlpyt.algos.planning import SupervisedFromSearch  # noqa: E402
from rlpyt.envs.gym import gym_make  # noqa: E402
from rlpyt.models.planning import PlanningMlpModel  # noqa: E402
from rlpyt.runners.episodes import EpisodeRunner  # noqa: E402
from rlpyt.samplers.episodes import SerialEpisodeSampler  # noqa: E402
from rlpyt.utils.logging.context import logger_context  # noqa: E402

N_EPOCHS = 6
N_ENVS = 4
PRECOLLECT = 2
UPDATES = 5
# Timings, and the agent's time per real step (a timing too), differ between two runs.
TIMING = {"CumTime (s)", "StepsPerSecond", "CumTrainTime", "UpdatesPerSecond", "episode/time"}
TIMING |= {"agent/time_per_step"}


def make_runner(
    RunnerCls=EpisodeRunner,
    n_disks=3,
    resume_from=None,
    log_interval_epochs=1,
    SamplerCls=SerialEpisodeSampler,
    **sampler_kwargs,
):
    """MCTS on Hanoi with a value network trained on "solved" (4 passes a step, at most 12 steps)."""
    sampler = SamplerCls(
        EnvCls=gym_make,
        env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=n_disks),
        n_envs=N_ENVS,
        episode_time_limit=12,
        **sampler_kwargs,
    )
    algo = SupervisedFromSearch(
        value_target="solved",
        batch_size=16,
        n_updates_per_epoch=UPDATES,
        n_precollect_epochs=PRECOLLECT,
        learning_rate=3e-3,
        replay_capacity=100,  # a few epochs: eviction happens during the run
    )
    return RunnerCls(
        algo=algo,
        agent=DeterministicMctsAgent(
            n_passes=4,
            ModelCls=PlanningMlpModel,
            model_kwargs=dict(hidden_sizes=[16], heads=["value"]),
        ),
        sampler=sampler,
        n_epochs=N_EPOCHS,
        seed=5,
        log_interval_epochs=log_interval_epochs,
        resume_from=resume_from,
        progress_bar=False,
    )


class PausingRunner(EpisodeRunner):
    """Sleeps ``pause`` seconds after each row (and its snapshot)."""

    pause = 0.0

    def log_diagnostics(self, itr, *args, **kwargs):
        super().log_diagnostics(itr, *args, **kwargs)
        time.sleep(self.pause)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log_dir")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    run_dir = os.path.join(args.log_dir, "run_0")
    runner = make_runner(PausingRunner, resume_from=run_dir if args.resume else None)
    runner.pause = args.pause
    with logger_context(args.log_dir, 0, "episodes", snapshot_mode="last", resume=args.resume):
        runner.train()


if __name__ == "__main__":
    main()
