"""rlpyt SAC against Stable-Baselines3 SAC, side by side; prints one JSON object.

Both libraries train with the same settings: batch 256, learning rate 3e-4 for
the policy, the critics and the temperature alpha, [256, 256] ReLU MLPs for the
policy and each of the twin critics, learning from 1000 env steps, one gradient
step per env step (SB3 ``train_freq=1, gradient_steps=1``; rlpyt
``SAC(replay_ratio=256)`` with ``SerialSampler(batch_T=1, batch_B=1)``), gamma
0.99, Polyak tau 0.005 every step, automatic entropy tuning from alpha = 1
towards -dim(A), buffer 1e6, Adam (eps 1e-8), no gradient clipping (rlpyt's
default ``clip_grad_norm=1e9`` never binds), one env. ``--batch-T T`` runs rlpyt
with ``batch_T=T`` (T env steps, then T gradient steps; SB3 stays at 1).

Two parts (``--parts pendulum cheetah``):

* ``pendulum``: Pendulum-v1, one run per (library, seed). Seconds to solve:
  wall-clock from the start of training (after both sides have built envs,
  networks and optimisers) until the mean return of the last 10 completed
  training episodes is >= -200, checked after every env step (rlpyt: every
  ``batch_T`` steps); each side stops once solved; null if not within
  ``--max-steps``. Also gradient steps per second of the training phase
  (rlpyt: time in ``SAC.optimize_agent`` less its replay append, as SB3 stores transitions
  while collecting; SB3: time in ``SAC.train``) and wall-clock seconds per env
  step once learning has started (collection plus training: the speed part
  of the solve time, without the seed-to-seed luck in how many steps it takes).
* ``cheetah``: HalfCheetah-v5, ``--cheetah-updates`` gradient steps after the
  1000 learning-start steps, same settings; the same two speed figures.

Each run is a fresh spawned subprocess that calls ``torch.set_num_threads(--threads)``
(default 1; ``--threads 2`` gives each library both cores of a 2-core machine, torch's own
default there) and sets glibc's malloc to keep freed memory as rlpyt's runners do at
start-up (``rlpyt.utils.malloc``; SB3's process gets the same setting); runs go one at a
time, alternating which library goes first per seed.

Ratios (rlpyt / SB3, medians over seeds; an unsolved run counts as infinitely slow)::

    solve_time_ratio     seconds to solve                  (target <= 0.7)
    updates_per_s_ratio  gradient steps per second
    step_time_ratio      seconds per env step while learning

Usage: ``python benchmarks/sac.py [--parts pendulum cheetah] [--seeds 2] [--max-steps 30000]
[--cheetah-updates 2000] [--batch-T 1] [--threads 1]``
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

SOLVED_RETURN = -200.0
WINDOW = 10  # completed training episodes averaged for the solve check
SOLVE_TARGET = 0.7
LEARNING_STARTS = 1000
WARMUP_UPDATES = 20  # excluded from the steady-state rate (compiling happens in them)
LOG_INTERVAL_STEPS = 1000
SETTINGS = dict(
    batch_size=256,
    learning_rate=3e-4,
    net_arch=[256, 256],
    learning_starts=LEARNING_STARTS,
    train_freq=1,
    gradient_steps=1,
    gamma=0.99,
    tau=0.005,
    ent_coef="auto (initial 1.0)",
    target_entropy="-dim(A)",
    buffer_size=1_000_000,
    n_envs=1,
    rlpyt_sampler="SerialSampler(batch_T=1, batch_B=1)",
)


class _Stop(Exception):
    """Raised inside the rlpyt runner's loop to end a run."""


