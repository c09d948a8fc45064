"""
Runs multiple instances of the Atari environment and optimizes using A2C
algorithm. Can choose between configurations for use of CPU/GPU for sampling
(serial or parallel) and optimization (serial).

Sample modes:

* ``serial``: envs and agent in this one process (ignores ``--n_parallel``);
* ``cpu``: ``CpuSampler``, worker processes step their envs and choose actions with their own
  CPU copy of the agent, whose parameters live in shared memory;
* ``gpu``: ``GpuSampler``, workers only step the envs; the agent chooses the actions of all
  envs at once in this process (on the GPU given by ``--cuda_idx``, else the CPU);
* ``alternating``: ``AlternatingSampler``, the GPU sampler with two groups of workers that take
  turns, so env stepping overlaps action selection. As in the original, every core given to
  the workers hosts one worker of each group (the ``workers_cpus`` list is doubled). Unlike
  the original, an ordinary agent (``AtariFfAgent``) works: no "alternating" agent is needed.

Workers are pinned to the first ``--n_parallel`` CPU cores this process may use (more than
those are clamped, with a warning).

    python examples/example_3.py --game pong --sample_mode cpu --n_parallel 4 --n_steps 1e6
"""

import os
import warnings

from rlpyt.agents.pg.atari import AtariFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

SAMPLE_MODES = ["serial", "cpu", "gpu", "alternating"]


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
    sample_mode="serial",
    n_parallel=2,
    n_steps=50e6,
    log_dir="data/local/example_3",
):
    affinity = dict(cuda_idx=cuda_idx, workers_cpus=workers_cpus(n_parallel))
    gpu_cpu = "CPU" if cuda_idx is None else f"GPU {cuda_idx}"
    if sample_mode == "serial":
        Sampler = SerialSampler  # (Ignores workers_cpus.)
        print(f"Using serial sampler, {gpu_cpu} for sampling and optimizing.")
    elif sample_mode == "cpu":
        Sampler = CpuSampler
        print(f"Using CPU parallel sampler (agent in workers), {gpu_cpu} for optimizing.")
    elif sample_mode == "gpu":
        Sampler = GpuSampler
        print(
            f"Using GPU parallel sampler (agent in master), {gpu_cpu} for sampling and optimizing."
        )
    elif sample_mode == "alternating":
        from rlpyt.samplers.parallel.gpu.alternating_sampler import AlternatingSampler

        Sampler = AlternatingSampler
        affinity["workers_cpus"] += affinity["workers_cpus"]  # (Double list: two groups.)
        print(f"Using Alternating GPU parallel sampler, {gpu_cpu} for sampling and optimizing.")
    else:
        raise ValueError(f"sample_mode must be one of {SAMPLE_MODES}, got {sample_mode!r}")

    sampler = Sampler(
        EnvCls=AtariEnv,
        TrajInfoCls=AtariTrajInfo,
        env_kwargs=dict(game=game),
        batch_T=5,  # 5 time-steps per sampler iteration.
        batch_B=16,  # 16 parallel environments.
        max_decorrelation_steps=400,
    )
    algo = A2C()  # Run with defaults.
    agent = AtariFfAgent()
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        log_interval_steps=min(1e5, n_steps),  # (At least one log in short runs.)
        affinity=affinity,
    )
    config = dict(game=game, sample_mode=sample_mode, n_parallel=n_parallel)
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
        "--sample_mode",
        help="serial or parallel sampling",
        type=str,
        default="serial",
        choices=SAMPLE_MODES,
    )
    parser.add_argument(
        "--n_parallel", help="number of sampler workers (CPU cores)", type=int, default=2
    )
    parser.add_argument("--n_steps", help="total env steps", type=float, default=50e6)
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_3")
    args = parser.parse_args()
    build_and_train(
        game=args.game,
        run_ID=args.run_ID,
        cuda_idx=args.cuda_idx,
        sample_mode=args.sample_mode,
        n_parallel=args.n_parallel,
        n_steps=args.n_steps,
        log_dir=args.log_dir,
    )
