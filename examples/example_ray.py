"""PPO on CartPole-v1 with the envs stepped by Ray actors: one script, laptop to cluster.

The sampler is :class:`~rlpyt.samplers.ray.sampler.RaySampler`: ``n_workers`` Ray actors,
each stepping its share of the ``batch_B`` envs with its own CPU copy of the agent; the
agent's weights go out through Ray's object store after each optimisation (only when they
changed). The runner, agent and algorithm are exactly those of a local run.

Ray is started (and stopped at the end) by the sampler, from ``ray_init_kwargs``: a local
instance, or with ``--address`` a connection to a running cluster. On this machine::

    python examples/example_ray.py --n_steps 50000

On a cluster started with ``ray start`` (run on the head node; the actors go wherever Ray
finds free CPUs)::

    python examples/example_ray.py --address auto --n_workers 16 --batch_B 64

Needs the optional extra: ``pip install 'rlpyt[ray]'``. With ``--max_restarts N`` the run
survives up to N actor deaths (the actor is restarted and its part of the batch
collected again).
"""

import argparse

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.ppo import PPO
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.ray.sampler import RaySampler
from rlpyt.utils.logging.context import logger_context


def build_and_train(
    n_steps=50_000,
    seed=None,
    address=None,
    n_workers=2,
    batch_B=8,
    max_restarts=0,
    log_dir="data/local/example_ray",
    run_ID=0,
):
    if address is not None:
        ray_init_kwargs = dict(address=address)  # join a running cluster
    else:
        ray_init_kwargs = dict(num_cpus=n_workers, include_dashboard=False, log_to_driver=False)
    sampler = RaySampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="CartPole-v1"),
        batch_T=32,
        batch_B=batch_B,
        max_decorrelation_steps=100,
        n_workers=n_workers,  # Ray actors; each reserves one CPU
        max_restarts=max_restarts,
        ray_init_kwargs=ray_init_kwargs,  # Ray stops again when the runner shuts the sampler
    )
    runner = MinibatchRl(
        algo=PPO(discount=0.98, learning_rate=1e-3, gae_lambda=0.8, epochs=10),
        agent=MlpFfAgent(),
        sampler=sampler,
        n_steps=n_steps,
        log_interval_steps=max(n_steps // 5, 1),
        seed=seed,
        affinity=dict(cuda_idx=None, torch_threads=1),
    )
    config = dict(env_id="CartPole-v1", n_workers=n_workers, batch_B=batch_B)
    with logger_context(log_dir, run_ID, "ppo_ray_CartPole-v1", config, snapshot_mode="last"):
        runner.train()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n_steps", help="total env steps", type=int, default=50_000)
    parser.add_argument("--seed", help="run seed (random if not given)", type=int, default=None)
    parser.add_argument("--address", help="Ray cluster address ('auto': the local cluster)")
    parser.add_argument("--n_workers", help="Ray actors stepping envs", type=int, default=2)
    parser.add_argument("--batch_B", help="envs in all", type=int, default=8)
    parser.add_argument("--max_restarts", help="actor deaths survived", type=int, default=0)
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_ray")
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    args = parser.parse_args()
    build_and_train(
        n_steps=args.n_steps,
        seed=args.seed,
        address=args.address,
        n_workers=args.n_workers,
        batch_B=args.batch_B,
        max_restarts=args.max_restarts,
        log_dir=args.log_dir,
        run_ID=args.run_ID,
    )
