"""rlpyt PPO against Stable-Baselines3 PPO on CartPole-v1, side by side; prints one JSON object.

Both libraries train with RL Zoo's CartPole-v1 PPO settings (rlpyt's
``rlpyt.cli.configs._PPO_CARTPOLE``): 8 envs x 32 steps (batch 256, one
minibatch of 256), 20 epochs, gamma 0.98, GAE lambda 0.8, learning rate 1e-3
and ratio clip 0.2 both decaying linearly to 0 over ``--max-steps``, value
coefficient 0.5, entropy coefficient 0, gradient-norm clip 0.5, normalised
advantages, Adam eps 1e-5 (SB3's PPO default); separate [64, 64] tanh policy and
value MLPs with orthogonal init.

Each run (one library, one seed) is a fresh spawned subprocess that first calls
``torch.set_num_threads(1)``; runs go one at a time, seed by seed, alternating
which library goes first. Two figures per run:

* collection steps/s: env steps divided by the time spent inside
  ``SerialSampler.obtain_samples`` (rlpyt) or ``PPO.collect_rollouts`` (SB3),
  timed by wrapping those calls. SB3 computes GAE inside ``collect_rollouts``
  (``rollout_buffer.compute_returns_and_advantage``); that call is timed too and
  subtracted, since rlpyt computes GAE in the optimisation step.
* seconds to solve: wall-clock from the start of training (after both sides
  have built envs, model and optimiser) until, checked right after each
  collection, the mean return of the last 20 completed training episodes is
  at least 475 (at least 20 episodes completed); null when not reached within
  ``--max-steps`` env steps. rlpyt: ``Return`` of the completed TrajInfos;
  SB3: ``Monitor`` episode rewards (``ep_info_buffer`` with
  ``stats_window_size=20``). Each side stops as soon as it has solved.

Ratios (medians over seeds; an unsolved run counts as infinitely slow)::

    collection_speedup = rlpyt / SB3 collection steps/s     (target >= 3.0)
    solve_time_ratio   = rlpyt / SB3 seconds to solve       (target <= 0.5)

and, as a diagnostic, ``iteration_time_ratio`` (rlpyt / SB3 median wall-clock
seconds per 256-step iteration of collection plus optimisation): the speed
part of ``solve_time_ratio``, without the seed-to-seed spread in how many
steps solving takes.

Usage: ``python benchmarks/ppo_cartpole.py [--seeds 3] [--max-steps 102400]``
"""

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
from collections import deque

from isolated import run_isolated

SOLVED_RETURN = 475.0
WINDOW = 20  # completed training episodes averaged for the solve check
COLLECTION_TARGET = 3.0
SOLVE_TARGET = 0.5
N_ENVS, N_STEPS = 8, 32
LOG_INTERVAL_ITRS = 40  # rlpyt runner log interval (10240 steps)
HYPERPARAMS = dict(
    n_envs=N_ENVS,
    n_steps=N_STEPS,
    batch_size=N_ENVS * N_STEPS,
    n_epochs=20,
    gamma=0.98,
    gae_lambda=0.8,
    learning_rate="linear 1e-3 -> 0",
    clip_range="linear 0.2 -> 0",
    ent_coef=0.0,
    vf_coef=0.5,
    max_grad_norm=0.5,
    normalize_advantage=True,
    net_arch="pi [64, 64], vf [64, 64], tanh, orthogonal init",
    adam_eps=1e-5,
)


class _Solved(Exception):
    """Raised inside the rlpyt runner's loop to stop it once solved."""


class _Tracker:
    """Collection time/steps and the solve check, shared by both sides."""

    def __init__(self, max_steps):
        self.max_steps = max_steps
        self.collect_time = 0.0
        self.collect_steps = 0
        self.returns = deque(maxlen=WINDOW)
        self.start = None
        self.solve_time = None
        self.solve_steps = None

    def check(self, steps, returns) -> bool:
        """True once solved; records the time at the first success."""
        if self.solve_time is None and len(returns) >= WINDOW:
            if sum(returns) / len(returns) >= SOLVED_RETURN:
                self.solve_time = time.perf_counter() - self.start
                self.solve_steps = steps
        return self.solve_time is not None

    def result(self, side, seed) -> dict:
        return {
            "side": side,
            "seed": seed,
            "collection_steps_per_s": self.collect_steps / self.collect_time,
            "collection_steps": self.collect_steps,
            "collection_seconds": self.collect_time,
            "solve_seconds": self.solve_time,
            "solve_env_steps": self.solve_steps,
            "run_seconds": time.perf_counter() - self.start,
            # Collection + optimisation time per 256-step iteration: speed without
            # the seed-to-seed luck in how many steps solving takes.
            "seconds_per_iteration": (time.perf_counter() - self.start)
            / (self.collect_steps / (N_ENVS * N_STEPS)),
        }


