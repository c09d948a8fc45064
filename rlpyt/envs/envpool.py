"""The ``envpool`` env backend: Atari games stepped by EnvPool's C++ pool (optional extra
``envpool``, ``pip install 'rlpyt[envpool]'``).

``EnvCls=EnvPoolEnvs()`` with :class:`~rlpyt.envs.atari.atari_env.AtariEnv`'s keyword
arguments as ``env_kwargs``: called like a class it is one ``AtariEnv`` (the sampler's example
env, and the GPU samplers' envs); ``make_batch`` builds a collector's envs as one
:class:`EnvPoolAtariBatch`, whose ``step`` advances them all in EnvPool's threads (sync mode).

EnvPool is configured to produce ``AtariEnv``'s observations: the same emulator (ALE), frame
skip, grey max-pool of the last two frames, ``cv2.INTER_AREA`` resize, frame stack, reward
clipping and horizon, and ``1 + U[0, max_start_noops]`` NOOP frames after a game reset. With
no start no-ops and no sticky actions the frames, rewards and flags are those of ``AtariEnv``
exactly, step for step, up to the first lost life (tests/samplers/test_envpool_backend.py).
The flags are ``AtariEnv``'s: ``done`` at game over, at the horizon (``timeout``) and, with
``episodic_lives``, at a lost life; ``env_info.traj_done`` only at game over or the horizon;
``env_info.game_score`` the unclipped score. The differences, which is why ``AtariEnv``
(``env.backend=python``) stays the default for Atari:

* lost lives are this module's: EnvPool's own ``episodic_life`` would take a random number
  of NOOPs after each lost life, ``AtariEnv`` takes one. Here EnvPool runs without it and the
  batch detects a lost life from ``lives``, sets ``done`` and clears the older frames of the
  stack as ``AtariEnv`` does, but the game continues without ``AtariEnv``'s one NOOP frame:
  after a lost life the emulator runs one frame earlier than ``AtariEnv``'s would.
  (``fire_on_reset=True`` is refused: EnvPool could press FIRE after a game reset but not
  after a lost life.)
* seeds: env ``b``'s emulator gets the ALE seed that ``AtariEnv.seed(seeds[b])`` gives its
  emulator (sticky actions draw the same), and EnvPool's own generator, seeded from it,
  draws the start no-ops: a different draw from ``AtariEnv``'s, so seeded runs are
  deterministic and each env depends only on its own seed (not on the batch or worker
  layout), but they are not the ``python`` backend's runs.
* at game over EnvPool stops repeating the action within the frame skip; the last
  observation of a game can differ from ``AtariEnv``'s (it is never acted on).
* the envs cannot be pickled (EnvPool has no state cloning): a snapshot does not hold them
  and a resumed run resets them (the samplers warn).
"""

import copy
import importlib.util
import os

import numpy as np

from rlpyt.envs.atari.atari_env import AtariEnv, EnvInfo
from rlpyt.envs.base import EnvSpaces
from rlpyt.envs.vector import BatchStep, EnvBatch, EnvBatchFactory
from rlpyt.utils.buffer import buffer_from_example

__all__ = [
    "EnvPoolEnvs",
    "EnvPoolAtariBatch",
    "EnvPoolBatch",
    "envpool_available",
    "envpool_task_id",
    "check_envpool_atari",
]


def envpool_available() -> bool:
    """Whether EnvPool is installed (the ``envpool`` extra)."""
    return importlib.util.find_spec("envpool") is not None


def envpool_task_id(game: str) -> str:
    """EnvPool's id of an ale-py ROM id: ``"space_invaders"`` -> ``"SpaceInvaders-v5"``."""
    return "".join(part.capitalize() for part in game.split("_")) + "-v5"


