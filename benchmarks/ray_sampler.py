"""RaySampler against CpuSampler: env steps/s on the same envs, side by side, in one run.

Prints one JSON object. For CartPole-v1 (MLP policy, B=8) and Atari Pong (AtariFfModel,
B=4), both samplers step the same envs with 2 workers (CpuSampler: 2 processes pinned to
cores 0 and 1; RaySampler: 2 actors on a local Ray instance with 2 CPUs), the same policy
network choosing every action, and ``obtain_samples`` alone is timed (after a warm-up
batch; the median of 3 windows). ``ray_over_cpu`` is the Ray sampler's share of the CPU
sampler's rate: its overhead on one machine (the issue's target is >= 0.7).

    .venv/bin/python benchmarks/ray_sampler.py [--seconds 6] [--envs cartpole pong]
"""

import argparse
import json
import os
import platform
import time
from functools import partial

import numpy as np
import ray

from rlpyt.agents.pg.atari import AtariFfAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.envs.atari.atari_env import AtariEnv
from rlpyt.envs.gym import gym_make
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.ray.sampler import RaySampler

SETTINGS = {
    "cartpole": dict(
        EnvCls=partial(gym_make, "CartPole-v1"), env_kwargs={}, Agent=MlpFfAgent, B=8, T=64
    ),
    "pong": dict(EnvCls=AtariEnv, env_kwargs=dict(game="pong"), Agent=AtariFfAgent, B=4, T=32),
}


def rate(step_fn, steps_per_call, seconds):
    """Median steps/s over 3 timed windows after one warm-up call."""
    step_fn()
    rates = []
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            step_fn()
            n += 1
        rates.append(n * steps_per_call / (time.perf_counter() - start))
    return float(np.median(rates))


def sampler_rate(SamplerCls, cfg, seconds, **extra):
    sampler = SamplerCls(
        EnvCls=cfg["EnvCls"],
        env_kwargs=cfg["env_kwargs"],
        batch_T=cfg["T"],
        batch_B=cfg["B"],
        max_decorrelation_steps=50,
        **extra,
    )
    sampler.initialize(
        cfg["Agent"](), seed=0, affinity=dict(workers_cpus=[0, 1]), bootstrap_value=True
    )
    itr = iter(range(10**9))
    try:
        return rate(lambda: sampler.obtain_samples(next(itr)), cfg["T"] * cfg["B"], seconds)
    finally:
        sampler.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="timed seconds per sampler")
    parser.add_argument("--envs", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = {}
    try:
        for kind in args.envs:
            cfg = SETTINGS[kind]
            cpu = sampler_rate(CpuSampler, cfg, args.seconds)
            on_ray = sampler_rate(RaySampler, cfg, args.seconds, n_workers=2)
            results[f"{kind}_B{cfg['B']}"] = dict(
                T=cfg["T"],
                cpu_steps_per_s=round(cpu, 1),
                ray_steps_per_s=round(on_ray, 1),
                ray_over_cpu=round(on_ray / cpu, 3),
            )
    finally:
        ray.shutdown()
    out = dict(
        benchmark="ray_sampler",
        machine=dict(cpus=len(os.sched_getaffinity(0)), python=platform.python_version()),
        ray=ray.__version__,
        workers=2,
        seconds=args.seconds,
        results=results,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
