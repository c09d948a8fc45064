"""Envs of the Ray scheme's tests (imported by the Ray workers: tests/runners is on their path)."""

import os

from rlpyt.envs.slow import SlowEnv


class DieOnceEnv(SlowEnv):
    """SlowEnv whose env seeded ``die_seed`` kills its process at step ``at_step``, once
    (the ``marker`` file records that it died, so a restarted worker runs on); with
    ``raises`` it raises a RuntimeError there instead."""

    def __init__(self, marker: str, die_seed: int, at_step: int = 20, raises=False, **kwargs):
        super().__init__(**kwargs)
        self.marker, self.die_seed, self.at_step = marker, die_seed, at_step
        self.raises = raises
        self.steps = 0
        self.dies = False

    def seed(self, seed=None):
        self.dies = seed == self.die_seed
        return super().seed(seed)

    def step(self, action):
        self.steps += 1
        if self.dies and self.steps >= self.at_step and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            if self.raises:
                raise RuntimeError(f"failed at step {self.steps}")
            os._exit(1)
        return super().step(action)
