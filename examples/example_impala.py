"""IMPALA on CartPole-v1 on this machine: collection decoupled from training (V-trace).

Two layouts of the same agent and algorithm (``--runner``):

* ``scheme`` (default): :class:`~rlpyt.runners.scheme.SchemeRl` in its debug mode
  (``remote=False``: no Ray, every worker an object in this process): two collection workers
  of 16 envs, one gradient worker, a central update. ``--collection sync`` (default) trains on
  what the current weights collected (policy lag 0); ``--collection async`` lets the collection
  workers run ahead of the gradient worker. The same configuration with ``remote=True`` runs
  on Ray (``examples/example_scheme_ray.py``).
* ``actor_learner``: :class:`~rlpyt.runners.actor_learner.ActorLearnerRl`. A sampler process
  steps the envs with a copy of the policy that lags the learner by a few updates and hands
  over whole rollouts through a bounded queue; this process trains on each as it arrives.

V-trace corrects for the lag, which is logged (``PolicyLag*`` columns). The settings are the
CLI's for CartPole (``python -m rlpyt train --algo impala --env CartPole-v1``: 32 envs x 20
steps, RMSprop lr 2e-3 decaying linearly). Seed 1, 300k steps (2 shared cores, 2026-12-06):
``--runner scheme`` first logs a mean return >= 475 at 235,520 steps (493; 111 s);
``--runner actor_learner`` peaks at 385 (85 s)::

    python examples/example_impala.py --seed 1
    python examples/example_impala.py --runner actor_learner
"""

import argparse

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.impala import IMPALA
from rlpyt.envs.gym import gym_make
from rlpyt.runners.actor_learner import ActorLearnerRl
from rlpyt.runners.scheme import SchemeConfig, SchemeRl
from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

# The CLI's CartPole settings (rlpyt/cli/configs.py).
BATCH_T, BATCH_B = 20, 32
ALGO_KWARGS = dict(learning_rate=2e-3, entropy_loss_coeff=0.0)


def build_and_train(
    n_steps=300_000,
    seed=None,
    runner="scheme",
    collection="sync",
    log_dir="data/local/example_impala",
    run_ID=0,
):
    algo = IMPALA(**ALGO_KWARGS)
    agent = MlpFfAgent()
    common = dict(n_steps=n_steps, seed=seed, log_interval_steps=max(n_steps // 10, 1))
    if runner == "actor_learner":
        sampler = AsyncSerialSampler(
            EnvCls=gym_make,
            env_kwargs=dict(id="CartPole-v1"),
            batch_T=BATCH_T,
            batch_B=BATCH_B,
            max_decorrelation_steps=100,
        )
        run = ActorLearnerRl(algo, agent, sampler, affinity=dict(torch_threads=1), **common)
    else:
        # Two collection workers of 16 envs each, one gradient worker, a central update.
        sampler = SerialSampler(  # carries the collection settings; never started
            EnvCls=gym_make,
            env_kwargs=dict(id="CartPole-v1"),
            batch_T=BATCH_T,
            batch_B=BATCH_B // 2,
            max_decorrelation_steps=100,
        )
        scheme = SchemeConfig(collection_workers=2, collection=collection, remote=False)
        run = SchemeRl(algo, agent, sampler, scheme=scheme, **common)
    config = dict(env_id="CartPole-v1", runner=runner, collection=collection, **ALGO_KWARGS)
    with logger_context(log_dir, run_ID, "impala_CartPole-v1", config, snapshot_mode="last"):
        run.train()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n_steps", help="total env steps", type=int, default=300_000)
    parser.add_argument("--seed", help="run seed (random if not given)", type=int, default=None)
    parser.add_argument("--runner", choices=("scheme", "actor_learner"), default="scheme")
    parser.add_argument(
        "--collection", choices=("sync", "async"), default="sync", help="--runner scheme's link"
    )
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_impala")
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    args = parser.parse_args()
    build_and_train(
        n_steps=args.n_steps,
        seed=args.seed,
        runner=args.runner,
        collection=args.collection,
        log_dir=args.log_dir,
        run_ID=args.run_ID,
    )
