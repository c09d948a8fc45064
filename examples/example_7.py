"""
Trains with several learner processes at once: synchronous data-parallel training with
``SyncRl`` (``torch.distributed``). Each learner has its own sampler and its own copy of the
agent; their gradients are averaged over all learners in every backward pass, so the learners
stay identical and together train on ``n_learners`` times the batch of one. Only the first
learner (this process) logs and writes snapshots.

On GPUs (``--cuda``) learner ``r`` optimizes on GPU ``r`` and the learners talk over NCCL;
without, they run on the CPU and talk over gloo (on this 2-core machine: 2 CPU learners, one
core each). Each learner's envs are its own slice of ``n_learners * batch_B`` envs, seeded by
their global index. The learners are spawned processes, hence the ``__main__`` guard below.

Sample modes (per learner): ``serial`` (envs in the learner process) or ``cpu`` (``CpuSampler``
workers on the learner's core(s)).

    python examples/example_7.py --n_learners 2 --n_steps 2e5
    python examples/example_7.py --n_learners 2 --cuda --sample_mode cpu
"""

import os
import warnings

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.envs.gym import gym_make
from rlpyt.runners.sync_rl import SyncRl, SyncRlEval
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

SAMPLE_MODES = ["serial", "cpu"]


def learner_affinities(n_learners, cuda=False):
    """One affinity dict per learner: the usable cores split evenly, GPU ``r`` for learner ``r``.

    With fewer cores than learners, learners share cores (with a warning).
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    if n_learners > len(cores):
        warnings.warn(
            f"{n_learners} learners on {len(cores)} CPU cores: learners share cores",
            stacklevel=2,
        )
    per = max(1, len(cores) // n_learners)
    affinities = []
    for r in range(n_learners):
        mine = [cores[(r * per + i) % len(cores)] for i in range(per)]
        affinities.append(
            dict(
                cuda_idx=r if cuda else None,
                workers_cpus=mine,
                master_cpus=mine,
                torch_threads=len(mine),
            )
        )
    return affinities


def build_and_train(
    env_id="CartPole-v1",
    run_ID=0,
    n_learners=2,
    cuda=False,
    sample_mode="serial",
    evaluate=False,
    n_steps=2e5,
    log_interval_steps=1e4,
    log_dir="data/local/example_7",
):
    if sample_mode not in SAMPLE_MODES:
        raise ValueError(f"sample_mode must be one of {SAMPLE_MODES}, got {sample_mode!r}")
    Sampler = SerialSampler if sample_mode == "serial" else CpuSampler
    sampler = Sampler(
        EnvCls=gym_make,
        env_kwargs=dict(id=env_id),
        eval_env_kwargs=dict(id=env_id),
        batch_T=16,  # 16 time-steps per sampler iteration...
        batch_B=4,  # ...of 4 envs, in each learner.
        max_decorrelation_steps=100,
        eval_n_envs=2 if evaluate else 0,
        eval_max_steps=2000,
    )
    algo = A2C(learning_rate=3e-3, gae_lambda=0.95)
    agent = MlpFfAgent(model_kwargs=dict(normalize_observation=True))
    Runner = SyncRlEval if evaluate else SyncRl
    runner = Runner(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,  # In all, over every learner.
        log_interval_steps=min(log_interval_steps, n_steps),
        affinity=learner_affinities(n_learners, cuda),
        seed=run_ID,
    )
    config = dict(env_id=env_id, n_learners=n_learners, cuda=cuda, sample_mode=sample_mode)
    name = f"sync_a2c_{env_id}"
    with logger_context(log_dir, run_ID, name, config, snapshot_mode="last"):
        runner.train()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--env_id", help="gymnasium environment id", default="CartPole-v1")
    parser.add_argument("--run_ID", help="run identifier (logging, seed)", type=int, default=0)
    parser.add_argument("--n_learners", help="learner processes", type=int, default=2)
    parser.add_argument("--cuda", help="one GPU per learner (NCCL)", action="store_true")
    parser.add_argument("--sample_mode", default="serial", choices=SAMPLE_MODES)
    parser.add_argument("--eval", help="log offline evaluations (SyncRlEval)", action="store_true")
    parser.add_argument("--n_steps", help="total env steps", type=float, default=2e5)
    parser.add_argument("--log_interval_steps", type=float, default=1e4)
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_7")
    args = parser.parse_args()
    build_and_train(
        env_id=args.env_id,
        run_ID=args.run_ID,
        n_learners=args.n_learners,
        cuda=args.cuda,
        sample_mode=args.sample_mode,
        evaluate=args.eval,
        n_steps=args.n_steps,
        log_interval_steps=args.log_interval_steps,
        log_dir=args.log_dir,
    )
