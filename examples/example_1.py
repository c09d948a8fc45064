"""
Runs one Atari environment in this one process and optimizes a DQN agent, evaluating it
offline at every log interval. No parallelism employed, so everything happens in one python
process; can be easier to debug. Can use a GPU for the agent (applies to both sample and
train). The replay buffer stores each 84x84 frame once and rebuilds the frame stacks when it
samples.

The kwarg snapshot_mode="last" to logger context will save the latest snapshot (agent, target
network, optimizer, replay buffer when it is under 2 GiB, sampler and RNG state: enough to
resume) at every log point, as params.pkl.

In viskit or rlpyt.utils.plot, whatever (nested) key-value pairs appear in config become keys
in params.json for grouping several experiments.

    python examples/example_1.py --game pong --n_steps 1e6
"""

from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.runners.minibatch_rl import MinibatchRlEval
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context


def build_and_train(
    game="pong",
    run_ID=0,
    cuda_idx=None,
    n_steps=50e6,
    log_dir="data/local/example_1",
    eval_max_steps=int(10e3),
    min_steps_learn=int(1e3),
    replay_size=int(1e6),
):
    sampler = SerialSampler(
        EnvCls=AtariEnv,
        TrajInfoCls=AtariTrajInfo,  # default traj info + GameScore
        env_kwargs=dict(game=game),
        eval_env_kwargs=dict(game=game),
        batch_T=4,  # Four time-steps per sampler iteration.
        batch_B=1,
        max_decorrelation_steps=0,
        eval_n_envs=10,
        eval_max_steps=eval_max_steps,  # Env steps per evaluation, over all eval envs.
        eval_max_trajectories=5,
    )
    algo = DQN(min_steps_learn=min_steps_learn, replay_size=replay_size)  # Else defaults.
    agent = AtariDqnAgent()
    runner = MinibatchRlEval(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        log_interval_steps=min(1e3, n_steps),  # (At least one log in short runs.)
        affinity=dict(cuda_idx=cuda_idx),
    )
    config = dict(game=game)
    name = "dqn_" + game
    with logger_context(log_dir, run_ID, name, config, snapshot_mode="last"):
        runner.train()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--game", help="Atari game", default="pong")
    parser.add_argument("--run_ID", help="run identifier (logging)", type=int, default=0)
    parser.add_argument("--cuda_idx", help="gpu to use ", type=int, default=None)
    parser.add_argument("--n_steps", help="total env steps", type=float, default=50e6)
    parser.add_argument("--log_dir", help="experiment dir", default="data/local/example_1")
    parser.add_argument(
        "--eval_max_steps", help="env steps per evaluation", type=int, default=int(10e3)
    )
    parser.add_argument(
        "--min_steps_learn", help="env steps before learning", type=int, default=int(1e3)
    )
    parser.add_argument("--replay_size", help="replay capacity", type=int, default=int(1e6))
    args = parser.parse_args()
    build_and_train(
        game=args.game,
        run_ID=args.run_ID,
        cuda_idx=args.cuda_idx,
        n_steps=args.n_steps,
        log_dir=args.log_dir,
        eval_max_steps=args.eval_max_steps,
        min_steps_learn=args.min_steps_learn,
        replay_size=args.replay_size,
    )
