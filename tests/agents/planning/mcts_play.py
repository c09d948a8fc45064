"""A minimal episode loop for the planner tests: B envs stepped in lockstep by one agent.

(The episode samplers of :mod:`rlpyt.samplers.episodes` do this for real runs; the
tests of the planners need only the loop.)
"""

import time
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class PlayedEpisode:
    returns: float = 0.0
    length: int = 0
    solved: bool = False
    actions: list = field(default_factory=list)
    metrics: list = field(default_factory=list)  # the agent's step_metrics, one per step


def bind(agent, envs, seed=0):
    """Initialize ``agent`` for ``envs``' spaces and bind it to them (env b seeded seed + b)."""
    for b, env in enumerate(envs):
        env.seed(seed + b)
    agent.initialize(envs[0].spaces, global_B=len(envs))
    agent.bind_envs(envs, seed=seed)
    agent.eval_mode(0)


def play(agent, envs, n_rounds=1, max_steps=None):
    """``n_rounds`` episodes per env, all envs in lockstep; returns the episodes and seconds.

    An episode ends when its env is done or after ``max_steps`` steps.
    """
    episodes = []
    start = time.perf_counter()
    for _ in range(n_rounds):
        observations = [np.asarray(env.reset()) for env in envs]
        agent.reset()
        records = [PlayedEpisode() for _ in envs]
        active = list(range(len(envs)))
        while active:
            prev = np.zeros(len(active), dtype=np.int64)
            step = agent.step(
                np.stack([observations[b] for b in active]),
                prev,
                prev.astype(np.float32),
                env_ids=active,
            )
            still = []
            for i, b in enumerate(active):
                action = int(step.action[i])
                env_step = envs[b].step(np.asarray(action))
                record = records[b]
                record.returns += float(env_step.reward)
                record.length += 1
                record.actions.append(action)
                record.metrics.append(agent.step_metrics[i])
                record.solved = bool(getattr(env_step.env_info, "solved", False))
                observations[b] = np.asarray(env_step.observation)
                if not (env_step.done or (max_steps is not None and record.length >= max_steps)):
                    still.append(b)
            active = still
        episodes.extend(records)
    return episodes, time.perf_counter() - start


class ConstantModel(torch.nn.Module):
    """A network with fixed outputs, for hand-computed search values.

    ``value`` ``[N]`` = ``value``; ``q`` ``[N, A]`` and ``policy`` ``[N, A]`` rows = the
    given vectors (a head is absent where its argument is None).
    """

    def __init__(self, observation_shape, action_size, value=0.0, q=None, policy=None):
        super().__init__()
        self.value, self.q, self.policy = value, q, policy
        self.heads = tuple(
            h for h, x in (("value", value), ("q", q), ("policy", policy)) if x is not None
        )

    def forward(self, observation):
        n = observation.shape[0]
        out = {}
        if self.value is not None:
            out["value"] = torch.full((n,), float(self.value))
        for name, row in (("q", self.q), ("policy", self.policy)):
            if row is not None:
                out[name] = torch.tensor(row, dtype=torch.float32).expand(n, -1)
        return out
