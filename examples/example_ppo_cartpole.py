"""PPO on CartPole-v1, the whole of rlpyt in one page: sampler, agent, algorithm, runner, logs.

Trains in about a minute on two CPU cores and reaches the maximum return of 500::

    python examples/example_ppo_cartpole.py --n_steps 100000 --seed 1

The run writes ``progress.csv`` (one row per log interval), ``params.json``, ``debug.log`` and
a snapshot ``params.pkl`` into ``{log_dir}/run_{run_ID}``, then plots the learning curve there.
``python -m rlpyt train --algo ppo --env CartPole-v1`` runs the same thing from a config.
"""

import argparse
import os

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.ppo import PPO
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context
from rlpyt.utils.plot import plot_curves


def build_and_train(
    n_steps=100_000, seed=None, log_dir="data/local/example_ppo_cartpole", run_ID=0
):
    # The sampler steps batch_B envs for batch_T steps per iteration, all in this process:
    # each iteration yields a [T, B] = [32, 8] batch of 256 env steps.
    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="CartPole-v1"),
        batch_T=32,
        batch_B=8,
        max_decorrelation_steps=100,  # random steps at start: episodes out of phase
    )
    # The agent: an MLP with a categorical policy head and a value head (sizes from the env).
    agent = MlpFfAgent()
    # PPO with RL Zoo's tuned CartPole settings: 20 epochs over each 256-step batch in one
    # minibatch, GAE lambda 0.8, and learning rate and clip range decayed linearly to 0.
    algo = PPO(
        discount=0.98,
        learning_rate=1e-3,
        gae_lambda=0.8,
        epochs=20,
        minibatches=1,
        ratio_clip=0.2,
        entropy_loss_coeff=0.0,
        value_loss_coeff=0.5,
        linear_lr_schedule=True,
        normalize_advantage=True,
        clip_grad_norm=0.5,
    )
    # The runner's loop: sample a batch, optimize the agent on it, and every log interval write
    # a row of diagnostics and a snapshot. One torch thread is fastest for models this small.
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        log_interval_steps=max(n_steps // 10, 1),  # about ten log rows whatever the budget
        seed=seed,
        affinity=dict(cuda_idx=None, torch_threads=1),
    )
    # Everything logged inside the block goes to {log_dir}/run_{run_ID}; the params are stored
    # in params.json; snapshot_mode="last" keeps the latest snapshot as params.pkl.
    log_params = dict(env_id="CartPole-v1", n_steps=n_steps, seed=seed)
    with logger_context(
        log_dir, run_ID, "ppo_CartPole-v1", log_params, snapshot_mode="last"
    ) as run_logger:
        runner.train()
    # Plot ReturnAverage against CumSteps from the run's progress.csv.
    return plot_curves([run_logger.run_dir], out=os.path.join(run_logger.run_dir, "curves.png"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n_steps", help="total env steps", type=int, default=100_000)
    parser.add_argument("--seed", help="run seed (random if not given)", type=int, default=None)
    parser.add_argument(
        "--log_dir", help="experiment dir", default="data/local/example_ppo_cartpole"
    )
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    args = parser.parse_args()
    png = build_and_train(
        n_steps=args.n_steps, seed=args.seed, log_dir=args.log_dir, run_ID=args.run_ID
    )
    print(f"Learning curve: {png}")
