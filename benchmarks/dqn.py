"""rlpyt DQN against Stable-Baselines3 DQN, side by side; prints one JSON object.

Three parts (``--parts a b c``):

(a) CartPole-v1 with RL Zoo's DQN settings on both sides: learning rate 2.3e-3,
    batch 64, buffer 100k, learning from 1000 steps, gamma 0.99, 128 gradient
    steps after every 256 env steps (SB3 ``train_freq=256, gradient_steps=128``;
    rlpyt 256 env steps per iteration and ``replay_ratio=32``), the target net
    equal to the online net at the start of each round of gradient steps (SB3
    ``target_update_interval=10`` env steps; rlpyt a copy every 128 gradient
    steps), epsilon 1 -> 0.04 over ~8000 steps (SB3 ``exploration_fraction`` of
    the run; rlpyt ``eps_steps=7000`` after ``min_steps_learn=1000``), [256, 256]
    ReLU net, Huber loss, gradient-norm clip 10, one-step plain (not double) DQN,
    Adam (eps 1e-8 on both sides). One env on both sides (rlpyt
    ``SerialSampler(batch_B=1, batch_T=256)``), plus an rlpyt row with 8 envs
    (``batch_B=8, batch_T=32``). Figures per run: seconds to solve (the mean
    return of the last 20 completed training episodes >= 475, checked after
    each 256-step collection; each side stops once solved; null if not within
    ``--max-steps``), gradient steps per second of the training phase (rlpyt:
    time in ``DQN.optimize_agent`` less its replay append; SB3: time in
    ``DQN.train``) and wall-clock seconds per 256-step iteration (collection
    plus training: the speed part of the solve time). Ratios of medians over seeds.

(b) Atari Pong training-loop throughput: frames/s (env steps x 4) of the whole
    loop (sampling, replay append and sampling, gradient steps) at replay ratio
    8: one gradient step on 32 transitions per 4 env steps. Nature CNN on both
    sides (rlpyt ``AtariDqnAgent``; SB3 ``CnnPolicy``), buffer 100k, learning
    from 1000 steps, learning rate 1e-4, target update every 10k env steps,
    epsilon fixed at 0.05 (both sides then run the Q-network for ~every
    action; SB3 skips the forward pass for random actions). rlpyt on
    ``AtariEnv(game="pong")`` with ``SerialSampler(batch_T=4, batch_B=1)`` (and
    the variants in ``PONG_RLPYT_VARIANTS``); SB3 on gymnasium's Atari stack
    (``ALE/Pong-v5`` frameskip 1 + ``AtariPreprocessing`` + ``FrameStackObservation(4)``)
    in a ``DummyVecEnv`` of one ``Monitor``-wrapped env. After learning
    starts and 200 more steps, ``--seconds`` are timed in 3 equal rounds;
    frames/s is the median round.

(c) Replay memory for 1M Atari transitions (``benchmarks/replay_memory.py``'s
    computation): rlpyt's frame buffers against storing each 84x84 frame once.

Each (part, library, seed) run is a fresh spawned subprocess that calls
``torch.set_num_threads(--threads)`` (default 1) and sets glibc's malloc to keep freed
memory as rlpyt's runners do at start-up (``rlpyt.utils.malloc``; SB3's process gets the
same setting); runs go one at a time. In part (a) the library that goes first alternates by
seed; part (b) runs SB3, then the rlpyt variants. A line per finished run goes to stderr;
the JSON to stdout.

``--compile`` builds the rlpyt agents with ``compile=True`` (``torch.compile``; in part (b)
the compiling happens before the timed rounds, in part (a) it is part of the solve time).
``--threads 2`` gives every run both cores of a 2-core machine (torch's own default there).
``--async`` adds the part (b) variant ``rlpyt_async_T4_B8``: ``AsyncRl`` with
``AsyncSerialSampler``, a sampler process (one torch thread) collecting 8 envs x 4 steps
while the training process (``--threads`` threads) trains at the same replay ratio (its
throttle holds it); it uses a second process, which SB3's loop has no counterpart for.

Usage: ``python benchmarks/dqn.py [--parts a b c] [--seeds 3] [--max-steps 150000] [--seconds 30]
[--compile] [--threads 1] [--async]``
"""

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import deque

from isolated import run_isolated

