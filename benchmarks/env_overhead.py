"""What rlpyt's env layer costs, measured side by side in one run; prints one JSON object.

(a) CartPole-v1: ``rlpyt.envs.gym.gym_make`` against raw ``gymnasium.make``.
(b) Pong: ``AtariEnv`` against gymnasium's standard Atari stack
    (``ALE/Pong-v5`` + ``AtariPreprocessing`` + ``FrameStackObservation``).

Each pair steps the same precomputed random actions (resetting when the episode
or game ends). Rounds are interleaved, alternating which side runs first, and
the median steps/s of each side is reported with the ratios::

    cartpole_wrapper_cost = raw_steps_per_s / wrapper_steps_per_s   (target <= 1.3)
    atari_speedup = atari_env_steps_per_s / gym_stack_steps_per_s   (target >= 1.0)

Usage: ``python benchmarks/env_overhead.py [--steps-cartpole N] [--steps-atari N] [--rounds R]``
"""

import argparse
import json
import os
import platform
import statistics
import time

import ale_py
import cv2
import gymnasium
import numpy as np

from rlpyt.envs.atari.atari_env import AtariEnv
from rlpyt.envs.gym import gym_make

CARTPOLE_TARGET = 1.3  # raw / wrapper steps per second, at most
ATARI_TARGET = 1.0  # AtariEnv / gymnasium stack steps per second, at least

ATARI_SETTINGS = dict(
    game="pong",
    frame_skip=4,
    num_img_obs=4,
    frame_shape=(84, 84),
    max_start_noops=30,
    repeat_action_probability=0.0,
    episodic_lives=False,  # the gymnasium stack resets only at game over too
    clip_reward=False,  # AtariPreprocessing does not clip
    fire_on_reset=False,
)


def make_raw_cartpole():
    env = gymnasium.make("CartPole-v1")
    env.reset(seed=0)
    return env


def make_rlpyt_cartpole():
    env = gym_make("CartPole-v1")
    env.seed(0)
    env.reset()
    return env


def make_atari_env():
    env = AtariEnv(**ATARI_SETTINGS, seed=0)
    env.reset()
    return env


def make_gym_atari_stack():
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    gymnasium.register_envs(ale_py)
    env = gymnasium.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
    env = AtariPreprocessing(env, frame_skip=4, screen_size=84, grayscale_obs=True, noop_max=30)
    env = FrameStackObservation(env, 4)
    env.reset(seed=0)
    return env


def run_gymnasium(env, actions) -> float:
    """Steps/s of a gymnasium env over ``actions``, resetting at episode ends."""
    step, reset = env.step, env.reset
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = step(a)
        if terminated or truncated:
            reset()
    return len(actions) / (time.perf_counter() - start)


def run_rlpyt(env, actions, reset_field: str) -> float:
    """Steps/s of an rlpyt env, resetting when ``done`` or ``env_info.traj_done``."""
    step, reset = env.step, env.reset
    start = time.perf_counter()
    if reset_field == "done":
        for a in actions:
            if step(a).done:
                reset()
    else:
        for a in actions:
            if step(a).env_info.traj_done:
                reset()
    return len(actions) / (time.perf_counter() - start)


def compare(run_a, run_b, rounds: int) -> tuple[list[float], list[float]]:
    """Interleaved rounds of two runs, alternating which goes first."""
    a_rates, b_rates = [], []
    for r in range(rounds):
        if r % 2 == 0:
            a_rates.append(run_a())
            b_rates.append(run_b())
        else:
            b_rates.append(run_b())
            a_rates.append(run_a())
    return a_rates, b_rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-cartpole", type=int, default=50000)
    parser.add_argument("--steps-atari", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner on stdout

    rng = np.random.default_rng(0)
    raw_cp, rlpyt_cp = make_raw_cartpole(), make_rlpyt_cartpole()
    cp_actions = list(rng.integers(0, 2, size=args.steps_cartpole))  # np.int64 each
    cp_raw, cp_wrapped = compare(
        lambda: run_gymnasium(raw_cp, cp_actions),
        lambda: run_rlpyt(rlpyt_cp, cp_actions, "done"),
        args.rounds,
    )
    raw_cp.close()
    rlpyt_cp.close()

    atari, stack = make_atari_env(), make_gym_atari_stack()
    n_actions = atari.action_space.n
    assert n_actions == stack.action_space.n, "the two Pong envs disagree on the actions"
    atari_actions = list(rng.integers(0, n_actions, size=args.steps_atari))
    at_rlpyt, at_gym = compare(
        lambda: run_rlpyt(atari, atari_actions, "traj_done"),
        lambda: run_gymnasium(stack, atari_actions),
        args.rounds,
    )
    atari.close()
    stack.close()

    med = statistics.median
    cartpole_cost = med(cp_raw) / med(cp_wrapped)
    atari_speedup = med(at_rlpyt) / med(at_gym)
    result = {
        "benchmark": "env_overhead",
        "rounds": args.rounds,
        "cartpole": {
            "env": "CartPole-v1",
            "steps_per_round": args.steps_cartpole,
            "raw_gymnasium_steps_per_s": round(med(cp_raw)),
            "rlpyt_gym_make_steps_per_s": round(med(cp_wrapped)),
            "raw_rounds": [round(x) for x in cp_raw],
            "rlpyt_rounds": [round(x) for x in cp_wrapped],
        },
        "atari": {
            "steps_per_round": args.steps_atari,
            "atari_env_steps_per_s": round(med(at_rlpyt)),
            "gym_stack_steps_per_s": round(med(at_gym)),
            "atari_env_rounds": [round(x) for x in at_rlpyt],
            "gym_stack_rounds": [round(x) for x in at_gym],
            "atari_env_settings": {**ATARI_SETTINGS, "frame_shape": [84, 84]},
            "gym_stack": (
                'FrameStackObservation(AtariPreprocessing(gymnasium.make("ALE/Pong-v5", '
                "frameskip=1, repeat_action_probability=0.0), frame_skip=4, screen_size=84, "
                "grayscale_obs=True, noop_max=30), 4)"
            ),
            "reset_on": "AtariEnv: env_info.traj_done; gymnasium: terminated or truncated",
        },
        "cartpole_wrapper_cost": round(cartpole_cost, 3),
        "atari_speedup": round(atari_speedup, 3),
        "targets": {
            "cartpole_wrapper_cost_max": CARTPOLE_TARGET,
            "atari_speedup_min": ATARI_TARGET,
        },
        "targets_met": {
            "cartpole_wrapper_cost": cartpole_cost <= CARTPOLE_TARGET,
            "atari_speedup": atari_speedup >= ATARI_TARGET,
        },
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "gymnasium": gymnasium.__version__,
            "ale_py": ale_py.__version__,
            "opencv": cv2.__version__,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
