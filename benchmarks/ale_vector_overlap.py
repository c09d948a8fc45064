"""Can C++ env threads in one process beat the serial sampler on Pong by 2x? Prints JSON.

Issue 20 asks for a sampler configuration at >= 2.0x the serial sampler with ``AtariEnv``
on Pong. ``CpuSampler`` reaches ~1.7x (docs/benchmarks.md, "Sampler throughput"): each of
its two worker processes pays the forward pass's per-call cost. This measures the other
route, one process whose policy forward runs once per batch while ale-py's own vector env
(``ale_py.vector_env.AtariVectorEnv``, C++ threads, the same emulator ``AtariEnv`` uses)
steps the games, in the loop a sampler would run (``AtariFfModel`` picks greedy actions,
one torch thread, 84x84 grey, frame skip 4, stack 4):

* ``serial``: ``B`` ``AtariEnv`` objects stepped one Python call each (the serial
  sampler's env work, without its buffers);
* ``sync_1``, ``sync_2``: one ``AtariVectorEnv`` of ``B`` games with 1 or 2 threads, the
  forward and the step one after the other;
* ``double_1``, ``double_2``: two vector envs of ``B/2`` games each (1 or 2 threads
  each), double-buffered: while the forward of one half runs, the other half steps
  (``send``/``recv``), so the forward overlaps the emulation.

Plus ``raw_*``: the env alone with random actions (the loop's upper bound). Configurations
are timed alternately (``--rounds`` rounds of ``--seconds`` each); the medians and the
ratios to ``serial`` are printed.

Usage: ``python benchmarks/ale_vector_overlap.py [--batch 16 32] [--seconds 3] [--rounds 3]``
"""

import argparse
import json
import time

import numpy as np
import torch
from ale_py.vector_env import AtariVectorEnv

from rlpyt.envs.atari.atari_env import AtariEnv
from rlpyt.models.pg.atari_ff_model import AtariFfModel
from rlpyt.utils.malloc import keep_freed_memory

GAME = "pong"


class Policy:
    """Greedy actions of an ``AtariFfModel`` (random weights: the cost, not the play)."""

    def __init__(self, n_actions: int):
        self.model = AtariFfModel(image_shape=(4, 84, 84), output_size=n_actions)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            pi, _ = self.model(torch.from_numpy(obs), None, None)
        return pi.argmax(-1).numpy().astype(np.int32)


def _vector_env(n: int, threads: int) -> AtariVectorEnv:
    # AtariEnv's settings: NOOP starts, clipped rewards, no FIRE reset; it resets finished
    # games itself (NEXT_STEP), which a throughput loop does not need to see.
    return AtariVectorEnv(GAME, n, num_threads=threads, noop_max=30, use_fire_reset=False)


def _timed(step, steps_per_call: int, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += steps_per_call
    return n / (time.perf_counter() - start)


def serial(B, seconds, policy=None):
    envs = [AtariEnv(game=GAME) for _ in range(B)]
    for b, env in enumerate(envs):
        env.seed(b)
    obs = np.stack([env.reset() for env in envs])
    rng = np.random.default_rng(0)

    def step():
        actions = policy(obs) if policy else rng.integers(0, 6, B)
        for b, (env, a) in enumerate(zip(envs, actions)):
            o, _, done, _ = env.step(int(a))
            obs[b] = env.reset() if done else o

    rate = _timed(step, B, seconds)
    for env in envs:
        env.close()
    return rate


def sync(B, threads, seconds, policy=None):
    env = _vector_env(B, threads)
    obs = [env.reset(seed=0)[0]]
    rng = np.random.default_rng(0)

    def step():
        actions = policy(obs[0]) if policy else rng.integers(0, 6, B).astype(np.int32)
        obs[0] = env.step(actions)[0]

    rate = _timed(step, B, seconds)
    env.close()
    return rate


def double(B, threads, seconds, policy):
    first, second = _vector_env(B // 2, threads), _vector_env(B // 2, threads)
    obs_first = [first.reset(seed=0)[0]]
    obs_second = second.reset(seed=B)[0]
    second.send(policy(obs_second))

    def step():  # the forward of each half runs while the other half steps
        first.send(policy(obs_first[0]))
        obs = second.recv()[0]
        second.send(policy(obs))
        obs_first[0] = first.recv()[0]

    rate = _timed(step, B, seconds)
    second.recv()
    first.close()
    second.close()
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if any(B < 2 or B % 2 for B in args.batch):
        parser.error(f"--batch {args.batch}: each B must be even and >= 2 (two halves)")
    keep_freed_memory()  # as a runner sets it
    torch.set_num_threads(1)
    torch.manual_seed(0)
    policy = Policy(AtariEnv(game=GAME).action_space.n)
    out = {"game": GAME, "seconds": args.seconds, "rounds": args.rounds, "batch": {}}
    for B in args.batch:
        s = args.seconds
        configs = {  # name: (function, arguments)
            "raw_serial": (serial, (B, s)),
            "raw_sync_1": (sync, (B, 1, s)),
            "raw_sync_2": (sync, (B, 2, s)),
            "serial": (serial, (B, s, policy)),
            "sync_1": (sync, (B, 1, s, policy)),
            "sync_2": (sync, (B, 2, s, policy)),
            "double_1": (double, (B, 1, s, policy)),
            "double_2": (double, (B, 2, s, policy)),
        }
        rates = {name: [] for name in configs}
        for _ in range(args.rounds):
            for name, (run, run_args) in configs.items():
                rates[name].append(run(*run_args))
        median = {name: float(np.median(r)) for name, r in rates.items()}
        out["batch"][B] = {
            "steps_per_s": {name: round(v) for name, v in median.items()},
            "over_serial": {
                name: round(median[name] / median["serial"], 2)
                for name in ("sync_1", "sync_2", "double_1", "double_2")
            },
            "raw_over_serial_loop": {
                name: round(median[name] / median["raw_serial"], 2)
                for name in ("raw_sync_1", "raw_sync_2")
            },
        }
        print(json.dumps({B: out["batch"][B]}), flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
