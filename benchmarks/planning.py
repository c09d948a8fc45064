"""Batched network evaluation in planning: MCTS with a value network, B envs vs one; prints JSON.

``DeterministicMctsAgent`` (``n_passes`` passes per real step, a value network
``PlanningMlpModel(hidden_sizes=--hidden, heads=("value",))``, untrained, seeded) plays
Tower of Hanoi through ``SerialEpisodeSampler`` with B envs in lockstep. Each pass of a
search expands one node and yields its new children to the network, and
``PlanningAgent.run_searches`` puts the requests of all B envs of a search step into one
forward pass. So the search budget per real step is the same for every B, and the
network is called about ``n_passes`` times per real step whatever B is.

Reported per B (medians over ``--rounds`` interleaved rounds, after a warm-up epoch;
each timed stretch is whole epochs of ``--steps`` real steps per env, at least
``--min-real-steps`` real steps in all):

* ``real_steps_per_s``: real env steps of all envs per second of ``obtain_samples``;
* ``forward_calls_per_search_step``: network forward passes per lockstep search step
  (1: one batched forward for all envs, not B);
* ``rows_per_forward``: observations per forward pass (B envs' new nodes together);
* ``forward_share``: the share of the time spent in the network's forward passes
  (``PlanningAgent.evaluate``, including the numpy/torch conversions);
* ``search_us_per_env_pass``: the rest (selection, model steps, restores, backups,
  sampler) per env and pass, in microseconds;
* ``speedup_vs_B1``: the median over rounds of this B's rate over B=1's rate in the
  same round (the machine's load changes from minute to minute; ratios of one round
  compare like with like).

``forward_us``: the cost of one ``evaluate`` call on ``n`` random observations
(median of 5 x 200 calls), for ``n`` = 1 and the rows per forward seen at each B: what a
forward pass costs at the batch sizes the searches make, and so what batching saves.

Usage: ``python benchmarks/planning.py [--n-disks 5] [--batch 1 4 16 64] [--n-passes 10]
[--steps 40] [--rounds 3] [--min-real-steps 320] [--hidden 64 64] [--cuda]``

``--cuda`` puts the network on ``cuda:0`` (the searches and the models stay on the CPU):
there a forward pass costs about the same for 1 row as for 100, which is where batching
the searches' requests pays most.
"""

import argparse
import json
import math
import os
import platform
import time

import numpy as np
import torch

from rlpyt.agents.planning import DeterministicMctsAgent
from rlpyt.envs.gym import gym_make
from rlpyt.models.planning import PlanningMlpModel
from rlpyt.samplers.episodes import SerialEpisodeSampler


