"""
Plans with Monte-Carlo tree search on the Tower of Hanoi and trains the search's value network
from the episodes it played (the Alpacka recipe, on rlpyt's sampler, runner and logger).

Each epoch the sampler plays ``n_envs`` whole episodes, all envs in lockstep: every real step
runs ``n_passes`` MCTS passes per env, and at each pass the new leaves of all envs are rated by
the value network in one batched forward call. The env itself, cloned and restored, is the
search's model (a perfect model). The algorithm then regresses the value network on the
discounted returns of replayed episodes (equal shares of solved and unsolved ones), so later
searches are guided by it. About 5 minutes on 2 cores with the defaults (5 disks).

Snapshots hold the network, the optimizer, the episode replay and every generator: stop it
(Ctrl-C, or kill -9) and resume with ``--resume``.

    python examples/example_planning.py --n_disks 5 --n_epochs 10
    python -m rlpyt plot data/local/example_planning
"""

from rlpyt.agents.planning import DeterministicMctsAgent
from rlpyt.algos.planning import SupervisedFromSearch
from rlpyt.envs.gym import gym_make
from rlpyt.models.planning import PlanningMlpModel
from rlpyt.runners.episodes import EpisodeRunner
from rlpyt.samplers.episodes import SerialEpisodeSampler
from rlpyt.utils.logging.context import logger_context


def build_and_train(
    n_disks=5,
    n_envs=8,
    n_passes=20,
    n_epochs=10,
    seed=1,
    run_ID=0,
    cuda_idx=None,
    log_dir="data/local/example_planning",
    resume=False,
):
    sampler = SerialEpisodeSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=n_disks),
        n_envs=n_envs,  # Episodes per epoch, searched in lockstep.
        episode_time_limit=200,  # The optimum is 2**n_disks - 1 moves.
    )
    agent = DeterministicMctsAgent(
        n_passes=n_passes,  # Passes per real step (one batched network call each).
        discount=0.99,
        ModelCls=PlanningMlpModel,
        model_kwargs=dict(hidden_sizes=[64, 64], heads=["value"]),
    )
    algo = SupervisedFromSearch(
        discount=0.99,
        value_target="discounted_return",  # 0.99 ** (steps to the goal) on solved episodes.
        n_updates_per_epoch=100,
        n_precollect_epochs=1,  # The first epoch only fills the replay.
    )
    runner = EpisodeRunner(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_epochs=n_epochs,
        seed=seed,
        affinity=dict(cuda_idx=cuda_idx, torch_threads=1),
        resume_from=f"{log_dir}/run_{run_ID}" if resume else None,
    )
    config = dict(n_disks=n_disks, n_envs=n_envs, n_passes=n_passes, seed=seed)
    with logger_context(
        log_dir, run_ID, f"mcts_hanoi{n_disks}", config, snapshot_mode="last", resume=resume
    ):
        runner.train()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n_disks", help="disks of the Tower of Hanoi", type=int, default=5)
    parser.add_argument("--n_envs", help="episodes per epoch", type=int, default=8)
    parser.add_argument("--n_passes", help="MCTS passes per real step", type=int, default=20)
    parser.add_argument("--n_epochs", help="epochs to run", type=int, default=10)
    parser.add_argument("--seed", help="run seed", type=int, default=1)
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    parser.add_argument("--cuda_idx", help="gpu to use", type=int, default=None)
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_planning")
    parser.add_argument("--resume", help="continue run_ID from its snapshot", action="store_true")
    args = parser.parse_args()
    build_and_train(**vars(args))
