"""The environment interface.

``step(action)`` returns ``EnvStep(observation, reward, done, env_info)``:

* ``done`` ends the episode, whether it terminated or was truncated;
* ``env_info`` is a namedtuple with the same numeric fields at every step (the
  sampler preallocates a buffer from the first one). ``env_info.timeout`` is
  true when a time limit cut the episode without it terminating: value targets
  must bootstrap through it. ``env_info.traj_done`` (Atari with episodic lives)
  marks the end of the game, while ``done`` also marks each lost life; the
  collector calls ``reset()`` only when ``traj_done`` (``done`` when absent).
"""

from collections import namedtuple

EnvStep = namedtuple("EnvStep", ["observation", "reward", "done", "env_info"])
EnvInfo = namedtuple("EnvInfo", [])  # an env with no info returns this (no fields)
EnvSpaces = namedtuple("EnvSpaces", ["observation", "action"])


class Env:
    """Base class of rlpyt environments (numpy in, numpy out)."""

    def step(self, action) -> EnvStep:
        """Advance one step; returns ``EnvStep(observation, reward, done, env_info)``."""
        raise NotImplementedError

    def reset(self):
        """Start a new episode; returns the first observation."""
        raise NotImplementedError

    def seed(self, seed: int | None = None) -> None:
        """Seed every source of randomness the env owns (applied from the next reset)."""
        for space in (self.observation_space, self.action_space):
            space.seed(seed)

    @property
    def action_space(self):
        return self._action_space

    @property
    def observation_space(self):
        return self._observation_space

    @property
    def spaces(self) -> EnvSpaces:
        return EnvSpaces(observation=self.observation_space, action=self.action_space)

    @property
    def horizon(self) -> int | None:
        """Maximum episode length (``None`` for no limit)."""
        return None

    def close(self) -> None:
        """Release resources (idempotent)."""
