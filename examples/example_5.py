"""
DQN on Atari with the GPU sampler: worker processes step the environments, and the training
process selects the actions of all environments in one batched forward pass, on the GPU when
one is available (--cuda_idx, default 0 if CUDA is present), else on the CPU. Each worker is
pinned to one CPU core.

The agent is the same as in example_1; only the sampler (and the batch of 8 environments, so
the batched forward pass has something to batch) changes.

    python examples/example_5.py --game pong --n_steps 1e6
"""

import os

import torch

from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.utils.logging.context import logger_context


def build_and_train(
    game="pong",
    run_ID=0,
    cuda_idx=None,
    n_steps=50e6,
    log_dir="data/local/example_5",
    n_workers=None,
    min_steps_learn=int(5e4),
    replay_size=int(1e6),
):
    cpus = sorted(os.sched_getaffinity(0))
    workers_cpus = cpus[: n_workers or len(cpus)]
    sampler = GpuSampler(
        EnvCls=AtariEnv,
        TrajInfoCls=AtariTrajInfo,
        env_kwargs=dict(game=game),
        batch_T=4,
        batch_B=8,  # Split over the workers.
        max_decorrelation_steps=0,
    )
    algo = DQN(min_steps_learn=min_steps_learn, replay_size=replay_size)
    agent = AtariDqnAgent()
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        log_interval_steps=min(1e4, n_steps),
        affinity=dict(cuda_idx=cuda_idx, workers_cpus=workers_cpus),
    )
    config = dict(game=game)
    with logger_context(log_dir, run_ID, "dqn_gpu_sampler_" + game, config, snapshot_mode="last"):
        runner.train()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--game", help="Atari game", default="pong")
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    parser.add_argument(
        "--cuda_idx",
        help="gpu to use (default: 0 when CUDA is available, else the CPU)",
        type=int,
        default=0 if torch.cuda.is_available() else None,
    )
    parser.add_argument("--n_steps", help="total env steps", type=float, default=50e6)
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_5")
    parser.add_argument("--n_workers", help="worker processes (default: one per core)", type=int)
    parser.add_argument(
        "--min_steps_learn", help="env steps before learning", type=int, default=int(5e4)
    )
    parser.add_argument("--replay_size", help="replay capacity", type=int, default=int(1e6))
    args = parser.parse_args()
    build_and_train(
        game=args.game,
        run_ID=args.run_ID,
        cuda_idx=args.cuda_idx,
        n_steps=args.n_steps,
        log_dir=args.log_dir,
        n_workers=args.n_workers,
        min_steps_learn=args.min_steps_learn,
        replay_size=args.replay_size,
    )
