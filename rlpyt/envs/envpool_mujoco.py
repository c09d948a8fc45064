"""The ``envpool`` env backend for gymnasium's MuJoCo ids (optional extra ``envpool``).

``EnvCls=EnvPoolMujocoEnvs("HalfCheetah-v5")`` with the gymnasium env's keyword arguments as
``env_kwargs``: called like a class it is one ``gym_make(env_id, **env_kwargs)`` env (the
sampler's example env, and the GPU samplers' envs); ``make_batch`` builds a collector's envs
as one :class:`EnvPoolMujocoBatch`, stepped in EnvPool's C++ threads (sync mode).

EnvPool's MuJoCo tasks are gymnasium's: the same XML models, observation layout, rewards,
termination rules and time limit, on the MuJoCo build EnvPool ships. From the same state
and actions the observations and rewards agree with gymnasium's to float rounding (tested:
1e-12 over 20 HalfCheetah steps). The flags and observations are the ``python`` backend's:
``done`` at a termination or the horizon, ``env_info.timeout`` at the horizon only, the
final observation of a cut kept until the collector resets the env (EnvPool would reset it
at its next step; this batch refuses to step an ended env instead). What differs, which is
why ``python`` stays the default for these ids:

* reset noise comes from EnvPool's generator (seeded per env from ``seeds[b]``): runs are
  deterministic and each env depends only on its own seed, but they are not the ``python``
  backend's runs;
* ``env_info`` has the per-env path's fields; those EnvPool reports (under gymnasium's
  name or a known alias, e.g. HalfCheetah's ``reward_run`` for ``reward_forward``) are
  filled, the others are 0 (e.g. Hopper's ``reward_survive``);
* the envs cannot be pickled: a snapshot does not hold them and a resumed run resets them.
"""

import copy

import numpy as np

from rlpyt.envs import envpool as envpool_backend
from rlpyt.envs.base import EnvSpaces
from rlpyt.envs.envpool import EnvPoolBatch
from rlpyt.envs.gym import gym_make
from rlpyt.envs.vector import BatchStep, EnvBatchFactory
from rlpyt.spaces.gym_wrapper import GymSpaceWrapper
from rlpyt.utils.buffer import buffer_from_example

__all__ = ["EnvPoolMujocoEnvs", "EnvPoolMujocoBatch", "check_envpool_mujoco", "is_mujoco_id"]

# gymnasium's info key <- EnvPool's names for the same quantity (used only where EnvPool does
# not report gymnasium's key itself and the alias is not one of gymnasium's keys too).
_INFO_ALIASES = {
    "reward_forward": ("reward_run", "reward_fwd", "reward_linvel"),
    "reward_survive": ("reward_alive",),
    "reward_ctrl": ("reward_quadctrl",),
    "reward_contact": ("reward_impact",),
}


def is_mujoco_id(env_id: str) -> bool:
    """Whether ``env_id`` is one of gymnasium's MuJoCo envs."""
    import gymnasium

    try:
        entry = gymnasium.spec(env_id).entry_point
    except Exception:  # noqa: BLE001 - not a gymnasium id
        return False
    name = entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__qualname__}"
    return name.startswith("gymnasium.envs.mujoco")


