"""
DQN on Atari with asynchronous CPU-parallel sampling: a sampler process drives worker
processes (one per core given), each stepping its environments with a CPU copy of the agent,
while this process trains on the replay buffer at the same time. The workers act with the
newest weights the optimizer has sent through shared memory.

Runs CPU-only (the original rlpyt's async mode required a GPU).

    python examples/atari_dqn_async_cpu.py --game pong --n_steps 1e6 --n_workers 2
"""

import os

import torch

from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.runners.async_rl import AsyncRl
from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
from rlpyt.utils.logging.context import logger_context


def build_and_train(
    game="pong",
    run_ID=0,
    cuda_idx=None,
    n_steps=10e6,
    log_dir="data/local/atari_dqn_async_cpu",
    n_workers=None,
    min_steps_learn=int(5e4),
    replay_size=int(1e6),
    log_interval_steps=int(1e5),
):
    cpus = sorted(os.sched_getaffinity(0))
    workers_cpus = cpus[: n_workers or len(cpus)]
    sampler = AsyncCpuSampler(
        EnvCls=AtariEnv,
        TrajInfoCls=AtariTrajInfo,
        env_kwargs=dict(game=game),
        batch_T=4,
        batch_B=8,  # split over the workers
        max_decorrelation_steps=0,
    )
    algo = DQN(min_steps_learn=min_steps_learn, replay_size=replay_size, updates_per_sync=4)
    runner = AsyncRl(
        algo=algo,
        agent=AtariDqnAgent(),
        sampler=sampler,
        n_steps=n_steps,
        log_interval_steps=min(log_interval_steps, n_steps),
        affinity=dict(cuda_idx=cuda_idx, workers_cpus=workers_cpus),
    )
    config = dict(game=game)
    with logger_context(log_dir, run_ID, "dqn_async_cpu_" + game, config, snapshot_mode="last"):
        runner.train()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--game", help="Atari game", default="pong")
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    parser.add_argument(
        "--cuda_idx",
        help="gpu for the optimizer (default: 0 when CUDA is available, else the CPU)",
        type=int,
        default=0 if torch.cuda.is_available() else None,
    )
    parser.add_argument("--n_steps", help="total env steps", type=float, default=10e6)
    parser.add_argument("--log_dir", default="data/local/atari_dqn_async_cpu")
    parser.add_argument("--n_workers", help="worker processes (default: one per core)", type=int)
    parser.add_argument("--min_steps_learn", type=int, default=int(5e4))
    parser.add_argument("--replay_size", type=int, default=int(1e6))
    parser.add_argument("--log_interval_steps", type=int, default=int(1e5))
    args = parser.parse_args()
    build_and_train(**vars(args))