class TimedMctsAgent(DeterministicMctsAgent):
    """Counts the rows and the time of the network's forward passes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.forward_rows = 0
        self.forward_seconds = 0.0

    def evaluate(self, observations):
        start = time.perf_counter()
        outputs = super().evaluate(observations)
        self.forward_seconds += time.perf_counter() - start
        self.forward_rows += len(observations)
        return outputs


class Setting:
    """One B: its sampler and agent, kept over the rounds."""

    def __init__(self, B, args, seed=0):
        torch.manual_seed(seed)  # the same network weights for every B
        self.B = B
        self.agent = TimedMctsAgent(
            n_passes=args.n_passes,
            ModelCls=PlanningMlpModel,
            model_kwargs=dict(hidden_sizes=tuple(args.hidden), heads=("value",)),
        )
        self.sampler = SerialEpisodeSampler(
            EnvCls=gym_make,
            env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=args.n_disks),
            n_envs=B,
            episode_time_limit=args.steps,
        )
        self.sampler.initialize(self.agent, seed=seed)
        if args.cuda:
            self.agent.to_device(0)  # the network on the GPU; the searches stay on the CPU
        self.epochs_per_round = max(1, math.ceil(args.min_real_steps / (B * args.steps)))
        self.sampler.obtain_samples(0)  # warm-up
        self.rounds = []

    def run_round(self):
        agent = self.agent
        calls, steps = agent.forward_calls, agent.search_steps
        rows, forward_seconds = agent.forward_rows, agent.forward_seconds
        real_steps = 0
        start = time.perf_counter()
        for _ in range(self.epochs_per_round):
            episodes, _ = self.sampler.obtain_samples(self.sampler.epoch)
            real_steps += sum(len(e) for e in episodes)
        seconds = time.perf_counter() - start
        self.rounds.append(
            dict(
                real_steps=real_steps,
                seconds=seconds,
                forward_calls=agent.forward_calls - calls,
                search_steps=agent.search_steps - steps,
                rows=agent.forward_rows - rows,
                forward_seconds=agent.forward_seconds - forward_seconds,
            )
        )
        return real_steps / seconds

    def summary(self, n_passes):
        r = {k: sum(x[k] for x in self.rounds) for k in self.rounds[0]}
        rates = [x["real_steps"] / x["seconds"] for x in self.rounds]
        search_seconds = r["seconds"] - r["forward_seconds"]
        return dict(
            B=self.B,
            real_steps_per_round=self.rounds[0]["real_steps"],
            real_steps_per_s=round(float(np.median(rates)), 1),
            real_steps_per_s_rounds=[round(x, 1) for x in rates],
            forward_calls_per_search_step=round(r["forward_calls"] / r["search_steps"], 3),
            forward_calls_per_real_step=round(r["forward_calls"] / r["real_steps"] * self.B, 2),
            rows_per_forward=round(r["rows"] / r["forward_calls"], 1),
            forward_share=round(r["forward_seconds"] / r["seconds"], 3),
            search_us_per_env_pass=round(search_seconds / (r["real_steps"] * n_passes) * 1e6, 1),
        )

    def shutdown(self):
        self.sampler.shutdown()


def forward_cost_us(agent, n, repeats=5, calls=200):
    """Median microseconds of one ``agent.evaluate`` call on ``n`` random observations."""
    shape = agent.env_model_kwargs["observation_shape"]
    observations = np.random.default_rng(0).random((n, *shape), dtype=np.float32)
    with torch.no_grad():
        for _ in range(20):
            agent.evaluate(observations)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                agent.evaluate(observations)
            times.append((time.perf_counter() - start) / calls)
    return round(float(np.median(times)) * 1e6, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-disks", type=int, default=5)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--n-passes", type=int, default=10, help="MCTS passes per real step")
    parser.add_argument("--steps", type=int, default=40, help="real steps per env and epoch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-real-steps", type=int, default=320, help="per B and round")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--cuda", action="store_true", help="the network on cuda:0 (if any)")
    args = parser.parse_args(argv)
    if args.cuda and not torch.cuda.is_available():
        parser.error("--cuda: CUDA is not available on this machine")
    if args.batch[0] != 1:
        parser.error("--batch must start with 1 (the baseline of the speed-ups)")
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    settings = [Setting(B, args) for B in args.batch]
    try:
        speedups = {B: [] for B in args.batch}
        for _ in range(args.rounds):
            rates = [s.run_round() for s in settings]  # interleaved: one epoch set per B
            for s, rate in zip(settings, rates):
                speedups[s.B].append(rate / rates[0])
        results = [s.summary(args.n_passes) for s in settings]
        for r in results:
            r["speedup_vs_B1"] = round(float(np.median(speedups[r["B"]])), 2)
        agent = settings[0].agent
        sizes = sorted({1, *(max(1, round(r["rows_per_forward"])) for r in results)})
        forward_us = {str(n): forward_cost_us(agent, n) for n in sizes}
    finally:
        for s in settings:
            s.shutdown()
    out = dict(
        benchmark="planning",
        machine=dict(
            cpus=len(os.sched_getaffinity(0)),
            python=platform.python_version(),
            torch=torch.__version__,
            loadavg_before=[round(x, 1) for x in load_before],
            loadavg_after=[round(x, 1) for x in os.getloadavg()],
        ),
        env=f"rlpyt/Hanoi-v0 n_disks={args.n_disks}",
        agent=dict(
            cls="DeterministicMctsAgent",
            n_passes=args.n_passes,
            leaf="value",
            network=f"PlanningMlpModel hidden_sizes={args.hidden} (untrained)",
        ),
        sampler="SerialEpisodeSampler",
        torch_threads=1,
        device="cuda:0" if args.cuda else "cpu",
        steps_per_env_per_epoch=args.steps,
        rounds=args.rounds,
        results=results,
        forward_us=forward_us,
    )
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
