"""Sampler throughput: env steps/s of every rlpyt sampler against SB3's SubprocVecEnv.

Prints one JSON object. For CartPole-v1 (MLP policy) and Atari Pong (AtariFfModel)
it measures, in one run, with the same policy network choosing every action:

* ``raw``: the env stepped in a loop with random actions, one process; and the same
  loop in two processes pinned to two cores (the machine's own 2-process scaling);
* ``serial``, ``cpu``, ``gpu``, ``alternating``: rlpyt's samplers (2 workers for
  the parallel ones; ``obtain_samples`` only, after warm-up batches);
* ``serial_envpool``, ``cpu_envpool`` (Pong, where the ``envpool`` extra is installed):
  the serial and cpu samplers with ``env.backend=envpool`` (``EnvPoolEnvs``: the serial
  sampler's batch steps in EnvPool's threads, one per core; each cpu worker's slice in
  one thread on its core);
* ``sb3_subproc``: Stable-Baselines3's ``SubprocVecEnv`` over the same number of
  envs, stepped by a loop that runs the same torch policy on its observations
  (SB3's own ``collect_rollouts`` adds buffer work on top; this is its floor).
  For Pong SB3 gets gymnasium's standard Atari stack (what its users run).

The process first sets glibc's malloc as a runner does at start-up
(:func:`rlpyt.utils.malloc.keep_freed_memory`; forked workers inherit it), so the serial
sampler and the policy's forward passes run as under a runner; SB3's loop in this process
and its forked env processes get the same setting.

    .venv/bin/python benchmarks/sampler_throughput.py [--seconds 6] [--envs cartpole pong]
"""

import argparse
import json
import os
import platform
import time
from functools import partial

import numpy as np
import torch

from rlpyt.agents.pg.atari import AtariFfAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.envs.atari.atari_env import AtariEnv
from rlpyt.envs.envpool import EnvPoolEnvs, envpool_available
from rlpyt.envs.gym import gym_make
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.gpu.alternating_sampler import AlternatingSampler
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.malloc import keep_freed_memory