SOLVED_RETURN = 475.0
WINDOW = 20
ITR_STEPS = 256  # env steps per training round in part (a)
LOG_INTERVAL_ITRS = 40  # rlpyt log interval in part (a) (10240 steps)
SOLVE_TARGET = 0.5
PONG_TARGET = 1.5
CARTPOLE = dict(
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1000,
    gamma=0.99,
    train_freq=256,
    gradient_steps=128,
    exploration_steps=8000,
    exploration_final_eps=0.04,
    net_arch=[256, 256],
    loss="huber (delta 1)",
    max_grad_norm=10.0,
)
PONG = dict(
    batch_size=32,
    buffer_size=100_000,
    learning_starts=1000,
    learning_rate=1e-4,
    gamma=0.99,
    train_freq=4,
    gradient_steps=1,
    replay_ratio=8,
    target_update_interval_env_steps=10_000,
    epsilon=0.05,
    max_grad_norm=10.0,
)
PONG_RLPYT_VARIANTS = {"rlpyt_T4_B1": (4, 1), "rlpyt_T32_B1": (32, 1), "rlpyt_T4_B8": (4, 8)}
# AsyncRl + AsyncSerialSampler: a sampler process (one torch thread) collects while the
# training process trains; only with --async (it uses a second core, SB3's loop does not)
PONG_RLPYT_ASYNC_VARIANTS = {"rlpyt_async_T4_B8": (4, 8)}
PONG_WARMUP_STEPS = 200  # env steps after learning starts before timing
PONG_ROUNDS = 3


class _Stop(Exception):
    """Raised inside the rlpyt runner's loop to end a run."""


# -- part (a): CartPole ---------------------------------------------------------------


class _Tracker:
    """Solve check, training-phase time and gradient steps, shared by both sides."""

    def __init__(self):
        self.returns = deque(maxlen=WINDOW)
        self.start = None
        self.steps = 0
        self.train_time = 0.0
        self.grad_steps = 0
        self.solve_time = None
        self.solve_steps = None

    def check(self, steps, returns) -> bool:
        self.steps = steps
        if self.solve_time is None and len(returns) >= WINDOW:
            if sum(returns) / len(returns) >= SOLVED_RETURN:
                self.solve_time = time.perf_counter() - self.start
                self.solve_steps = steps
        return self.solve_time is not None

    def result(self, side, seed, best) -> dict:
        run = time.perf_counter() - self.start
        return {
            "side": side,
            "seed": seed,
            "solve_seconds": self.solve_time,
            "solve_env_steps": self.solve_steps,
            "env_steps": self.steps,
            "run_seconds": run,
            "seconds_per_iteration": run / (self.steps / ITR_STEPS),
            "updates_per_s": self.grad_steps / self.train_time if self.train_time else None,
            "best_mean_return_20": best,
        }


def _best(tracker, best):
    if len(tracker.returns) >= WINDOW:
        return max(best, sum(tracker.returns) / WINDOW)
    return best