def check_envpool_mujoco(env_id: str, env_kwargs: dict) -> dict:
    """EnvPool's keyword arguments for gymnasium MuJoCo ``env_id`` with ``env_kwargs``;
    ValueError when EnvPool is missing, lacks the task, or cannot take a keyword."""
    if not envpool_backend.envpool_available():
        raise ValueError(
            "env.backend='envpool' needs EnvPool: pip install 'rlpyt[envpool]' "
            "(or use env.backend='python')"
        )
    if not is_mujoco_id(env_id):
        raise ValueError(f"{env_id!r} is not a gymnasium MuJoCo id")
    import envpool

    if env_id not in envpool.list_all_envs():
        raise ValueError(f"EnvPool has no task {env_id!r}: use env.backend='python'")
    known = set(envpool.make_spec(env_id).config._fields)
    kwargs = {k: v for k, v in env_kwargs.items() if k not in ("render_mode",)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(
            f"env.backend='envpool' cannot pass {unknown} to EnvPool's {env_id} (it takes "
            f"{sorted(known & _GYM_STYLE_KEYS)} of gymnasium's keywords): use "
            "env.backend='python'"
        )
    return kwargs


# The keywords of EnvPool's MuJoCo configs that are gymnasium's too (for the error above).
_GYM_STYLE_KEYS = {
    "max_episode_steps", "ctrl_cost_weight", "forward_reward_weight", "reset_noise_scale",
    "exclude_current_positions_from_observation", "healthy_reward", "terminate_when_unhealthy",
    "healthy_z_range", "healthy_angle_range", "healthy_state_range", "contact_cost_weight",
    "contact_force_range", "frame_skip", "xml_file", "use_contact_forces",
}  # fmt: skip


def _pool_seed(seed: int | None) -> int:
    """An int32 seed for EnvPool's per-env generator from ``seed`` (``None``: a random one)."""
    (value,) = np.random.SeedSequence(seed).generate_state(1)
    return int(value) & 0x7FFFFFFF


class EnvPoolMujocoEnvs(EnvBatchFactory):
    """A gymnasium MuJoCo id through EnvPool: ``EnvCls=EnvPoolMujocoEnvs("Hopper-v5")``.

    Args:
        env_id: the gymnasium id (EnvPool's task of the same name).
        num_threads: EnvPool threads per batch (``None``: one per env, at most one per CPU
            this process may run on).
    """

    def __init__(self, env_id: str, num_threads: int | None = None):
        self.env_id = env_id
        self.num_threads = num_threads

    def __call__(self, **env_kwargs):
        return gym_make(self.env_id, **env_kwargs)

    def make_batch(self, seeds, **env_kwargs) -> "EnvPoolMujocoBatch":
        return EnvPoolMujocoBatch(self.env_id, seeds, num_threads=self.num_threads, **env_kwargs)

    def __repr__(self) -> str:
        return f"EnvPoolMujocoEnvs({self.env_id!r}, num_threads={self.num_threads!r})"


class EnvPoolMujocoBatch(EnvPoolBatch):
    """``len(seeds)`` copies of MuJoCo task ``env_id`` in one EnvPool (see the module
    docstring; use :class:`EnvPoolMujocoEnvs`).

    Args:
        env_id: gymnasium MuJoCo id; ``env_kwargs`` its keywords (validated by building one
            with ``gym_make``, then passed to EnvPool).
        seeds: one seed (or None) per env.
        num_threads: as :class:`EnvPoolMujocoEnvs`'.
        act_null_value, force_float32: as :class:`~rlpyt.envs.gym.GymEnvWrapper`'s.
    """

    _cloned = "MuJoCo states"

    def __init__(self, env_id, seeds, num_threads=None, act_null_value=0, force_float32=True,
                 **env_kwargs):  # fmt: skip
        probe = gym_make(env_id, act_null_value=act_null_value, force_float32=force_float32,
                         **env_kwargs)  # fmt: skip
        try:
            pool_kwargs = check_envpool_mujoco(env_id, env_kwargs)
        except BaseException:
            probe.close()
            raise
        self.n_envs = n = len(seeds)
        self.name = f"EnvPool({env_id})"
        self._horizon = probe.horizon
        self.action_spaces = []
        for seed in seeds:  # as GymEnvWrapper.seed seeds its action space
            space = GymSpaceWrapper(copy.deepcopy(probe.env.action_space), "action",
                                    force_float32, act_null_value)  # fmt: skip
            space.seed(seed)
            self.action_spaces.append(space)
        obs_space = probe.spaces.observation
        self._spaces = EnvSpaces(observation=obs_space, action=self.action_spaces[0])
        self._env_info = buffer_from_example(probe.env_info_zero, n)
        self._info_fields = type(probe.env_info_zero)._fields[:-1]  # all but timeout
        probe.close()
        if self._horizon is not None:
            pool_kwargs["max_episode_steps"] = self._horizon
        self._make_pool(env_id, [_pool_seed(s) for s in seeds], num_threads, **pool_kwargs)
        self._obs = np.zeros((n, *obs_space.shape), dtype=obs_space.dtype)
        self._reward = np.zeros(n, dtype=np.float64)
        self._done = np.zeros(n, dtype=bool)
        self._ended = np.ones(n, dtype=bool)  # done (or never reset): reset() next
        self._closed = False

    def reset(self, indices) -> np.ndarray:
        ids = np.asarray(indices, dtype=np.int32)
        obs, info = self._pool.reset(ids)
        order = info["env_id"]
        self._obs[order] = obs
        self._ended[order] = False
        return self._obs[ids]

    def step(self, action, active=None) -> BatchStep:
        ids = self._step_ids(active)
        obs, reward, terminated, truncated, info = self._pool.step(
            np.asarray(action, dtype=np.float64)[ids], ids
        )
        order = info["env_id"]
        self._obs[order] = obs
        self._reward[order] = reward
        done = terminated | truncated
        self._ended[order] = done
        self._done[:] = False
        self._done[order] = done
        env_info = self._env_info
        env_info.timeout[order] = truncated & ~terminated
        self._write_info(order, info)
        return BatchStep(self._obs, self._reward, self._done, env_info)

    def _write_info(self, order, info: dict) -> None:
        for field in self._info_fields:
            dest = getattr(self._env_info, field)
            source = field if field in info else None
            if source is None:
                aliases = _INFO_ALIASES.get(field, ())
                source = next((a for a in aliases if a in info and a not in self._info_fields),
                              None)  # fmt: skip
            if source is None or isinstance(dest, tuple):
                dest[order] = 0  # as the per-env path: a key missing from a step is zero
            else:
                dest[order] = info[source]