def run_rlpyt(seed: int, max_steps: int, env_backend: str = "gym_vector") -> dict:
    from rlpyt.agents.pg.mlp import MlpFfAgent
    from rlpyt.algos.pg.ppo import PPO
    from rlpyt.cli.configs import _PPO_CARTPOLE
    from rlpyt.envs.gym import gym_make
    from rlpyt.envs.vector import GymVectorEnvs
    from rlpyt.runners.minibatch_rl import MinibatchRl
    from rlpyt.samplers.serial.sampler import SerialSampler
    from rlpyt.utils.logging.context import logger_context

    tracker = _Tracker(max_steps)

    class TimedSampler(SerialSampler):
        def obtain_samples(self, itr):
            t0 = time.perf_counter()
            samples, traj_infos = super().obtain_samples(itr)
            tracker.collect_time += time.perf_counter() - t0
            tracker.collect_steps += self.batch_spec.size
            tracker.returns.extend(info.Return for info in traj_infos)
            if tracker.check((itr + 1) * self.batch_spec.size, tracker.returns):
                raise _Solved
            return samples, traj_infos

    class TimedRunner(MinibatchRl):
        def initialize_logging(self):  # the last set-up step before the loop
            super().initialize_logging()
            tracker.start = time.perf_counter()

    sampler = TimedSampler(
        # env.backend: the numpy CartPole steps the 8 envs in one call (same samples).
        EnvCls=GymVectorEnvs("CartPole-v1") if env_backend == "gym_vector" else gym_make,
        env_kwargs={} if env_backend == "gym_vector" else dict(id="CartPole-v1"),
        batch_T=N_STEPS,
        batch_B=N_ENVS,
        max_decorrelation_steps=100,
    )
    runner = TimedRunner(
        algo=PPO(**_PPO_CARTPOLE),
        agent=MlpFfAgent(),
        sampler=sampler,
        n_steps=max_steps,
        seed=seed,
        log_interval_steps=LOG_INTERVAL_ITRS * N_ENVS * N_STEPS,
        progress_bar=False,
    )
    with tempfile.TemporaryDirectory() as log_dir:
        with logger_context(log_dir, run_ID=seed, name="ppo_cartpole", snapshot_mode="none"):
            try:
                runner.train()
            except _Solved:
                pass
    return tracker.result("rlpyt", seed)


