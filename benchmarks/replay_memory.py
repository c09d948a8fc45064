"""Replay memory for 1M Atari transitions: rlpyt's frame buffers against SB3's layout.

Prints one JSON object. All sizes are computed, not allocated (a 1M buffer is 7 GB):

* rlpyt: ``nbytes`` of :class:`UniformReplayFrameBuffer` and
  :class:`PrioritizedReplayFrameBuffer` (arrays are allocated at the first append, their
  sizes are known before) for B = 1 and B = 8 envs, and the ratio to storing each
  84x84 frame once (1M * 7056 bytes; target <= 1.05);
* Stable-Baselines3's ``ReplayBuffer`` for the same observations (uint8 ``[4, 84, 84]``
  stacks, Discrete(6) actions): a real SB3 buffer of 1000 * B transitions is built and
  its arrays' bytes scaled to 1M (SB3's layout is linear in ``buffer_size``), with
  ``optimize_memory_usage`` off (observations and next_observations: 2 stacks per
  transition) and on (1 stack; SB3 then refuses ``handle_timeout_termination``, so
  time-limit cuts are treated as terminal).

With ``--sample-seconds S`` (default 3) it also times ``sample_batch(32)`` on a
100k-transition frame buffer of random frames (B = 8, n_step_return = 3).

Usage: ``python benchmarks/replay_memory.py [--sample-seconds S]``
"""

import argparse
import json
import platform
import time

import numpy as np

from rlpyt.replays.collections import SamplesToBufferFrame
from rlpyt.replays.non_sequence.frame import PrioritizedReplayFrameBuffer, UniformReplayFrameBuffer

N = 1_000_000
FRAME_BYTES = 84 * 84
TARGET_RATIO = 1.05


def frame_example() -> SamplesToBufferFrame:
    obs = np.zeros((4, 84, 84), np.uint8)
    return SamplesToBufferFrame(
        observation=obs,
        action=np.int64(0),
        reward=np.float32(0),
        done=np.bool_(False),
        timeout=np.bool_(False),
        final_observation=obs,
        traj_done=np.bool_(False),
    )


def rlpyt_bytes(B: int) -> dict:
    out = {}
    for name, cls in (
        ("uniform", UniformReplayFrameBuffer),
        ("prioritized", PrioritizedReplayFrameBuffer),
    ):
        nbytes = cls(example=frame_example(), size=N, B=B).nbytes
        out[name] = dict(bytes=nbytes, ratio_to_frames_once=round(nbytes / (N * FRAME_BYTES), 4))
    return out


def sb3_bytes(B: int, optimize_memory_usage: bool) -> int:
    from gymnasium import spaces
    from stable_baselines3.common.buffers import ReplayBuffer

    small = 1000 * B
    buffer = ReplayBuffer(
        small,
        spaces.Box(0, 255, (4, 84, 84), np.uint8),
        spaces.Discrete(6),
        device="cpu",
        n_envs=B,
        optimize_memory_usage=optimize_memory_usage,
        handle_timeout_termination=not optimize_memory_usage,
    )
    names = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
    arrays = [getattr(buffer, n, None) for n in names]
    small_bytes = sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
    return small_bytes * (N // small)


def sample_rate(seconds: float) -> float:
    """``sample_batch(32)`` calls per second on a 100k random-frame buffer."""
    B, T = 8, 16
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (T, B, 4, 84, 84), dtype=np.uint8)
    zeros = np.zeros((T, B), bool)
    batch = SamplesToBufferFrame(
        observation=frames,
        action=rng.integers(0, 6, (T, B)),
        reward=rng.normal(size=(T, B)).astype(np.float32),
        done=rng.random((T, B)) < 0.01,
        timeout=zeros,
        final_observation=frames,
        traj_done=zeros,
    )
    replay = UniformReplayFrameBuffer(example=frame_example(), size=100_000, B=B, n_step_return=3)
    for _ in range(100_000 // (T * B)):
        replay.append_samples(batch)
    for _ in range(20):
        replay.sample_batch(32)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        replay.sample_batch(32)
        n += 1
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample-seconds", type=float, default=3.0)
    args = parser.parse_args()
    result = dict(
        transitions=N,
        frames_once_bytes=N * FRAME_BYTES,
        target_ratio=TARGET_RATIO,
        machine=platform.machine(),
    )
    for B in (1, 8):
        rlpyt = rlpyt_bytes(B)
        sb3 = sb3_bytes(B, optimize_memory_usage=False)
        sb3_opt = sb3_bytes(B, optimize_memory_usage=True)
        result[f"B={B}"] = dict(
            rlpyt=rlpyt,
            sb3_replay_buffer=dict(
                bytes=sb3, ratio_to_frames_once=round(sb3 / (N * FRAME_BYTES), 4)
            ),
            sb3_optimize_memory_usage=dict(
                bytes=sb3_opt, ratio_to_frames_once=round(sb3_opt / (N * FRAME_BYTES), 4)
            ),
            sb3_over_rlpyt_uniform=round(sb3 / rlpyt["uniform"]["bytes"], 2),
            meets_target=all(v["ratio_to_frames_once"] <= TARGET_RATIO for v in rlpyt.values()),
        )
    if args.sample_seconds > 0:
        result["sample_batch_32_per_s"] = round(sample_rate(args.sample_seconds), 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