SETTINGS = {
    "cartpole": dict(
        EnvCls=partial(gym_make, "CartPole-v1"), env_kwargs={}, Agent=MlpFfAgent, Bs=(8, 32), T=64
    ),
    "pong": dict(
        EnvCls=AtariEnv, env_kwargs=dict(game="pong"), Agent=AtariFfAgent, Bs=(8, 16, 32), T=16
    ),
}
SAMPLERS = {
    "serial": SerialSampler,
    "cpu": CpuSampler,
    "gpu": GpuSampler,
    "alternating": AlternatingSampler,
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


def raw_rate(cfg, seconds):
    env = cfg["EnvCls"](**cfg["env_kwargs"])
    env.seed(0)
    env.reset()
    rng = np.random.default_rng(0)
    n_act = env.action_space.n

    def run():
        for a in rng.integers(n_act, size=256):
            if env.step(a).done:
                env.reset()

    return rate(run, 256, seconds)


def _raw_worker(kind, seconds, cpu, queue):
    os.sched_setaffinity(0, {cpu})
    queue.put(raw_rate(SETTINGS[kind], seconds))


def raw_rate_2proc(kind, seconds):
    """Summed steps/s of two raw env loops in two processes pinned to two cores: the
    hardware's own parallel scaling, an upper bound for any 2-worker sampler."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    cpus = sorted(os.sched_getaffinity(0))[:2]
    procs = [ctx.Process(target=_raw_worker, args=(kind, seconds, c, queue)) for c in cpus]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def sampler_rate(name, cfg, B, seconds, EnvCls=None):
    kwargs = dict(
        EnvCls=cfg["EnvCls"] if EnvCls is None else EnvCls,
        env_kwargs=cfg["env_kwargs"],
        batch_T=cfg["T"],
        batch_B=B,
        max_decorrelation_steps=50,
    )
    sampler = SAMPLERS[name](**kwargs)
    agent = cfg["Agent"]()
    affinity = dict(workers_cpus=[0, 1]) if name != "serial" else {}
    sampler.initialize(agent, seed=0, affinity=affinity, bootstrap_value=True)
    itr = iter(range(10**9))
    try:
        return rate(lambda: sampler.obtain_samples(next(itr)), cfg["T"] * B, seconds)
    finally:
        sampler.shutdown()


def _sb3_env(kind):
    import gymnasium as gym

    if kind == "cartpole":
        return gym.make("CartPole-v1")
    import ale_py

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
    env = gym.wrappers.AtariPreprocessing(env, frame_skip=4, screen_size=84, noop_max=30)
    return gym.wrappers.FrameStackObservation(env, 4)


def sb3_rate(kind, cfg, B, seconds):
    from stable_baselines3.common.vec_env import SubprocVecEnv

    venv = SubprocVecEnv([partial(_sb3_env, kind) for _ in range(B)], start_method="fork")
    agent = cfg["Agent"]()
    example = cfg["EnvCls"](**cfg["env_kwargs"])
    agent.initialize(example.spaces)
    example.close()
    obs = venv.reset()
    prev_action = torch.zeros(B, dtype=torch.long)
    prev_reward = torch.zeros(B)

    def run():
        nonlocal obs
        for _ in range(cfg["T"]):
            action, _info = agent.step(torch.as_tensor(obs), prev_action, prev_reward)
            obs, _r, _d, _i = venv.step(action.numpy())

    try:
        return rate(run, cfg["T"] * B, seconds)
    finally:
        venv.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="timed seconds per case")
    parser.add_argument("--envs", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    kept = keep_freed_memory()  # as a runner does at start-up
    out = {
        "benchmark": "sampler_throughput",
        "workers": 2,
        "torch_threads_master": 1,
        "malloc_keeps_freed_memory": kept,
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "results": {},
    }
    for kind in args.envs:
        cfg = SETTINGS[kind]
        res = {"raw_env_loop": round(raw_rate(cfg, args.seconds))}
        res["raw_env_loop_2proc"] = round(raw_rate_2proc(kind, args.seconds))
        res["raw_2proc_scaling"] = round(res["raw_env_loop_2proc"] / res["raw_env_loop"], 2)
        for B in cfg["Bs"]:
            row = {name: round(sampler_rate(name, cfg, B, args.seconds)) for name in SAMPLERS}
            rlpyt_cases = list(SAMPLERS)
            if kind == "pong" and envpool_available():
                for name in ("serial", "cpu"):
                    rate_ = sampler_rate(name, cfg, B, args.seconds, EnvCls=EnvPoolEnvs())
                    row[f"{name}_envpool"] = round(rate_)
                    rlpyt_cases.append(f"{name}_envpool")
            row["sb3_subproc"] = round(sb3_rate(kind, cfg, B, args.seconds))
            best_parallel = max(row[n] for n in ("cpu", "gpu", "alternating"))
            best = max(row[n] for n in rlpyt_cases)
            row["best"] = max(rlpyt_cases, key=row.get)
            row["best_parallel_vs_serial"] = round(best_parallel / row["serial"], 2)
            row["best_parallel_vs_sb3"] = round(best_parallel / row["sb3_subproc"], 2)
            row["best_vs_serial"] = round(best / row["serial"], 2)
            row["best_vs_sb3"] = round(best / row["sb3_subproc"], 2)
            res[f"B={B}"] = row
        out["results"][kind] = res
    pong = [v for k, v in out["results"].get("pong", {}).items() if k.startswith("B=")]
    cart = [v for k, v in out["results"].get("cartpole", {}).items() if k.startswith("B=")]
    out["targets"] = {
        "pong_best_parallel_vs_serial_min": 1.7,
        "pong_best_parallel_vs_sb3_min": 1.5,
        "cartpole_best_vs_sb3_min": 3.0,
        # Issue 20: any rlpyt configuration (env backends included).
        "pong_best_vs_serial_min": 2.0,
        "pong_best_vs_sb3_min": 2.0,
    }
    out["targets_met"] = {
        "pong_vs_serial": bool(pong) and max(r["best_parallel_vs_serial"] for r in pong) >= 1.7,
        "pong_vs_sb3": bool(pong) and max(r["best_parallel_vs_sb3"] for r in pong) >= 1.5,
        "cartpole_vs_sb3": bool(cart) and max(r["best_vs_sb3"] for r in cart) >= 3.0,
        "pong_best_vs_serial": bool(pong) and max(r["best_vs_serial"] for r in pong) >= 2.0,
        "pong_best_vs_sb3": bool(pong) and max(r["best_vs_sb3"] for r in pong) >= 2.0,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
