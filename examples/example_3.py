"""
Runs multiple instances of the Atari environment and optimizes using A2C
algorithm. Can choose between configurations for use of CPU/GPU for sampling
(serial or parallel) and optimization (serial).

Only sample_mode "serial" is available yet: the parallel modes of the original
("cpu": agent copies in worker processes; "gpu": workers step the envs, the agent
acts for all of them in the master; "alternating": two groups of GPU-sampler
workers in turn) arrive with the parallel-sampling milestone, and this example
will accept them then.

    python examples/example_3.py --game pong --sample_mode serial --n_steps 1e6
"""

from rlpyt.agents.pg.atari import AtariFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

SAMPLE_MODES = ["serial"]  # + "cpu", "gpu", "alternating" with parallel sampling


def build_and_train(
    game="pong",
    run_ID=0,
    cuda_idx=None,
    sample_mode="serial",
    n_parallel=2,
    n_steps=50e6,
    log_dir="data/local/example_3",
):
    affinity = dict(cuda_idx=cuda_idx, workers_cpus=list(range(n_parallel)))
    gpu_cpu = "CPU" if cuda_idx is None else f"GPU {cuda_idx}"
    if sample_mode == "serial":
        Sampler = SerialSampler  # (Ignores workers_cpus.)
        print(f"Using serial sampler, {gpu_cpu} for sampling and optimizing.")
    else:
        raise ValueError(
            f"sample_mode {sample_mode!r} is not available yet (only {SAMPLE_MODES}): "
            "the parallel samplers arrive with the parallel-sampling milestone"
        )

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
    config = dict(game=game, sample_mode=sample_mode)
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
        help="serial or parallel sampling (parallel modes: not yet)",
        type=str,
        default="serial",
        choices=SAMPLE_MODES,
    )
    parser.add_argument("--n_parallel", help="number of sampler workers", type=int, default=2)
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