def check_envpool_atari(game: str, env_kwargs: dict) -> str:
    """EnvPool's task id for ``game`` with ``AtariEnv`` kwargs ``env_kwargs``; ValueError when
    EnvPool is missing, lacks the game, or cannot give those settings."""
    if env_kwargs.get("fire_on_reset"):
        raise ValueError(
            "env.backend='envpool' does not support fire_on_reset=True (EnvPool presses "
            "FIRE after a game reset but not after a lost life): use env.backend='python'"
        )
    if not envpool_available():
        raise ValueError(
            "env.backend='envpool' needs EnvPool: pip install 'rlpyt[envpool]' "
            "(or use env.backend='python')"
        )
    import envpool

    task_id = envpool_task_id(game)
    if task_id not in envpool.list_all_envs():
        raise ValueError(
            f"EnvPool has no Atari game {game!r} (no task {task_id!r}): use env.backend='python'"
        )
    return task_id


class EnvPoolEnvs(EnvBatchFactory):
    """Atari through EnvPool: ``EnvCls=EnvPoolEnvs()``, ``env_kwargs`` as ``AtariEnv``'s.

    Args:
        num_threads: EnvPool threads per batch (``None``: one per env, at most one per CPU
            this process may run on; a CpuSampler worker's threads share its core).
    """

    def __init__(self, num_threads: int | None = None):
        self.num_threads = num_threads

    def __call__(self, **env_kwargs) -> AtariEnv:
        return AtariEnv(**env_kwargs)

    def make_batch(self, seeds, **env_kwargs) -> "EnvPoolAtariBatch":
        return EnvPoolAtariBatch(seeds, num_threads=self.num_threads, **env_kwargs)

    def __repr__(self) -> str:
        return f"EnvPoolEnvs(num_threads={self.num_threads!r})"


def _ale_seed(seed: int | None) -> int:
    """The emulator seed ``AtariEnv.seed(seed)`` uses (an int32); ``None``: a random one."""
    ale_seed, _ = np.random.SeedSequence(seed).generate_state(2)
    return int(ale_seed) & 0x7FFFFFFF


