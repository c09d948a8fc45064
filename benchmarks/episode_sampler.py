"""Planning throughput of the serial episode sampler: B envs in lockstep vs one; prints JSON.

A one-step-lookahead planner with a value network (``PlanningMlpModel(heads=("value",))``,
64x64 MLP) on Tower of Hanoi: at each real step it steps a model of its env once per action
(6) and asks the network about the 6 children, so the network is called once per real step
for all B envs together. Epochs of ``--steps`` real steps per env
(``episode_time_limit``; an untrained network never solves 5 disks that fast), after one
warm-up epoch. Reports real env steps per second (all envs), forward passes per lockstep
step, and the speed-up of each B over B=1.

Usage: ``python benchmarks/episode_sampler.py [--n-disks 5] [--batch 1 16] [--steps 200]
[--epochs 3]``
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rlpyt.agents.planning.base import PlanningAgent, SearchResult
from rlpyt.envs.gym import gym_make
from rlpyt.models.planning import PlanningMlpModel
from rlpyt.samplers.episodes import SerialEpisodeSampler


class LookaheadAgent(PlanningAgent):
    """``argmax_a r + 0.99 V(s')`` over all actions (0 after a terminal step)."""

    def search(self, env_id, observation):
        model = self.model_of(env_id)
        root = model.clone_state()
        children = []
        for action in range(self.n_actions):
            model.restore_state(root)
            obs, reward, done, env_info = model.step(action)
            children.append((obs, float(reward), done and not env_info.timeout))
        outputs = yield np.stack([c[0] for c in children])
        q = [r + (0.0 if t else 0.99 * v) for (_, r, t), v in zip(children, outputs["value"])]
        return SearchResult(action=int(np.argmax(q)), value=float(max(q)))


def measure(n_disks, B, steps, epochs, seed=0):
    torch.manual_seed(seed)
    agent = LookaheadAgent(ModelCls=PlanningMlpModel, model_kwargs=dict(heads=("value",)))
    sampler = SerialEpisodeSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="rlpyt/Hanoi-v0", n_disks=n_disks),
        n_envs=B,
        episode_time_limit=steps,
    )
    sampler.initialize(agent, seed=seed)
    try:
        sampler.obtain_samples(0)  # warm-up
        forward_calls, search_steps = agent.forward_calls, agent.search_steps
        real_steps = 0
        start = time.perf_counter()
        for itr in range(1, epochs + 1):
            episodes, _ = sampler.obtain_samples(itr)
            real_steps += sum(len(e) for e in episodes)
        elapsed = time.perf_counter() - start
    finally:
        sampler.shutdown()
    return {
        "B": B,
        "real_steps": real_steps,
        "seconds": round(elapsed, 3),
        "real_steps_per_s": round(real_steps / elapsed, 1),
        "forward_calls_per_search_step": (agent.forward_calls - forward_calls)
        / max(agent.search_steps - search_steps, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-disks", type=int, default=5)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = [measure(args.n_disks, B, args.steps, args.epochs) for B in args.batch]
    base = results[0]["real_steps_per_s"]
    for r in results:
        r["speedup_vs_first"] = round(r["real_steps_per_s"] / base, 2)
    json.dump(
        {"env": f"Hanoi n_disks={args.n_disks}", "torch_threads": 1, "results": results},
        sys.stdout,
        indent=1,
    )
    print()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