def cartpole_rlpyt(seed: int, max_steps: int, batch_B: int, compile=False) -> dict:
    from rlpyt.agents.dqn.mlp import DqnMlpAgent
    from rlpyt.algos.dqn.dqn import DQN
    from rlpyt.envs.gym import gym_make
    from rlpyt.runners.minibatch_rl import MinibatchRl
    from rlpyt.samplers.serial.sampler import SerialSampler
    from rlpyt.utils.logging.context import logger_context

    tracker, best = _Tracker(), [-math.inf]

    class TimedSampler(SerialSampler):
        def obtain_samples(self, itr):
            samples, traj_infos = super().obtain_samples(itr)
            tracker.returns.extend(info.Return for info in traj_infos)
            best[0] = _best(tracker, best[0])
            if tracker.check((itr + 1) * ITR_STEPS, tracker.returns):
                raise _Stop
            return samples, traj_infos

    class TimedDQN(DQN):
        def optimize_agent(self, itr, samples=None, sampler_itr=None):
            self.append_samples(samples)  # SB3 stores transitions while collecting
            t0 = time.perf_counter()
            opt_info = super().optimize_agent(itr, None, sampler_itr)
            if opt_info.loss:
                tracker.train_time += time.perf_counter() - t0
                tracker.grad_steps += len(opt_info.loss)
            return opt_info

    class TimedRunner(MinibatchRl):
        def initialize_logging(self):
            super().initialize_logging()
            tracker.start = time.perf_counter()

    algo = TimedDQN(
        discount=CARTPOLE["gamma"],
        batch_size=CARTPOLE["batch_size"],
        min_steps_learn=CARTPOLE["learning_starts"],
        replay_size=CARTPOLE["buffer_size"],
        replay_ratio=CARTPOLE["gradient_steps"] * CARTPOLE["batch_size"] / ITR_STEPS,
        target_update_interval=CARTPOLE["gradient_steps"],
        n_step_return=1,
        learning_rate=CARTPOLE["learning_rate"],
        clip_grad_norm=CARTPOLE["max_grad_norm"],
        eps_steps=CARTPOLE["exploration_steps"] - CARTPOLE["learning_starts"],
        double_dqn=False,
    )
    sampler = TimedSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="CartPole-v1"),
        batch_T=ITR_STEPS // batch_B,
        batch_B=batch_B,
        max_decorrelation_steps=0,
    )
    runner = TimedRunner(
        algo=algo,
        agent=DqnMlpAgent(eps_final=CARTPOLE["exploration_final_eps"], compile=compile),
        sampler=sampler,
        n_steps=max_steps,
        seed=seed,
        log_interval_steps=LOG_INTERVAL_ITRS * ITR_STEPS,
        progress_bar=False,
    )
    with tempfile.TemporaryDirectory() as log_dir:
        with logger_context(log_dir, run_ID=seed, name="dqn_cartpole", snapshot_mode="none"):
            try:
                runner.train()
            except _Stop:
                pass
    return tracker.result(f"rlpyt_B{batch_B}", seed, best[0])


