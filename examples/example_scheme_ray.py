"""IMPALA on an Atari game with the decoupled collection / gradient / update scheme on Ray.

:class:`~rlpyt.runners.scheme.SchemeRl` runs ``--collection_workers`` Ray actors that step
``--envs_per_worker`` Atari envs each with a copy of the policy, ``--gradient_workers`` actors
that compute IMPALA's gradients on their collection workers' rollouts, and an update stage
(``--update_stage central``: this process averages and applies the gradients;
``decentralised``: the gradient workers all-reduce them with torch.distributed). Each link
(``--collection``, ``--update``) is ``sync`` or ``async``; V-trace corrects the policy lag of
the asynchronous ones. The settings are TorchBeast monobeast's (unrolls of 80 steps,
RMSprop lr 4.8e-4 decaying linearly, entropy cost 0.0006, rewards clipped).

On this machine (a local Ray instance of just the CPUs the workers reserve)::

    python examples/example_scheme_ray.py --game pong --collection_workers 2

On a Ray cluster (``ray start --head`` on one node, ``ray start --address HEAD:6379`` on the
others), from any node: ``RAY_ADDRESS`` names the cluster, or ``--address``::

    RAY_ADDRESS=auto python examples/example_scheme_ray.py --collection_workers 32 \\
        --gradient_workers 4 --update_stage decentralised --collection async --update sync

Each gradient worker and its collection workers share one placement-group bundle
(``--placement_strategy PACK``: as few nodes as fit; ``SPREAD``: across nodes). With
``--gradient_gpus 0.5`` each gradient worker computes on half a GPU. Needs
``pip install 'rlpyt[ray]'``. The same run from the command line (resumable with
``--resume``): ``python -m rlpyt train --algo impala --env pong --runner scheme --set
scheme.collection_workers=32 ...``.
"""

import argparse
import os

from rlpyt.agents.pg.atari import AtariFfAgent
from rlpyt.algos.pg.impala import IMPALA
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.runners.scheme import SchemeConfig, SchemeRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context


def build_and_train(
    game="pong",
    n_steps=10_000_000,
    seed=None,
    address=None,
    collection_workers=2,
    gradient_workers=1,
    envs_per_worker=4,
    update_stage="central",
    collection="sync",
    update="sync",
    placement_strategy="PACK",
    gradient_gpus=0.0,
    batch_T=80,
    max_restarts=0,
    log_interval_steps=100_000,
    log_dir="data/local/example_scheme_ray",
    run_ID=0,
):
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray_init_kwargs = dict(address=address)  # join the cluster: it has its own CPUs
    else:
        # A local instance of as many CPUs as the workers reserve (one each).
        n_cpus = collection_workers + gradient_workers
        ray_init_kwargs = dict(num_cpus=n_cpus, include_dashboard=False, log_to_driver=False)
    scheme = SchemeConfig(
        collection_workers=collection_workers,
        gradient_workers=gradient_workers,
        update_stage=update_stage,
        collection=collection,
        update=update,
        gradient_num_gpus=gradient_gpus,
        placement_strategy=placement_strategy,
        max_restarts=max_restarts,
        ray_init_kwargs=ray_init_kwargs,
    )
    sampler = SerialSampler(  # carries the collection settings; the collection workers step
        EnvCls=AtariEnv,
        env_kwargs=dict(game=game),
        batch_T=batch_T,
        batch_B=envs_per_worker,  # per collection worker
        max_decorrelation_steps=1000,
        TrajInfoCls=AtariTrajInfo,
    )
    runner = SchemeRl(
        algo=IMPALA(),  # monobeast's defaults
        agent=AtariFfAgent(),
        sampler=sampler,
        n_steps=n_steps,
        scheme=scheme,
        seed=seed,
        log_interval_steps=log_interval_steps,
        affinity=dict(torch_threads=1),
    )
    config = dict(game=game, **{k: v for k, v in vars(scheme).items() if k != "ray_init_kwargs"})
    with logger_context(log_dir, run_ID, f"impala_scheme_{game}", config, snapshot_mode="last"):
        runner.train()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--game", default="pong", help="ale-py game name")
    parser.add_argument("--n_steps", help="total env steps", type=float, default=10e6)
    parser.add_argument("--seed", help="run seed (random if not given)", type=int, default=None)
    parser.add_argument("--address", help="Ray cluster (default: $RAY_ADDRESS, else local)")
    parser.add_argument("--collection_workers", type=int, default=2, help="N collection actors")
    parser.add_argument("--gradient_workers", type=int, default=1, help="M gradient actors")
    parser.add_argument("--envs_per_worker", type=int, default=4, help="envs of each collector")
    parser.add_argument("--update_stage", choices=("central", "decentralised"), default="central")
    parser.add_argument("--collection", choices=("sync", "async"), default="sync")
    parser.add_argument("--update", choices=("sync", "async"), default="sync")
    parser.add_argument("--placement_strategy", choices=("PACK", "SPREAD"), default="PACK")
    parser.add_argument("--gradient_gpus", type=float, default=0.0, help="GPU per grad. worker")
    parser.add_argument("--batch_T", type=int, default=80, help="rollout length")
    parser.add_argument("--max_restarts", type=int, default=0, help="collector deaths survived")
    parser.add_argument("--log_interval_steps", type=float, default=1e5)
    parser.add_argument("--log_dir", default="data/local/example_scheme_ray")
    parser.add_argument("--run_ID", type=int, default=0)
    args = parser.parse_args()
    build_and_train(
        game=args.game,
        n_steps=int(args.n_steps),
        seed=args.seed,
        address=args.address,
        collection_workers=args.collection_workers,
        gradient_workers=args.gradient_workers,
        envs_per_worker=args.envs_per_worker,
        update_stage=args.update_stage,
        collection=args.collection,
        update=args.update,
        placement_strategy=args.placement_strategy,
        gradient_gpus=args.gradient_gpus,
        batch_T=args.batch_T,
        max_restarts=args.max_restarts,
        log_interval_steps=int(args.log_interval_steps),
        log_dir=args.log_dir,
        run_ID=args.run_ID,
    )
