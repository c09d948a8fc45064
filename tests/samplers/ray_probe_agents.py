"""Agents and envs for the RaySampler tests (tests/samplers/test_ray_sampler.py).

A module of their own, light to import: the Ray actors unpickle them by name (tests/samplers
is on the actors' ``PYTHONPATH``).
"""

import copy
import os

import torch
from faulty_envs import InjectedFault
from probe_envs import CountingEnv, ObsAgent, ObsInfo

from rlpyt.agents.base import AgentStep

__all__ = ["ObsAgent", "LinearAgent", "LearnerCopyAgent", "ActorCtorFaultEnv", "DieOnceEnv"]


class LinearAgent(ObsAgent):
    """A one-weight model in shared memory: action = int(w * observation[0]) % 3 (w = 0)."""

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        self.env_spaces = env_spaces
        self.model = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(self.model.weight)
        self.shared_model = None
        if share_memory:
            self.model.share_memory()
            self.shared_model = self.model

    def step(self, observation, prev_action, prev_reward):
        with torch.no_grad():
            scaled = self.model(observation)[..., 0]
        action = scaled.long() % 3
        return AgentStep(action=action, agent_info=ObsInfo(value=10.0 * observation[..., 0]))


class LearnerCopyAgent(LinearAgent):
    """As LinearAgent, but acting with a shared copy of its model (as a GPU learner does)."""

    def initialize(self, env_spaces, share_memory=False, global_B=1, env_ranks=None):
        super().initialize(env_spaces)
        self.shared_model = copy.deepcopy(self.model).share_memory()

    def sync_shared_memory(self):
        self.shared_model.load_state_dict(self.model.state_dict())


class ActorCtorFaultEnv(CountingEnv):
    """A CountingEnv whose constructor raises in any process but ``master_pid``."""

    def __init__(self, master_pid):
        if os.getpid() != master_pid:
            raise InjectedFault("injected constructor fault in a Ray actor")
        super().__init__()


class DieOnceEnv(CountingEnv):
    """A CountingEnv whose process exits at its ``at_step``-th step, once (a marker file).

    Only the env seeded with ``die_seed`` dies (so the test knows which actor).
    """

    def __init__(self, marker, at_step, length, die_seed):
        super().__init__(lengths=(length,))
        self.marker, self.at_step, self.die_seed = marker, at_step, die_seed
        self.n_steps, self.seeded = 0, None

    def seed(self, seed=None):
        super().seed(seed)
        self.seeded = seed

    def step(self, action):
        self.n_steps += 1
        if (
            self.n_steps == self.at_step
            and self.seeded == self.die_seed
            and not os.path.exists(self.marker)
        ):
            open(self.marker, "w").close()
            os._exit(3)
        return super().step(action)
