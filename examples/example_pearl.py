"""PEARL meta-RL on the 2-D point robot (Rakelly et al. 2019), on the CPU.

Meta-trains on 40 training goals and meta-tests on 10 held-out goals: from the prior,
one exploration trajectory, then two with z inferred from it. A budget that fits two
CPU cores in well under 30 minutes, with the settings that reached -9 at that scale
(benchmarks/pearl_point_robot.py, docs/benchmarks.md "PEARL"): reward scale 10, learning
rate 1e-3 and rank-1 precision factors in the encoder; ``--paper`` runs the paper's
point-robot config (diagonal factors, reward scale 100, learning rate 3e-4) instead.

    python examples/example_pearl.py --n_itr 40 --run_ID 0
"""

import argparse

import torch

from rlpyt.agents.qpg.pearl_agent import PearlAgent
from rlpyt.algos.qpg.pearl import PEARL
from rlpyt.envs.meta import meta_make
from rlpyt.runners.meta_rl import MetaRl
from rlpyt.samplers.meta import MetaSerialSampler
from rlpyt.utils.logging.context import logger_context


def build_and_train(n_itr=40, run_ID=0, seed=1, paper=False, log_dir=None):
    torch.set_num_threads(1)
    sampler = MetaSerialSampler(
        EnvCls=meta_make,
        env_kwargs=dict(name="point-robot"),
        n_train_tasks=80 if paper else 40,
        n_test_tasks=20 if paper else 10,
        num_initial_steps=200,
        num_tasks_sample=5,
        num_steps_prior=200,
        num_steps_posterior=0,
        num_extra_rl_steps_posterior=200,
        embedding_batch_size=64,
        num_steps_per_eval=60,
        num_exp_traj_eval=1,
    )
    agent = PearlAgent(
        latent_size=5,
        hidden_sizes=(300, 300, 300) if paper else (128, 128),
        encoder_hidden_sizes=(200, 200, 200) if paper else (128, 128),
        encoder_precision_rank=0 if paper else 1,
    )
    algo = PEARL(
        meta_batch=16 if paper else 8,
        num_train_steps_per_itr=1000 if paper else 250,
        embedding_batch_size=64,
        batch_size=256,
        reward_scale=100.0 if paper else 10.0,
        learning_rate=3e-4 if paper else 1e-3,
        kl_lambda=0.1,
    )
    runner = MetaRl(algo=algo, agent=agent, sampler=sampler, n_itr=n_itr, seed=seed,
                    log_interval_itrs=min(5, n_itr), affinity=dict(torch_threads=1))  # fmt: skip
    config = dict(env="point-robot", n_itr=n_itr, paper=paper)
    with logger_context(
        log_dir or "data", run_ID, "pearl_point_robot", config, snapshot_mode="last"
    ):
        runner.train()
    return runner


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n_itr", type=int, default=40)
    parser.add_argument("--run_ID", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--paper", action="store_true")
    parser.add_argument("--log_dir", default=None)
    args = parser.parse_args()
    build_and_train(args.n_itr, args.run_ID, args.seed, args.paper, args.log_dir)
