"""SerialSampler collection with env.backend=python vs gym_vector on CartPole-v1; prints JSON.

Both samplers (MlpFfAgent, one torch thread, seed 0) are built in this process and timed
alternately, 5 rounds of 10 ``obtain_samples`` calls each; the median env steps/s per
backend and their ratio are printed, for B=8 (T=32, the PPO CartPole settings) and B=64
(T=16). The samples of the two backends are identical (tests/samplers/test_vector_backend.py):
only the time differs.

Usage: ``python benchmarks/env_backends.py``
"""

import json
import time

import torch

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.envs.gym import gym_make
from rlpyt.envs.vector import GymVectorEnvs
from rlpyt.samplers.serial.sampler import SerialSampler

ROUNDS, ITRS = 5, 10


def main() -> None:
    torch.set_num_threads(1)
    result = {}
    for B, T in ((8, 32), (64, 16)):
        samplers = {}
        backends = (
            ("python", gym_make, dict(id="CartPole-v1")),
            ("gym_vector", GymVectorEnvs("CartPole-v1"), {}),
        )
        for name, EnvCls, env_kwargs in backends:
            sampler = SerialSampler(
                EnvCls=EnvCls, env_kwargs=env_kwargs, batch_T=T, batch_B=B,
                max_decorrelation_steps=100,
            )  # fmt: skip
            sampler.initialize(MlpFfAgent(), seed=0, bootstrap_value=True)
            samplers[name] = sampler
        rates = {name: [] for name in samplers}
        for _ in range(ROUNDS):
            for name, sampler in samplers.items():
                start = time.perf_counter()
                for itr in range(ITRS):
                    sampler.obtain_samples(itr)
                rates[name].append(ITRS * T * B / (time.perf_counter() - start))
        median = {name: sorted(r)[ROUNDS // 2] for name, r in rates.items()}
        result[f"B={B},T={T}"] = {
            "steps_per_s": {name: round(v) for name, v in median.items()},
            "gym_vector_over_python": round(median["gym_vector"] / median["python"], 2),
        }
        for sampler in samplers.values():
            sampler.shutdown()
    print(json.dumps({"benchmark": "env_backends", "env": "CartPole-v1", **result}))


if __name__ == "__main__":
    main()
