"""SerialSampler collection with each env backend, side by side in one process; prints JSON.

* ``cartpole``: ``env.backend=python`` vs ``gym_vector`` on CartPole-v1 (MlpFfAgent), for B=8
  (T=32, the PPO CartPole settings) and B=64 (T=16). The samples of the two backends are
  identical (tests/samplers/test_vector_backend.py): only the time differs.
* ``mujoco``: ``python`` vs ``envpool`` (EnvPool's MuJoCo tasks, one thread per env up to the
  CPUs of this process, and one thread) on HalfCheetah-v5 with SAC's agent acting
  (SacAgent, [256, 256] MLPs), B=8, T=32. Needs the ``envpool`` extra.

All samplers of a part are built in this process (one torch thread, seed 0) and timed
alternately, 5 rounds of 10 ``obtain_samples`` calls each; the median env steps/s per backend
and the ratios to ``python`` are printed.

Usage: ``python benchmarks/env_backends.py [--parts cartpole mujoco]``
"""

import argparse
import json
import time

import torch

from rlpyt.envs.gym import gym_make
from rlpyt.envs.vector import GymVectorEnvs
from rlpyt.samplers.serial.sampler import SerialSampler

ROUNDS, ITRS = 5, 10


def _time_samplers(backends, AgentCls, B, T) -> dict:
    samplers = {}
    for name, EnvCls, env_kwargs in backends:
        sampler = SerialSampler(
            EnvCls=EnvCls, env_kwargs=env_kwargs, batch_T=T, batch_B=B,
            max_decorrelation_steps=100,
        )  # fmt: skip
        sampler.initialize(AgentCls(), seed=0, bootstrap_value=False)
        samplers[name] = sampler
    rates = {name: [] for name in samplers}
    for _ in range(ROUNDS):
        for name, sampler in samplers.items():
            start = time.perf_counter()
            for itr in range(ITRS):
                sampler.obtain_samples(itr)
            rates[name].append(ITRS * T * B / (time.perf_counter() - start))
    for sampler in samplers.values():
        sampler.shutdown()
    median = {name: sorted(r)[ROUNDS // 2] for name, r in rates.items()}
    return {
        "steps_per_s": {name: round(v) for name, v in median.items()},
        "over_python": {
            name: round(v / median["python"], 2) for name, v in median.items() if name != "python"
        },
    }


def cartpole() -> dict:
    from rlpyt.agents.pg.mlp import MlpFfAgent

    backends = (
        ("python", gym_make, dict(id="CartPole-v1")),
        ("gym_vector", GymVectorEnvs("CartPole-v1"), {}),
    )
    return {f"B={B},T={T}": _time_samplers(backends, MlpFfAgent, B, T)
            for B, T in ((8, 32), (64, 16))}  # fmt: skip


def mujoco() -> dict:
    from rlpyt.agents.qpg.sac_agent import SacAgent
    from rlpyt.envs.envpool_mujoco import EnvPoolMujocoEnvs

    env_id = "HalfCheetah-v5"
    backends = (
        ("python", gym_make, dict(id=env_id)),
        ("envpool", EnvPoolMujocoEnvs(env_id), {}),
        ("envpool_1_thread", EnvPoolMujocoEnvs(env_id, num_threads=1), {}),
    )
    return {"B=8,T=32": _time_samplers(backends, SacAgent, 8, 32)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=["cartpole", "mujoco"],
                        default=["cartpole", "mujoco"])  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    parts = dict(cartpole=("CartPole-v1", cartpole), mujoco=("HalfCheetah-v5", mujoco))
    result = {part: {"env": parts[part][0], **parts[part][1]()} for part in args.parts}
    print(json.dumps({"benchmark": "env_backends", **result}))


if __name__ == "__main__":
    main()