def run_sb3(seed: int, max_steps: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    tracker = _Tracker(max_steps)

    def linear(initial):
        return lambda progress_remaining: progress_remaining * initial

    env = make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=N_STEPS,
        batch_size=N_ENVS * N_STEPS,
        n_epochs=20,
        gamma=0.98,
        gae_lambda=0.8,
        learning_rate=linear(1e-3),
        clip_range=linear(0.2),
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        normalize_advantage=True,
        stats_window_size=WINDOW,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    gae_time = [0.0]
    compute_gae = model.rollout_buffer.compute_returns_and_advantage

    def timed_gae(*args, **kwargs):
        t0 = time.perf_counter()
        compute_gae(*args, **kwargs)
        gae_time[0] += time.perf_counter() - t0

    model.rollout_buffer.compute_returns_and_advantage = timed_gae
    collect_rollouts = model.collect_rollouts

    def timed_collect(*args, **kwargs):
        gae_before = gae_time[0]
        t0 = time.perf_counter()
        keep_going = collect_rollouts(*args, **kwargs)
        elapsed = time.perf_counter() - t0 - (gae_time[0] - gae_before)
        tracker.collect_time += elapsed
        tracker.collect_steps += N_ENVS * N_STEPS
        returns = [info["r"] for info in model.ep_info_buffer]
        if tracker.check(model.num_timesteps, returns):
            return False  # stops PPO.learn before training on this batch
        return keep_going

    model.collect_rollouts = timed_collect
    tracker.start = time.perf_counter()
    model.learn(total_timesteps=max_steps)
    env.close()
    return tracker.result("sb3", seed)


def run_in_subprocess(ctx, side, seed, max_steps, env_backend="gym_vector") -> dict:
    kwargs = dict(seed=seed, max_steps=max_steps)
    if side == "rlpyt":
        kwargs["env_backend"] = env_backend
    fn = run_rlpyt if side == "rlpyt" else run_sb3
    return run_isolated(ctx, fn, kwargs, f"{side} seed {seed}", threads=1)


def _median(values):
    return statistics.median(values) if values else None


def _solve_median(runs):
    """Median seconds to solve, unsolved runs counting as infinite (None if most failed)."""
    times = [r["solve_seconds"] if r["solve_seconds"] is not None else math.inf for r in runs]
    m = statistics.median(times)
    return None if math.isinf(m) else m


def _round(x, nd=3):
    return None if x is None else round(x, nd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per library (0, 1, ...)")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=102400,
        help="env steps cap and schedule horizon (rounded up to whole rlpyt log intervals)",
    )
    parser.add_argument(
        "--env-backend",
        choices=("gym_vector", "python"),
        default="gym_vector",
        help="rlpyt's env.backend: gym_vector (numpy CartPole, one call per step) or python",
    )
    args = parser.parse_args()
    interval = LOG_INTERVAL_ITRS * N_ENVS * N_STEPS
    max_steps = math.ceil(args.max_steps / interval) * interval

    ctx = mp.get_context("spawn")
    runs = {"rlpyt": [], "sb3": []}
    for seed in range(args.seeds):
        order = ("rlpyt", "sb3") if seed % 2 == 0 else ("sb3", "rlpyt")
        for side in order:
            runs[side].append(run_in_subprocess(ctx, side, seed, max_steps, args.env_backend))

    med = {}
    for side, side_runs in runs.items():
        med[side] = {
            "collection_steps_per_s": _median([r["collection_steps_per_s"] for r in side_runs]),
            "solve_seconds": _solve_median(side_runs),
            "solve_env_steps": _median(
                [r["solve_env_steps"] for r in side_runs if r["solve_env_steps"] is not None]
            ),
            "solved_runs": sum(r["solve_seconds"] is not None for r in side_runs),
            "seconds_per_iteration": _median([r["seconds_per_iteration"] for r in side_runs]),
        }
    collection_speedup = (
        med["rlpyt"]["collection_steps_per_s"] / med["sb3"]["collection_steps_per_s"]
    )
    r_solve, s_solve = med["rlpyt"]["solve_seconds"], med["sb3"]["solve_seconds"]
    solve_ratio = r_solve / s_solve if r_solve is not None and s_solve is not None else None

    import gymnasium
    import numpy as np
    import stable_baselines3
    import torch

    def per_seed(side):
        return [
            {
                "seed": r["seed"],
                "collection_steps_per_s": round(r["collection_steps_per_s"]),
                "solve_seconds": _round(r["solve_seconds"], 2),
                "solve_env_steps": r["solve_env_steps"],
                "run_seconds": round(r["run_seconds"], 2),
                "seconds_per_iteration": round(r["seconds_per_iteration"], 4),
            }
            for r in runs[side]
        ]

    result = {
        "benchmark": "ppo_cartpole",
        "env": "CartPole-v1",
        "seeds": args.seeds,
        "max_steps": max_steps,
        "env_backend": args.env_backend,
        "hyperparameters": HYPERPARAMS,
        "fairness": (
            "each run in its own spawned subprocess with torch.set_num_threads(1); runs one at "
            "a time, alternating which library goes first per seed; CPU only; Adam eps 1e-5 on "
            "both sides (SB3's PPO default, which RL Zoo tuned with; rlpyt's fused kernel)"
        ),
        "definitions": {
            "collection_steps_per_s": (
                "env steps / seconds inside SerialSampler.obtain_samples (rlpyt) or "
                "PPO.collect_rollouts minus its GAE call (SB3)"
            ),
            "solve_seconds": (
                f"wall-clock from the start of training until the mean return of the last "
                f"{WINDOW} completed training episodes is >= {SOLVED_RETURN} (checked after each "
                f"collection of {N_ENVS * N_STEPS} steps); null if not within max_steps"
            ),
            "seconds_per_iteration": (
                "median over seeds of run seconds / iterations run (each: one 256-step "
                "collection and 20 epochs of optimisation)"
            ),
            "rlpyt_side": (
                f"MinibatchRl + SerialSampler(CartPole-v1 env.backend={args.env_backend}, "
                "batch_T=32, batch_B=8, "
                "CpuResetCollector, max_decorrelation_steps=100) + MlpFfAgent + "
                "PPO(**_PPO_CARTPOLE), logging every 10240 steps into a temp dir"
            ),
            "sb3_side": "PPO('MlpPolicy', make_vec_env('CartPole-v1', 8) [DummyVecEnv+Monitor])",
        },
        "rlpyt": {"median": _rounded(med["rlpyt"]), "per_seed": per_seed("rlpyt")},
        "sb3": {"median": _rounded(med["sb3"]), "per_seed": per_seed("sb3")},
        "collection_speedup": round(collection_speedup, 3),
        "solve_time_ratio": _round(solve_ratio),
        "iteration_time_ratio": round(
            med["rlpyt"]["seconds_per_iteration"] / med["sb3"]["seconds_per_iteration"], 3
        ),
        "targets": {
            "collection_speedup_min": COLLECTION_TARGET,
            "solve_time_ratio_max": SOLVE_TARGET,
        },
        "targets_met": {
            "collection_speedup": collection_speedup >= COLLECTION_TARGET,
            "solve_time_ratio": solve_ratio is not None and solve_ratio <= SOLVE_TARGET,
        },
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "gymnasium": gymnasium.__version__,
            "stable_baselines3": stable_baselines3.__version__,
        },
    }
    print(json.dumps(result, indent=2))


def _rounded(m: dict) -> dict:
    return {
        "collection_steps_per_s": round(m["collection_steps_per_s"]),
        "solve_seconds": _round(m["solve_seconds"], 2),
        "solve_env_steps": m["solve_env_steps"],
        "solved_runs": m["solved_runs"],
        "seconds_per_iteration": round(m["seconds_per_iteration"], 4),
    }


if __name__ == "__main__":
    main()
