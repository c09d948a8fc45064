"""Throughput of the Ray scheme with 1, 2 and 4 collection workers on a slow env (JSON).

Each env step sleeps ``--step_ms`` (5 ms: the cost of the CartPole physics is negligible
beside it), so collection parallelises over Ray actors even on two cores: each actor
reserves a fraction of a CPU. One gradient worker, central update, synchronous links;
throughput is valid env steps per second of the training loop (after start-up).
Targets (issue 18): >= 1.6x from 1 to 2 workers, >= 1.4x from 2 to 4::

    python benchmarks/scheme_scaling.py --updates 12

``--env_process_sweep``: one collection worker of ``--envs_per_worker`` envs stepped in
its own process (``env_processes=0``) and in 1, 2 and 4 env processes (those that fit)::

    python benchmarks/scheme_scaling.py --updates 12 --envs_per_worker 4 --env_process_sweep
"""

import argparse
import json

import ray

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.impala import IMPALA
from rlpyt.envs.slow import SlowEnv
from rlpyt.runners.scheme import SchemeConfig, SchemeRl
from rlpyt.samplers.serial.sampler import SerialSampler


def throughput(n_workers, updates, step_ms, batch_T, envs_per_worker, collection, env_processes=0):
    sampler = SerialSampler(
        EnvCls=SlowEnv,
        env_kwargs=dict(step_seconds=step_ms / 1000),
        batch_T=batch_T,
        batch_B=envs_per_worker,
        max_decorrelation_steps=0,
    )
    steps = updates * n_workers * envs_per_worker * batch_T
    runner = SchemeRl(
        IMPALA(),
        MlpFfAgent(),
        sampler,
        n_steps=steps,
        scheme=SchemeConfig(
            collection_workers=n_workers,
            gradient_workers=1,
            collection=collection,
            env_processes=env_processes,
            collection_num_cpus=0.25,
            gradient_num_cpus=0.25,
        ),
        seed=1,
        log_interval_steps=steps,
    )
    runner.train()
    return runner.valid_steps / runner.loop_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=12)
    parser.add_argument("--step_ms", type=float, default=5.0)
    parser.add_argument("--batch_T", type=int, default=20)
    parser.add_argument("--envs_per_worker", type=int, default=2)
    parser.add_argument("--collection", default="sync", choices=("sync", "async"))
    parser.add_argument("--env_process_sweep", action="store_true")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    if args.env_process_sweep:
        try:
            rates = {
                k: throughput(
                    1,
                    args.updates,
                    args.step_ms,
                    args.batch_T,
                    args.envs_per_worker,
                    args.collection,
                    env_processes=k,
                )  # fmt: skip
                for k in (0, 1, 2, 4)
                if k <= args.envs_per_worker
            }
        finally:
            ray.shutdown()
        result = dict(
            benchmark="scheme_env_processes",
            settings=vars(args),
            steps_per_second={str(k): round(r, 1) for k, r in rates.items()},
            speedup_over_in_process={str(k): round(r / rates[0], 3) for k, r in rates.items()},
        )
        print(json.dumps(result, indent=2))
        return
    try:
        rates = {
            n: throughput(
                n, args.updates, args.step_ms, args.batch_T, args.envs_per_worker, args.collection
            )
            for n in (1, 2, 4)
        }
    finally:
        ray.shutdown()
    result = dict(
        benchmark="scheme_scaling",
        settings=vars(args),
        steps_per_second={str(n): round(r, 1) for n, r in rates.items()},
        speedup_1_to_2=round(rates[2] / rates[1], 3),
        speedup_2_to_4=round(rates[4] / rates[2], 3),
        targets=dict(speedup_1_to_2=1.6, speedup_2_to_4=1.4),
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
