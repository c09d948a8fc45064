"""Frame deduplication: store each Atari frame once, rebuild frame stacks at sampling.

An Atari observation is a stack ``[n_frames, H, W]`` of the last frames, oldest
first; consecutive observations share ``n_frames - 1`` frames. Storing stacks
would keep every frame ``n_frames`` times; :class:`FrameObservations` keeps only
the newest frame of each step, in ``frames[h + t, b]`` with ``h = n_frames - 1``,
and rebuilds the stack of slot ``t`` from rows ``t .. t + h``. The ``h`` extra
leading rows mirror the last ``h`` slots (written whenever those are), so the
stacks of the first slots after a wrap read contiguous rows. Before the first
wrap they hold the older frames of the very first observation appended, so a
buffer that starts mid-episode rebuilds that stack exactly too.

Where a stack starts over. An env zeroes the older frames of its stack on a reset
(and, for :class:`~rlpyt.envs.atari.atari_env.AtariEnv` with episodic lives, on a
lost life as well). Rather than inferring this from ``done`` / ``traj_done``,
whose meaning for the stack depends on the env, the store records for each step
whether its observation's older frames are all zero (``fresh``). Rebuilding
zeroes every frame that precedes a fresh step in the stack. This is exact for any
env whose stack either continues or restarts from zeros: the frames zeroed are
ones the fresh observation itself showed as zero, and so does every later stack
(its older frames are the same ones, or zeros after a restart).
"""

import numpy as np

__all__ = ["FrameObservations", "check_frame_example"]


def check_frame_example(example_observation) -> tuple[int, int, int]:
    """``(n_frames, H, W)`` of a frame-stack observation example, or a ValueError."""
    obs = np.asarray(example_observation)
    if obs.ndim != 3:
        raise ValueError(
            f"frame replay buffers need observations [n_frames, H, W], got shape {obs.shape} "
            "(use the non-frame buffer for other observations)"
        )
    return obs.shape


def _older_frames_zero(observation: np.ndarray) -> np.ndarray:
    """``[n, B]`` bool: all frames but the newest are zero, for stacks ``[n, B, F, H, W]``."""
    n, B = observation.shape[:2]
    older = observation[:, :, :-1].reshape(n, B, -1)  # the last three dims are contiguous
    if older.dtype.itemsize == 1 and older.shape[-1] % 8 == 0 and older.strides[-1] == 1:
        older = older.view(np.uint64)  # 8x fewer elements to reduce (last axis contiguous)
    return ~older.any(axis=-1)


class FrameObservations:
    """Frame-deduplicated observations (see the module docstring).

    Args:
        example_observation: ``[n_frames, H, W]`` (e.g. uint8 ``[4, 84, 84]``).
        T, B: slots per env and envs.
    """

    def __init__(self, *, example_observation, T: int, B: int):
        self.n_frames, self.H, self.W = check_frame_example(example_observation)
        self.dtype = np.asarray(example_observation).dtype
        self.h = self.n_frames - 1
        self.T, self.B = T, B
        self.frames = None
        self._flat_frames = None
        self.fresh = None
        self._stack_offsets = np.arange(self.n_frames)

    @property
    def planned_nbytes(self) -> int:
        frame_bytes = self.H * self.W * self.dtype.itemsize
        return (self.T + self.h) * self.B * frame_bytes + self.T * self.B

    def allocate(self) -> None:
        shape = (self.T + self.h, self.B, self.H, self.W)
        self.frames = np.zeros(shape, dtype=self.dtype)
        self._flat_frames = self.frames.reshape(-1, self.H, self.W)  # row * B + b
        self.fresh = np.zeros((self.T, self.B), dtype=bool)

    def write(self, observation: np.ndarray, chunks, first_append: bool) -> None:
        """Store the newest frame of each ``[n, B, n_frames, H, W]`` observation."""
        h, T = self.h, self.T
        if first_append and h:
            # The older frames of the first observation stand for the slots before it.
            self.frames[:h] = observation[0, :, :h].transpose(1, 0, 2, 3)
        for dst, src in chunks:
            self.frames[dst.start + h : dst.stop + h] = observation[src, :, -1]
            self.fresh[dst] = _older_frames_zero(observation[src])
            mirrored = max(dst.start, T - h)  # slots whose frames also go to the leading rows
            if mirrored < dst.stop:
                self.frames[mirrored - (T - h) : dst.stop - (T - h)] = self.frames[
                    mirrored + h : dst.stop + h
                ]

    def read(self, T_idxs: np.ndarray, B_idxs: np.ndarray) -> np.ndarray:
        """Stacks ``[..., n_frames, H, W]`` of slots ``(T_idxs, B_idxs)`` (matching shapes)."""
        rows = T_idxs[..., None] + self._stack_offsets
        stacks = self._flat_frames[rows * self.B + B_idxs[..., None]]  # one gather
        if self.h:
            # fresh[..., j]: the step j before t (0: t itself) started over, which zeroes
            # frame h - 1 - j and every older one: a cumulative OR, oldest frame first.
            back = (T_idxs[..., None] - self._stack_offsets[: self.h]) % self.T
            fresh = self.fresh[back, B_idxs[..., None]]
            if fresh.any():
                zero = np.logical_or.accumulate(fresh, axis=-1)[..., ::-1]
                stacks[..., : self.h, :, :][zero] = 0
        return stacks

    def state_dict(self) -> dict:
        return dict(frames=self.frames, fresh=self.fresh)

    def load_state_dict(self, state: dict) -> None:
        for name in ("frames", "fresh"):
            # This store's own arrays, by name.
            src, dst = np.asarray(state[name]), getattr(self, name)
            if src.shape != dst.shape:
                raise ValueError(
                    f"replay load_state_dict: {name} has shape {src.shape}, this buffer has "
                    f"{dst.shape}: the saved replay was built with another size, B or frames"
                )
            np.copyto(dst, src)
