"""
Parallel sampling with the agent in the master process (``GpuSampler``), for a recurrent
agent: A2C with ``AtariLstmAgent`` on Atari. Workers only step the envs; the agent chooses
the actions of all envs in one batched forward pass (on the GPU given by ``--cuda_idx``, else
the CPU) and keeps their LSTM states.

The collector decides what happens when an episode ends inside a batch:

* ``wait_reset`` (``GpuWaitResetCollector``, the default, as in the original): the env waits,
  zero-filled and flagged done, until the batch ends, and is reset between batches. The
  recurrent state then starts each batch fresh for such envs; the original used this for
  recurrent agents, since resetting can be slow (Atari's reset is) and every step of a batch
  then belongs to one episode segment per env.
* ``reset`` (``GpuResetCollector``): the env resets at once and keeps stepping; the agent's
  recurrent state of that env is reset at the same time.

    python examples/example_4.py --game pong --n_parallel 4 --collector wait_reset --n_steps 1e6
"""

import os
import warnings

from rlpyt.agents.pg.atari import AtariLstmAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.parallel.gpu.collectors import GpuResetCollector, GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.utils.logging.context import logger_context

COLLECTORS = {"wait_reset": GpuWaitResetCollector, "reset": GpuResetCollector}


def workers_cpus(n_parallel):
    """The first ``n_parallel`` CPU cores this process may use (clamped, with a warning)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    if n_parallel > len(cores):
        warnings.warn(
            f"n_parallel={n_parallel} is more than the {len(cores)} usable CPU cores: "
            f"using {len(cores)} workers",
            stacklevel=2,
        )
    return cores[: max(1, n_parallel)]


def build_and_train(
    game="pong",
    run_ID=0,
    cuda_idx=None,
    n_parallel=2,
    collector="wait_reset",
    n_steps=50e6,
    log_dir="data/local/example_4",
):
    config = dict(
        env=dict(game=game),
        algo=dict(),
        optim=dict(),
        model=dict(),
        sampler=dict(batch_T=5, batch_B=16, max_decorrelation_steps=400),
        collector=collector,
    )
    affinity = dict(cuda_idx=cuda_idx, workers_cpus=workers_cpus(n_parallel))
    sampler = GpuSampler(
        EnvCls=AtariEnv,
        env_kwargs=config["env"],
        CollectorCls=COLLECTORS[collector],
        TrajInfoCls=AtariTrajInfo,
        **config["sampler"],
    )
    algo = A2C(optim_kwargs=config["optim"], **config["algo"])
    agent = AtariLstmAgent(model_kwargs=config["model"])
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        log_interval_steps=min(1e5, n_steps),  # (At least one log in short runs.)
        affinity=affinity,
    )
    name = "a2c_" + game
    with logger_context(log_dir, run_ID, name, config):
        runner.train()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--game", help="Atari game", default="pong")
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    parser.add_argument("--cuda_idx", help="gpu to use ", type=int, default=None)
    parser.add_argument(
        "--n_parallel", help="number of sampler workers (CPU cores)", type=int, default=2
    )
    parser.add_argument(
        "--collector",
        help="what an env does when its episode ends mid-batch",
        choices=sorted(COLLECTORS),
        default="wait_reset",
    )
    parser.add_argument("--n_steps", help="total env steps", type=float, default=50e6)
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_4")
    args = parser.parse_args()
    build_and_train(
        game=args.game,
        run_ID=args.run_ID,
        cuda_idx=args.cuda_idx,
        n_parallel=args.n_parallel,
        collector=args.collector,
        n_steps=args.n_steps,
        log_dir=args.log_dir,
    )
