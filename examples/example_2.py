"""
Runs one MuJoCo environment (HalfCheetah-v5 by default) in this one process and optimizes a
soft actor-critic (SAC) agent, evaluating it offline at every log interval. Everything happens
in one python process (the serial sampler), which is easiest to debug.

MuJoCo comes with the optional extra (`pip install -e ".[mujoco]"`, part of `make venv`). When
it is not installed, the example says so and runs on Pendulum-v1 (classic control, built into
gymnasium) instead.

The agent's networks act in [-1, 1] per action dimension; actions are scaled to the env's box
(any low/high) when they are sent to the env. Time-limit truncations bootstrap from the final
observation.

    python examples/example_2.py --env HalfCheetah-v5 --n_steps 1e6
"""

import importlib.util
import sys

from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.algos.qpg.sac import SAC
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import MinibatchRlEval
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

FALLBACK_ENV = "Pendulum-v1"


def choose_env(env_id: str) -> str:
    """``env_id``, or Pendulum-v1 with a message when MuJoCo is needed but missing."""
    if env_id == FALLBACK_ENV or importlib.util.find_spec("mujoco") is not None:
        return env_id
    print(
        f"MuJoCo is not installed, so {env_id} cannot run: using {FALLBACK_ENV} instead. "
        'Install the extra with: pip install -e ".[mujoco]"',
        file=sys.stderr,
    )
    return FALLBACK_ENV


def build_and_train(
    env_id="HalfCheetah-v5",
    run_ID=0,
    cuda_idx=None,
    n_steps=1e6,
    log_dir="data/local/example_2",
    min_steps_learn=int(1e4),
    eval_max_steps=int(5e3),
):
    env_id = choose_env(env_id)
    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id=env_id),
        eval_env_kwargs=dict(id=env_id),
        batch_T=1,  # One time-step per sampler iteration.
        batch_B=1,  # One environment (i.e. sampler Batch dimension).
        max_decorrelation_steps=0,
        eval_n_envs=2,
        eval_max_steps=eval_max_steps,
        eval_max_trajectories=2,
    )
    algo = SAC(min_steps_learn=min_steps_learn)  # Run with defaults otherwise.
    agent = SacAgent()
    runner = MinibatchRlEval(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        log_interval_steps=min(1e4, n_steps),
        affinity=dict(cuda_idx=cuda_idx),
    )
    config = dict(env_id=env_id)
    with logger_context(log_dir, run_ID, "sac_" + env_id, config, snapshot_mode="last"):
        runner.train()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--env", help="gymnasium env id", default="HalfCheetah-v5")
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    parser.add_argument("--cuda_idx", help="gpu to use ", type=int, default=None)
    parser.add_argument("--n_steps", help="total env steps", type=float, default=1e6)
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_2")
    parser.add_argument(
        "--min_steps_learn", help="env steps before learning", type=int, default=int(1e4)
    )
    parser.add_argument(
        "--eval_max_steps", help="env steps per evaluation", type=int, default=int(5e3)
    )
    args = parser.parse_args()
    build_and_train(
        env_id=args.env,
        run_ID=args.run_ID,
        cuda_idx=args.cuda_idx,
        n_steps=args.n_steps,
        log_dir=args.log_dir,
        min_steps_learn=args.min_steps_learn,
        eval_max_steps=args.eval_max_steps,
    )
