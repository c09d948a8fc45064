"""Agents and checks of the episode-sampler tests (a module, so spawned workers import it).

* :class:`ScriptedAgent` plays a fixed action sequence per env (no network): exact episode
  contents; it records the ``env_ids`` of each ``step`` call.
* :class:`RandomPickAgent` draws each action from ``self.rng`` (the env's generator).
* :class:`LookaheadAgent`: one-step lookahead with a value network, ``a = argmax_a r + gamma
  V(s')`` (0 after a terminal step), ties broken with ``self.rng``: one network request per
  search, so one forward pass per real step for all envs together.
* :class:`RaisingAgent` raises at a given real step (worker fault tests).
"""

import os

import numpy as np

from rlpyt.agents.planning.base import PlanningAgent, SearchResult

HANOI_2_SOLUTION = (0, 1, 3)  # disk 0 to peg 1, disk 1 to peg 2, disk 0 to peg 2


def assert_same_episodes(a, b):
    """Two lists of episodes are equal, field by field (NaN equal to NaN)."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.env_rank == y.env_rank
        assert (x.terminated, x.solved) == (y.terminated, y.solved)
        np.testing.assert_array_equal(x.observation, y.observation)
        np.testing.assert_array_equal(x.action, y.action)
        np.testing.assert_array_equal(x.reward, y.reward)
        for field_x, field_y in zip(x.agent_info, y.agent_info, strict=True):
            np.testing.assert_array_equal(field_x, field_y)


class ScriptedAgent(PlanningAgent):
    """Env rank ``r`` plays ``scripts[r % len(scripts)][t]`` at real step ``t`` (cycling)."""

    def __init__(self, scripts=(HANOI_2_SOLUTION,), **kwargs):
        super().__init__(**kwargs)
        self.scripts = [tuple(s) for s in scripts]
        self._t = []
        self.step_env_ids = []  # env_ids of each step call

    def reset(self):
        self._t = [0] * len(self._envs)

    def step(self, observation, prev_action, prev_reward, env_ids=None):
        self.step_env_ids.append(list(env_ids))
        return super().step(observation, prev_action, prev_reward, env_ids=env_ids)

    def search(self, env_id, observation):
        script = self.scripts[self.env_ranks[env_id] % len(self.scripts)]
        action = script[self._t[env_id] % len(script)]
        self._t[env_id] += 1
        return SearchResult(action=action, value=float(self._t[env_id]), metrics={"t": 1.0})
        yield  # a generator that never asks for the network


class RandomPickAgent(PlanningAgent):
    """Uniform random actions from ``self.rng`` (env b's generator during b's search)."""

    def search(self, env_id, observation):
        return SearchResult(action=int(self.rng.integers(self.n_actions)))
        yield  # a generator that never asks for the network


class LookaheadAgent(PlanningAgent):
    """One-step lookahead over all actions with a value network (see the module docstring)."""

    def __init__(self, discount=0.99, **kwargs):
        super().__init__(**kwargs)
        self.discount = discount

    def search(self, env_id, observation):
        model = self.model_of(env_id)
        root = model.clone_state()
        children = []
        for action in range(self.n_actions):
            model.restore_state(root)
            obs, reward, done, env_info = model.step(action)
            terminal = done and not env_info.timeout
            children.append((np.asarray(obs), float(reward), terminal))
        outputs = yield np.stack([c[0] for c in children])
        qualities = np.array(
            [
                r + (0.0 if term else self.discount * v)
                for (_, r, term), v in zip(children, outputs["value"], strict=True)
            ],
            dtype=np.float32,
        )
        best = np.flatnonzero(qualities >= qualities.max() - 1e-6)
        action = int(self.rng.choice(best))
        return SearchResult(
            action=action,
            value=float(qualities.max()),
            qualities=qualities,
            metrics={"nodes": float(self.n_actions)},
        )


class RaisingAgent(ScriptedAgent):
    """A scripted agent whose search raises at real step ``fail_at`` of env rank ``fail_rank``."""

    def __init__(self, fail_rank=0, fail_at=1, **kwargs):
        super().__init__(**kwargs)
        self.fail_rank = fail_rank
        self.fail_at = fail_at

    def search(self, env_id, observation):
        if self.env_ranks[env_id] == self.fail_rank and self._t[env_id] == self.fail_at:
            raise RuntimeError(f"planned failure of env rank {self.fail_rank}")
        return (yield from super().search(env_id, observation))


class ExitingAgent(ScriptedAgent):
    """A scripted agent whose process exits hard (``os._exit(3)``) at its first search of
    env rank ``exit_rank``."""

    def __init__(self, exit_rank=0, **kwargs):
        super().__init__(**kwargs)
        self.exit_rank = exit_rank

    def search(self, env_id, observation):
        if self.env_ranks[env_id] == self.exit_rank:
            os._exit(3)
        return (yield from super().search(env_id, observation))