class _Tracker:
    """Solve check and the time split, shared by both sides."""

    def __init__(self, max_steps, solve):
        self.max_steps = max_steps
        self.solve = solve  # stop at the solve threshold (Pendulum) or at max_steps
        self.returns = deque(maxlen=WINDOW)
        self.steps = 0
        self.start = None
        self.learn_start = None  # (time, steps) when the first gradient step begins
        self.train_time = 0.0
        self.warmup_time = 0.0  # train_time of the first WARMUP_UPDATES gradient steps
        self.updates = 0
        self.compile_seconds = None  # rlpyt with compile: the logged forward warm-ups
        self.solve_time = None
        self.solve_steps = None
        self.best = -math.inf

    def check(self, steps) -> bool:
        """After each env step: True when the run should stop."""
        self.steps = steps
        if len(self.returns) >= WINDOW:
            mean = sum(self.returns) / len(self.returns)
            self.best = max(self.best, mean)
            if self.solve and self.solve_time is None and mean >= SOLVED_RETURN:
                self.solve_time = time.perf_counter() - self.start
                self.solve_steps = steps
        return self.solve_time is not None or steps > self.max_steps

    def training(self, t0, steps):
        if self.learn_start is None:
            self.learn_start = (t0, steps)

    def result(self, side, seed) -> dict:
        end = time.perf_counter()
        learn_time = end - self.learn_start[0] if self.learn_start else None
        learn_steps = self.steps - self.learn_start[1] if self.learn_start else 0
        return {
            "side": side,
            "seed": seed,
            "solve_seconds": self.solve_time,
            "solve_env_steps": self.solve_steps,
            "env_steps": self.steps,
            "updates": self.updates,
            "run_seconds": end - self.start,
            "updates_per_s": self.updates / self.train_time if self.train_time else None,
            "steady_updates_per_s": (self.updates - WARMUP_UPDATES)
            / (self.train_time - self.warmup_time)
            if self.updates > WARMUP_UPDATES
            else None,
            "warmup_seconds": self.warmup_time,
            "compile_seconds_logged": self.compile_seconds,
            "seconds_per_step_learning": learn_time / learn_steps if learn_steps else None,
            "best_mean_return_10": None if math.isinf(self.best) else self.best,
        }


def run_rlpyt(
    env_id: str, seed: int, max_steps: int, solve: bool, batch_T: int = 1, compile=False
) -> dict:
    from rlpyt.agents.qpg.sac_agent import SacAgent
    from rlpyt.algos.qpg.sac import SAC
    from rlpyt.envs.gym import gym_make
    from rlpyt.runners.minibatch_rl import MinibatchRl
    from rlpyt.samplers.serial.sampler import SerialSampler
    from rlpyt.utils.logging.context import logger_context

    tracker = _Tracker(max_steps, solve)

    class TimedSampler(SerialSampler):
        def obtain_samples(self, itr):
            samples, traj_infos = super().obtain_samples(itr)
            tracker.returns.extend(info.Return for info in traj_infos)
            if tracker.check((itr + 1) * self.batch_spec.size):
                raise _Stop
            return samples, traj_infos

    class TimedSAC(SAC):
        def optimize_agent(self, itr, samples=None, sampler_itr=None):
            self.append_samples(samples)  # SB3 stores transitions while collecting
            t0 = time.perf_counter()
            opt_info = super().optimize_agent(itr, None, sampler_itr)
            if opt_info.qLoss:
                tracker.training(t0, tracker.steps)
                tracker.train_time += time.perf_counter() - t0
                tracker.updates += len(opt_info.qLoss)
                if tracker.updates <= WARMUP_UPDATES:
                    tracker.warmup_time = tracker.train_time
            return opt_info

    class TimedRunner(MinibatchRl):
        def initialize_logging(self):  # the last set-up step before the loop
            super().initialize_logging()
            tracker.start = time.perf_counter()

    algo = TimedSAC(
        discount=SETTINGS["gamma"],
        batch_size=SETTINGS["batch_size"],
        min_steps_learn=LEARNING_STARTS,
        replay_size=SETTINGS["buffer_size"],
        replay_ratio=SETTINGS["batch_size"],  # one gradient step per env step
        target_update_tau=SETTINGS["tau"],
        learning_rate=SETTINGS["learning_rate"],
    )
    agent = SacAgent(
        model_kwargs=dict(hidden_sizes=SETTINGS["net_arch"]),
        q_model_kwargs=dict(hidden_sizes=SETTINGS["net_arch"]),
        compile=compile,
    )
    sampler = TimedSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id=env_id),
        batch_T=batch_T,
        batch_B=1,
        max_decorrelation_steps=0,
    )
    runner = TimedRunner(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=max_steps + LOG_INTERVAL_STEPS,  # the tracker stops the run
        seed=seed,
        log_interval_steps=LOG_INTERVAL_STEPS,
        progress_bar=False,
    )
    with tempfile.TemporaryDirectory() as log_dir:
        with logger_context(log_dir, run_ID=seed, name="sac", snapshot_mode="none"):
            try:
                runner.train()
            except _Stop:
                pass
    tracker.compile_seconds = agent.compile_seconds if compile else None
    return tracker.result("rlpyt", seed)