class EnvPoolBatch(EnvBatch):
    """What the EnvPool batches share: the pool (``self._pool``, sync mode), the guard that
    no ended env is stepped (EnvPool would reset it at its next step, behind the collector's
    back), and that the envs cannot be pickled. Subclasses set ``self._horizon``, ``self._ended`` (``[B]`` bool,
    true from a trajectory's end until its env is reset) and ``_cloned`` (what EnvPool cannot
    clone, for the pickling error)."""

    _cloned = "env states"

    def _make_pool(self, task_id: str, pool_seeds, num_threads, **kwargs) -> None:
        """``self._pool``: EnvPool's ``task_id`` with one env per seed of ``pool_seeds``, in sync
        mode (``step`` returns when every env sent has stepped); ``num_threads`` None: one per
        env, at most one per CPU this process may run on."""
        import envpool

        n = len(pool_seeds)
        if num_threads is None:
            num_threads = min(n, len(os.sched_getaffinity(0)))
        self._pool = envpool.make(task_id, env_type="gymnasium", num_envs=n, batch_size=n,
                                  num_threads=num_threads, seed=list(pool_seeds), **kwargs)  # fmt: skip
        self._all = np.arange(n, dtype=np.int32)

    @property
    def horizon(self):
        return self._horizon

    def _step_ids(self, active) -> np.ndarray:
        """The ids of the envs to step (``active``: a ``[B]`` mask or None for all); refuses
        an ended env."""
        ids = self._all if active is None or active.all() else np.flatnonzero(active)
        if self._ended[ids].any():
            b = int(ids[np.argmax(self._ended[ids])])
            raise RuntimeError(
                f"{self.name}: env {b} stepped after its trajectory ended: reset() it first "
                "(EnvPool would reset it behind the collector's back)"
            )
        return ids

    def __getstate__(self):
        raise TypeError(
            f"{self.name}: EnvPool's envs cannot be pickled (EnvPool does not clone "
            f"{self._cloned}); a resumed run resets them"
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.close()


class EnvPoolAtariBatch(EnvPoolBatch):
    """``len(seeds)`` Atari games in one EnvPool (use :class:`EnvPoolEnvs`).

    Args:
        seeds: one seed (or None) per env.
        num_threads: as :class:`EnvPoolEnvs`'.
        env_kwargs: ``AtariEnv``'s (validated by building one; ``seed`` is ignored: ``seeds``
            seed the batch).
    """

    _cloned = "emulator states"

    def __init__(self, seeds, num_threads: int | None = None, **env_kwargs):
        env_kwargs.pop("seed", None)
        probe = AtariEnv(**env_kwargs)  # AtariEnv's checks and messages, and its spaces
        task_id = check_envpool_atari(probe.game, env_kwargs)
        n_frames, height, width = probe.observation_space.shape
        self._horizon = probe.horizon
        self.n_envs = n = len(seeds)
        self.name = f"EnvPool({task_id})"
        obs_space = probe.observation_space
        self.action_spaces = []
        for seed in seeds:  # as AtariEnv.seed seeds its spaces
            space = copy.deepcopy(probe.action_space)
            space.seed(seed)
            self.action_spaces.append(space)
        self._spaces = EnvSpaces(observation=obs_space, action=self.action_spaces[0])
        self._n_frames = n_frames
        self._episodic_lives = bool(env_kwargs.get("episodic_lives", True))
        max_start_noops = int(env_kwargs.get("max_start_noops", 30))
        probe.close()
        self._make_pool(
            task_id,
            [_ale_seed(s) for s in seeds],
            num_threads,
            stack_num=n_frames,
            frame_skip=int(env_kwargs.get("frame_skip", 4)),
            noop_max=max_start_noops + 1,  # EnvPool draws 1..noop_max NOOPs: AtariEnv's count
            episodic_life=False,  # lost lives are ours (see the module docstring)
            reward_clip=bool(env_kwargs.get("clip_reward", True)),
            use_fire_reset=False,
            repeat_action_probability=float(env_kwargs.get("repeat_action_probability", 0.0)),
            max_episode_steps=self._horizon,
            img_height=height,
            img_width=width,
            gray_scale=True,
            use_inter_area_resize=True,
            full_action_space=False,
        )
        self._obs = np.zeros((n, *obs_space.shape), dtype=np.uint8)
        self._reward = np.zeros(n, dtype=np.float32)
        self._done = np.zeros(n, dtype=bool)
        self._env_info = buffer_from_example(EnvInfo(np.float32(0), False, False), n)
        self._lives = np.zeros(n, dtype=np.int64)
        # Frames since the last reset or lost life: older frames of the stack are zeros.
        self._age = np.zeros(n, dtype=np.int64)
        self._ended = np.ones(n, dtype=bool)  # traj_done (or never reset): reset() next
        self._closed = False

    def reset(self, indices) -> np.ndarray:
        ids = np.asarray(indices, dtype=np.int32)
        obs, info = self._pool.reset(ids)
        order = info["env_id"]
        self._obs[order] = obs
        self._lives[order] = info["lives"]
        self._age[order] = 0
        self._ended[order] = False
        self._clear_older_frames(order)
        return self._obs[ids]

    def step(self, action, active=None) -> BatchStep:
        ids = self._step_ids(active)
        obs, reward, _, truncated, info = self._pool.step(
            np.asarray(action)[ids].astype(np.int32), ids
        )
        order = info["env_id"]
        self._obs[order] = obs
        self._reward[order] = reward
        game_over = info["terminated"].astype(bool)
        timeout = truncated & ~game_over
        traj_done = game_over | timeout
        lives = info["lives"]
        lost_life = (lives < self._lives[order]) & (lives > 0)
        self._lives[order] = lives
        self._age[order] += 1
        done = traj_done
        if self._episodic_lives and lost_life.any():
            done = traj_done | lost_life
            self._age[order[lost_life]] = 0  # a new episode for the agent: no older frames
        self._clear_older_frames(order)
        self._ended[order] = traj_done
        self._done[:] = False
        self._done[order] = done
        env_info = self._env_info
        env_info.game_score[order] = info["reward"]
        env_info.traj_done[order] = traj_done
        env_info.timeout[order] = timeout
        return BatchStep(self._obs, self._reward, self._done, env_info)

    def _clear_older_frames(self, ids) -> None:
        """Zero the frames of ``ids``' stacks older than their last reset or lost life, as
        ``AtariEnv`` starts its stack from zeros (EnvPool repeats the first frame)."""
        for b in ids[self._age[ids] < self._n_frames - 1]:
            self._obs[b, : self._n_frames - 1 - self._age[b]] = 0
