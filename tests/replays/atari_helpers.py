"""A real AtariEnv run, collected like a mid-batch-reset collector, for the frame buffers."""

import numpy as np

from rlpyt.envs.atari.atari_env import AtariEnv
from rlpyt.replays.collections import SamplesToBufferFrame, SamplesToBufferRnnFrame

FRAME = (4, 84, 84)


def frame_example(rnn: bool = False):
    obs = np.zeros(FRAME, np.uint8)
    example = SamplesToBufferFrame(
        observation=obs,
        action=np.int64(0),
        reward=np.float32(0),
        done=np.bool_(False),
        timeout=np.bool_(False),
        final_observation=obs,
        traj_done=np.bool_(False),
    )
    if rnn:
        return SamplesToBufferRnnFrame(*example, prev_rnn_state=np.zeros((1, 2), np.float32))
    return example


class Collector:
    """Steps B AtariEnvs with random actions like a mid-batch-reset collector."""

    def __init__(self, game, B, horizon, seed):
        self.envs = [
            AtariEnv(game=game, horizon=horizon, fire_on_reset=game == "breakout", seed=seed + b)
            for b in range(B)
        ]
        self.rng = np.random.default_rng(seed)
        self.obs = [env.reset() for env in self.envs]
        self.life_losses = self.cuts = self.steps = 0

    def batch(self, T, rnn: bool = False):
        """``T`` steps of every env; with ``rnn``, ``prev_rnn_state[t, b] = [[step, b]]``."""
        B = len(self.envs)
        fields = {name: [] for name in SamplesToBufferFrame._fields}
        for _ in range(T):
            row = {name: [] for name in fields}
            for b, env in enumerate(self.envs):
                action = int(self.rng.integers(env.action_space.n))
                step = env.step(action)
                info = step.env_info
                row["observation"].append(self.obs[b])
                row["action"].append(action)
                row["reward"].append(step.reward)
                row["done"].append(step.done)
                row["timeout"].append(info.timeout)
                row["traj_done"].append(info.traj_done)
                row["final_observation"].append(
                    step.observation if info.timeout else np.zeros(FRAME, np.uint8)
                )
                self.life_losses += step.done and not info.traj_done
                self.cuts += bool(info.timeout)
                self.obs[b] = env.reset() if info.traj_done else step.observation
            for name in fields:
                fields[name].append(np.stack(row[name]))
        samples = SamplesToBufferFrame(**{k: np.stack(v) for k, v in fields.items()})
        steps = np.arange(self.steps, self.steps + T, dtype=np.float32)
        self.steps += T
        if not rnn:
            return samples
        state = np.stack(np.broadcast_arrays(steps[:, None], np.arange(B, dtype=np.float32)), -1)
        return SamplesToBufferRnnFrame(*samples, prev_rnn_state=state[:, :, None, :])