def run_sb3(env_id: str, seed: int, max_steps: int, solve: bool) -> dict:
    from stable_baselines3 import SAC
    from stable_baselines3.common.env_util import make_vec_env

    tracker = _Tracker(max_steps, solve)
    env = make_vec_env(env_id, n_envs=1, seed=seed)
    model = SAC(
        "MlpPolicy",
        env,
        learning_rate=SETTINGS["learning_rate"],
        buffer_size=SETTINGS["buffer_size"],
        learning_starts=LEARNING_STARTS,
        batch_size=SETTINGS["batch_size"],
        tau=SETTINGS["tau"],
        gamma=SETTINGS["gamma"],
        train_freq=1,
        gradient_steps=1,
        ent_coef="auto",
        target_entropy="auto",
        policy_kwargs=dict(net_arch=SETTINGS["net_arch"]),
        stats_window_size=WINDOW,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    collect_rollouts, train = model.collect_rollouts, model.train

    def timed_collect(*args, **kwargs):
        rollout = collect_rollouts(*args, **kwargs)
        if rollout.n_episodes:  # Monitor's episode returns, newest last
            new = list(model.ep_info_buffer)[-rollout.n_episodes :]
            tracker.returns.extend(info["r"] for info in new)
        if tracker.check(model.num_timesteps):
            return rollout._replace(continue_training=False)  # learn() stops before training
        return rollout

    def timed_train(gradient_steps, batch_size=256):
        t0 = time.perf_counter()
        tracker.training(t0, model.num_timesteps)
        train(gradient_steps=gradient_steps, batch_size=batch_size)
        tracker.train_time += time.perf_counter() - t0
        tracker.updates += gradient_steps
        if tracker.updates <= WARMUP_UPDATES:
            tracker.warmup_time = tracker.train_time

    model.collect_rollouts, model.train = timed_collect, timed_train
    tracker.start = time.perf_counter()
    model.learn(total_timesteps=max_steps + LOG_INTERVAL_STEPS)
    env.close()
    return tracker.result("sb3", seed)


def run_in_subprocess(ctx, side, threads=1, **kwargs) -> dict:
    """One run in a fresh process, its allocator set as rlpyt's runners set it (SB3's too)."""
    fn = run_rlpyt if side == "rlpyt" else run_sb3
    return run_isolated(ctx, fn, kwargs, f"{side} {kwargs}", threads, keep_freed_memory=True)


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _r(x, nd=3):
    return None if x is None else round(x, nd)


def _ratio(a, b):
    return None if a is None or b is None else a / b


def run_part(ctx, env_id, seeds, max_steps, solve, batch_T, threads=1) -> dict:
    runs = {"rlpyt": [], "sb3": []}
    for seed in range(seeds):
        order = ("rlpyt", "sb3") if seed % 2 == 0 else ("sb3", "rlpyt")
        for side in order:
            kwargs = dict(env_id=env_id, seed=seed, max_steps=max_steps, solve=solve)
            if side == "rlpyt":
                kwargs["batch_T"] = batch_T
            runs[side].append(run_in_subprocess(ctx, side, threads, **kwargs))
    out = {}
    for side, side_runs in runs.items():
        med = {
            "updates_per_s": _r(_median([r["updates_per_s"] for r in side_runs]), 1),
            "seconds_per_step_learning": _r(
                _median([r["seconds_per_step_learning"] for r in side_runs]), 5
            ),
        }
        if solve:
            times = [r["solve_seconds"] or math.inf for r in side_runs]
            m = statistics.median(times)
            med["solve_seconds"] = None if math.isinf(m) else round(m, 2)
            med["solve_env_steps"] = _median([r["solve_env_steps"] for r in side_runs])
            med["solved_runs"] = sum(r["solve_seconds"] is not None for r in side_runs)
        per_seed = [
            {
                k: _r(v, 5) if isinstance(v, float) else v
                for k, v in r.items()
                if k != "side" and (solve or k not in ("solve_seconds", "solve_env_steps"))
            }
            for r in side_runs
        ]
        out[side] = {"median": med, "per_seed": per_seed}
    rl, sb = out["rlpyt"]["median"], out["sb3"]["median"]
    out["updates_per_s_ratio"] = _r(_ratio(rl["updates_per_s"], sb["updates_per_s"]))
    out["step_time_ratio"] = _r(
        _ratio(rl["seconds_per_step_learning"], sb["seconds_per_step_learning"])
    )
    if solve:
        ratio = _ratio(rl["solve_seconds"], sb["solve_seconds"])
        out["solve_time_ratio"] = _r(ratio)
        out["solve_time_ratio_max"] = SOLVE_TARGET
        out["target_met"] = ratio is not None and ratio <= SOLVE_TARGET
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts", nargs="+", default=["pendulum", "cheetah"], choices=["pendulum", "cheetah"]
    )
    parser.add_argument("--seeds", type=int, default=2, help="seeds per library (0, 1, ...)")
    parser.add_argument("--max-steps", type=int, default=30_000, help="Pendulum env steps cap")
    parser.add_argument(
        "--cheetah-updates", type=int, default=2000, help="HalfCheetah gradient steps timed"
    )
    parser.add_argument(
        "--batch-T",
        type=int,
        default=1,
        help="rlpyt env steps per iteration (then batch_T gradient steps); SB3 stays at 1",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every run")
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    SETTINGS["rlpyt_sampler"] = f"SerialSampler(batch_T={args.batch_T}, batch_B=1)"
    ctx = mp.get_context("spawn")

    import gymnasium
    import numpy as np
    import stable_baselines3
    import torch

    result = {
        "benchmark": "sac",
        "settings": SETTINGS,
        "seeds": args.seeds,
        "torch_threads": args.threads,
        "fairness": (
            f"each run in its own spawned subprocess with torch.set_num_threads({args.threads})"
            " and glibc malloc keeping freed memory (rlpyt.utils.malloc), one at a time, "
            "alternating which library goes first per seed; CPU only"
        ),
    }
    if "pendulum" in args.parts:
        result["pendulum"] = {
            "env": "Pendulum-v1",
            "max_steps": args.max_steps,
            "solved": f"mean return of the last {WINDOW} training episodes >= {SOLVED_RETURN}",
            **run_part(
                ctx, "Pendulum-v1", args.seeds, args.max_steps, True, args.batch_T, args.threads
            ),
        }
    if "cheetah" in args.parts:
        steps = LEARNING_STARTS + args.cheetah_updates
        result["halfcheetah"] = {
            "env": "HalfCheetah-v5",
            "env_steps": steps,
            "updates": args.cheetah_updates,
            **run_part(ctx, "HalfCheetah-v5", args.seeds, steps, False, args.batch_T, args.threads),
        }
    result["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "stable_baselines3": stable_baselines3.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