def cartpole_sb3(seed: int, max_steps: int) -> dict:
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_vec_env

    tracker, best = _Tracker(), [-math.inf]
    env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
    model = DQN(
        "MlpPolicy",
        env,
        learning_rate=CARTPOLE["learning_rate"],
        batch_size=CARTPOLE["batch_size"],
        buffer_size=CARTPOLE["buffer_size"],
        learning_starts=CARTPOLE["learning_starts"],
        gamma=CARTPOLE["gamma"],
        target_update_interval=10,
        train_freq=CARTPOLE["train_freq"],
        gradient_steps=CARTPOLE["gradient_steps"],
        exploration_fraction=CARTPOLE["exploration_steps"] / max_steps,
        exploration_final_eps=CARTPOLE["exploration_final_eps"],
        max_grad_norm=CARTPOLE["max_grad_norm"],
        policy_kwargs=dict(net_arch=CARTPOLE["net_arch"]),
        stats_window_size=WINDOW,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    collect_rollouts, train = model.collect_rollouts, model.train

    def timed_collect(*args, **kwargs):
        rollout = collect_rollouts(*args, **kwargs)
        tracker.returns = [info["r"] for info in model.ep_info_buffer]
        best[0] = _best(tracker, best[0])
        if tracker.check(model.num_timesteps, tracker.returns):
            return rollout._replace(continue_training=False)  # learn() stops before training
        return rollout

    def timed_train(gradient_steps, batch_size=100):
        t0 = time.perf_counter()
        train(gradient_steps=gradient_steps, batch_size=batch_size)
        tracker.train_time += time.perf_counter() - t0
        tracker.grad_steps += gradient_steps

    model.collect_rollouts, model.train = timed_collect, timed_train
    tracker.start = time.perf_counter()
    model.learn(total_timesteps=max_steps)
    env.close()
    return tracker.result("sb3", seed, best[0])


# -- part (b): Pong throughput ------------------------------------------------------


class _Clock:
    """(time, env steps) at each iteration boundary once learning has started."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.marks = []

    def mark(self, steps, learning) -> bool:
        """Record a boundary; True once the timed window is over."""
        if not learning or steps < PONG["learning_starts"] + PONG_WARMUP_STEPS:
            return False
        self.marks.append((time.perf_counter(), steps))
        return self.marks[-1][0] - self.marks[0][0] >= self.seconds

    def result(self, side) -> dict:
        start = t0 = self.marks[0][0]
        s0 = self.marks[0][1]
        rates = []
        for r in range(1, PONG_ROUNDS + 1):  # each round ends at the first mark past its end
            t_end = start + r * self.seconds / PONG_ROUNDS
            ends = [m for m in self.marks if m[0] >= t_end and m[0] > t0]
            t1, s1 = ends[0] if ends and r < PONG_ROUNDS else self.marks[-1]
            rates.append(4 * (s1 - s0) / (t1 - t0))
            t0, s0 = t1, s1
        return {"side": side, "frames_per_s": statistics.median(rates), "rounds": rates}


def pong_rlpyt(
    seconds: float,
    batch_T: int,
    batch_B: int,
    side: str,
    compile=False,
    cuda_idx=None,
    asynchronous=False,
) -> dict:
    from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
    from rlpyt.algos.dqn.dqn import DQN
    from rlpyt.envs.atari.atari_env import AtariEnv
    from rlpyt.runners.async_rl import AsyncRl
    from rlpyt.runners.minibatch_rl import MinibatchRl
    from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler
    from rlpyt.samplers.serial.sampler import SerialSampler
    from rlpyt.utils.logging.context import logger_context

    clock = _Clock(seconds)

    class TimedDQN(DQN):
        def optimize_agent(self, itr, samples=None, sampler_itr=None):
            opt_info = super().optimize_agent(itr, samples, sampler_itr)
            batches = itr + 1 if sampler_itr is None else sampler_itr + 1  # collected so far
            if clock.mark(batches * batch_T * batch_B, bool(opt_info.loss)):
                raise _Stop
            return opt_info

    algo = TimedDQN(
        discount=PONG["gamma"],
        batch_size=PONG["batch_size"],
        min_steps_learn=PONG["learning_starts"],
        replay_size=PONG["buffer_size"],
        replay_ratio=PONG["replay_ratio"],
        target_update_interval=PONG["target_update_interval_env_steps"] // PONG["train_freq"],
        learning_rate=PONG["learning_rate"],
        clip_grad_norm=PONG["max_grad_norm"],
    )
    eps = PONG["epsilon"]
    SamplerCls, RunnerCls = (
        (AsyncSerialSampler, AsyncRl) if asynchronous else (SerialSampler, MinibatchRl)
    )
    runner = RunnerCls(
        algo=algo,
        agent=AtariDqnAgent(eps_init=eps, eps_final=eps, compile=compile),
        sampler=SamplerCls(
            EnvCls=AtariEnv,
            env_kwargs=dict(game="pong"),
            batch_T=batch_T,
            batch_B=batch_B,
            max_decorrelation_steps=0,
        ),
        n_steps=10**8,
        seed=0,
        log_interval_steps=10**8,
        affinity=dict(cuda_idx=cuda_idx),  # benchmarks/gpu_throughput.py: the GPU learner
        progress_bar=False,
    )
    with tempfile.TemporaryDirectory() as log_dir:
        with logger_context(log_dir, run_ID=0, name="dqn_pong", snapshot_mode="none"):
            try:
                runner.train()
            except _Stop:
                pass
    return clock.result(side)


def _sb3_pong_env():
    import ale_py
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
    env = gym.wrappers.AtariPreprocessing(env, frame_skip=4, screen_size=84, noop_max=30)
    return Monitor(gym.wrappers.FrameStackObservation(env, 4))


def pong_sb3(seconds: float) -> dict:
    from stable_baselines3 import DQN
    from stable_baselines3.common.vec_env import DummyVecEnv

    clock = _Clock(seconds)
    env = DummyVecEnv([_sb3_pong_env])
    eps = PONG["epsilon"]
    model = DQN(
        "CnnPolicy",
        env,
        learning_rate=PONG["learning_rate"],
        buffer_size=PONG["buffer_size"],
        learning_starts=PONG["learning_starts"],
        batch_size=PONG["batch_size"],
        gamma=PONG["gamma"],
        train_freq=PONG["train_freq"],
        gradient_steps=PONG["gradient_steps"],
        target_update_interval=PONG["target_update_interval_env_steps"],
        exploration_initial_eps=eps,
        exploration_final_eps=eps,
        max_grad_norm=PONG["max_grad_norm"],
        seed=0,
        device="cpu",
        verbose=0,
    )
    train = model.train

    def timed_train(gradient_steps, batch_size=100):
        train(gradient_steps=gradient_steps, batch_size=batch_size)
        if clock.mark(model.num_timesteps, True):
            raise _Stop

    model.train = timed_train
    try:
        model.learn(total_timesteps=10**8)
    except _Stop:
        pass
    env.close()
    return clock.result("sb3")


# -- subprocesses ---------------------------------------------------------------------


JOBS = {
    "cartpole_rlpyt": cartpole_rlpyt,
    "cartpole_sb3": cartpole_sb3,
    "pong_rlpyt": pong_rlpyt,
    "pong_sb3": pong_sb3,
}


def run_in_subprocess(ctx, name, threads=1, **kwargs) -> dict:
    """``JOBS[name](**kwargs)`` in a fresh process; the allocator set there as a runner sets
    it, SB3's process included (see "The Pong loop with glibc's malloc keeping freed memory"
    in docs/benchmarks.md)."""
    t0 = time.perf_counter()
    payload = run_isolated(
        ctx, JOBS[name], kwargs, f"{name} {kwargs}", threads, keep_freed_memory=True
    )
    print(f"dqn.py: {name} {kwargs} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return payload


# -- summaries ------------------------------------------------------------------------


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _solve_median(runs):
    """Median seconds to solve, unsolved runs counting as infinite (None when that is inf)."""
    m = statistics.median(
        r["solve_seconds"] if r["solve_seconds"] is not None else math.inf for r in runs
    )
    return None if math.isinf(m) else m


def _r(x, nd=3):
    return None if x is None else round(x, nd)


def part_a(ctx, seeds: int, max_steps: int, compile=False, threads=1) -> dict:
    runs = {"rlpyt_B1": [], "sb3": [], "rlpyt_B8": []}
    for seed in range(seeds):
        order = ["rlpyt_B1", "sb3"] if seed % 2 == 0 else ["sb3", "rlpyt_B1"]
        for side in [*order, "rlpyt_B8"]:
            if side == "sb3":
                res = run_in_subprocess(
                    ctx, "cartpole_sb3", threads, seed=seed, max_steps=max_steps
                )
            else:
                B = int(side[len("rlpyt_B") :])
                res = run_in_subprocess(
                    ctx,
                    "cartpole_rlpyt",
                    threads,
                    seed=seed,
                    max_steps=max_steps,
                    batch_B=B,
                    compile=compile,
                )
            runs[side].append(res)
    out = {}
    for side, side_runs in runs.items():
        out[side] = {
            "median": {
                "solve_seconds": _r(_solve_median(side_runs), 2),
                "solved_runs": sum(r["solve_seconds"] is not None for r in side_runs),
                "updates_per_s": _r(_median([r["updates_per_s"] for r in side_runs]), 1),
                "seconds_per_iteration": _r(
                    _median([r["seconds_per_iteration"] for r in side_runs]), 4
                ),
            },
            "per_seed": [
                {
                    "seed": r["seed"],
                    "solve_seconds": _r(r["solve_seconds"], 2),
                    "solve_env_steps": r["solve_env_steps"],
                    "env_steps": r["env_steps"],
                    "best_mean_return_20": _r(r["best_mean_return_20"], 1),
                    "run_seconds": _r(r["run_seconds"], 2),
                    "updates_per_s": _r(r["updates_per_s"], 1),
                    "seconds_per_iteration": _r(r["seconds_per_iteration"], 4),
                }
                for r in side_runs
            ],
        }
    sb3 = out["sb3"]["median"]
    for side in ("rlpyt_B1", "rlpyt_B8"):
        med = out[side]["median"]
        solve = (
            med["solve_seconds"] / sb3["solve_seconds"]
            if med["solve_seconds"] is not None and sb3["solve_seconds"] is not None
            else None
        )
        out[side]["vs_sb3"] = {
            "solve_time_ratio": _r(solve),
            "solve_time_target_met": solve is not None and solve <= SOLVE_TARGET,
            "updates_per_s_ratio": _r(med["updates_per_s"] / sb3["updates_per_s"]),
            "iteration_time_ratio": _r(med["seconds_per_iteration"] / sb3["seconds_per_iteration"]),
        }
    out["solve_time_ratio_max"] = SOLVE_TARGET
    return out


def part_b(ctx, seconds: float, compile=False, threads=1, asynchronous=False) -> dict:
    variants = dict(PONG_RLPYT_VARIANTS)
    if asynchronous:
        variants.update(PONG_RLPYT_ASYNC_VARIANTS)
    res = {"sb3": run_in_subprocess(ctx, "pong_sb3", threads, seconds=seconds)}
    for name, (T, B) in variants.items():  # SB3 first, then the rlpyt variants
        res[name] = run_in_subprocess(
            ctx,
            "pong_rlpyt",
            threads,
            seconds=seconds,
            batch_T=T,
            batch_B=B,
            side=name,
            compile=compile,
            asynchronous=name in PONG_RLPYT_ASYNC_VARIANTS,
        )
    sb3 = res["sb3"]["frames_per_s"]
    out = {
        name: {
            "frames_per_s": round(r["frames_per_s"], 1),
            "rounds": [round(x, 1) for x in r["rounds"]],
        }
        for name, r in res.items()
    }
    for name in variants:
        out[name]["vs_sb3"] = round(res[name]["frames_per_s"] / sb3, 3)
    best = max(variants, key=lambda n: res[n]["frames_per_s"])
    out["rlpyt_variants_T_B"] = variants
    out["fastest_rlpyt"] = best
    out["target_min"] = PONG_TARGET
    out["target_met_T4_B1"] = out["rlpyt_T4_B1"]["vs_sb3"] >= PONG_TARGET
    out["target_met_fastest"] = out[best]["vs_sb3"] >= PONG_TARGET
    return out


def part_c() -> dict:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import replay_memory

    out = {"transitions": replay_memory.N, "frames_once_bytes": replay_memory.N * 84 * 84}
    for B in (1, 8):
        rlpyt = replay_memory.rlpyt_bytes(B)
        sb3 = replay_memory.sb3_bytes(B, optimize_memory_usage=False)
        out[f"B={B}"] = {
            "rlpyt": rlpyt,
            "sb3_replay_buffer_bytes": sb3,
            "sb3_ratio_to_frames_once": round(sb3 / out["frames_once_bytes"], 4),
        }
    ratios = [v["ratio_to_frames_once"] for B in (1, 8) for v in out[f"B={B}"]["rlpyt"].values()]
    out["target_ratio_max"] = replay_memory.TARGET_RATIO
    out["target_met"] = all(r <= replay_memory.TARGET_RATIO for r in ratios)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"])
    parser.add_argument("--seeds", type=int, default=3, help="part (a): seeds 0, 1, ...")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=150_000,
        help="part (a): env steps cap (rounded up to whole 10240-step rlpyt log intervals)",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="part (b): timed seconds")
    parser.add_argument(
        "--compile", action="store_true", help="rlpyt agents with compile=True (torch.compile)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of every run (2 gives each library both cores of this machine)",
    )
    parser.add_argument(
        "--async",
        dest="asynchronous",
        action="store_true",
        help="part (b): also rlpyt's AsyncRl variant (a sampler process beside the training one)",
    )
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    interval = LOG_INTERVAL_ITRS * ITR_STEPS
    max_steps = math.ceil(args.max_steps / interval) * interval
    ctx = mp.get_context("spawn")

    import gymnasium
    import numpy as np
    import stable_baselines3
    import torch

    result = {
        "benchmark": "dqn",
        "rlpyt_compile": args.compile,
        "torch_threads": args.threads,
        "fairness": (
            f"each run in its own spawned subprocess with torch.set_num_threads({args.threads})"
            " and glibc malloc keeping freed memory (rlpyt.utils.malloc), one at a time, "
            "alternating which library goes first per seed; CPU only"
        ),
    }
    if "a" in args.parts:
        result["a_cartpole"] = {
            "env": "CartPole-v1",
            "seeds": args.seeds,
            "max_steps": max_steps,
            "hyperparameters": CARTPOLE,
            **part_a(ctx, args.seeds, max_steps, args.compile, args.threads),
        }
    if "b" in args.parts:
        result["b_pong_frames_per_s"] = {
            "seconds": args.seconds,
            "hyperparameters": PONG,
            **part_b(ctx, args.seconds, args.compile, args.threads, args.asynchronous),
        }
    if "c" in args.parts:
        result["c_replay_memory_1M"] = part_c()
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
