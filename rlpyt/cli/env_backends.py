"""``env.backend``: how a sampler steps its envs (:mod:`rlpyt.envs.vector`).

* ``python``: one env object per env, stepped one Python call each (any env);
* ``gym_vector``: gymnasium vector envs, all of a collector's envs in one call; fast where
  the id has a native numpy implementation (CartPole), gymnasium's ``SyncVectorEnv`` loop
  otherwise; gymnasium ids only;
* ``envpool``: EnvPool's C++ env pool (extra ``envpool``) for Atari games
  (:mod:`rlpyt.envs.envpool`: ``AtariEnv``'s observations and flags) and gymnasium's MuJoCo
  ids (:mod:`rlpyt.envs.envpool_mujoco`: the same models and flags), stepped in EnvPool's
  threads; not the default, as its runs are not the ``python`` backend's (start no-ops or
  reset noise drawn by EnvPool's generator, no NOOP frame after a lost life, envs not in
  snapshots).

The serial and cpu samplers step the batch in one call; the other samplers build one env
at a time from the same factory, so any backend runs with any sampler. Samples are
identical to the ``python`` backend's for the same seed (``gym_vector``).
"""

from functools import partial

__all__ = ["ENV_BACKENDS", "default_env_backend", "check_env_backend", "make_env_factory"]

ENV_BACKENDS = ("envpool", "gym_vector", "python")


def default_env_backend(env_id: str, kind: str) -> str:
    """The fastest backend that gives the ``python`` backend's samples for ``env_id``
    (Atari: ``python``; ``envpool`` is faster but its runs differ, see the module docstring)."""
    if kind == "atari":
        return "python"
    import gymnasium

    from rlpyt.envs.vector import has_native_vector_env

    try:
        gymnasium.spec(env_id)
    except Exception:  # noqa: BLE001 - not a gymnasium id (rlpyt's own): the per-env path
        return "python"
    return "gym_vector" if has_native_vector_env(env_id) else "python"


def check_env_backend(env_config: dict, kind: str) -> str:
    """``env.backend`` of a config (``"python"`` when absent), refused with the choices
    when unknown or not usable with the env."""
    backend = env_config.get("backend", "python")
    if backend not in ENV_BACKENDS:
        raise ValueError(f"env.backend must be one of {', '.join(ENV_BACKENDS)}; got {backend!r}")
    if backend == "envpool":
        from rlpyt.envs.envpool_mujoco import check_envpool_mujoco, is_mujoco_id

        kwargs = dict(env_config.get("kwargs") or {})
        if kind == "atari":
            from rlpyt.envs.envpool import check_envpool_atari

            check_envpool_atari(env_config["id"], kwargs)
        elif is_mujoco_id(env_config["id"]):
            check_envpool_mujoco(env_config["id"], kwargs)
        else:
            raise ValueError(
                f"env.backend='envpool' supports Atari games (AtariEnv) and gymnasium's MuJoCo "
                f"ids, not env.id={env_config['id']!r}: use env.backend='python' or 'gym_vector'"
            )
    if backend == "gym_vector" and kind == "atari":
        raise ValueError(
            f"env.backend='gym_vector' needs a gymnasium id, but env.id={env_config['id']!r} "
            "is an Atari game (AtariEnv): use env.backend='python'"
        )
    return backend


def make_env_factory(env_config: dict):
    """``(EnvCls, env_kwargs, TrajInfoCls)`` for the env section of a config (``env.backend``,
    module docstring)."""
    from rlpyt.cli.configs import env_kind  # configs imports this module
    from rlpyt.envs.vector import GymVectorEnvs
    from rlpyt.samplers.collections import TrajInfo

    env_id = env_config["id"]
    kwargs = dict(env_config.get("kwargs") or {})
    kind = env_kind(env_id)
    backend = check_env_backend(env_config, kind)
    if backend == "gym_vector":
        return GymVectorEnvs(env_id), kwargs, TrajInfo
    if backend == "envpool" and kind != "atari":  # a MuJoCo id (checked above)
        from rlpyt.envs.envpool_mujoco import EnvPoolMujocoEnvs

        return EnvPoolMujocoEnvs(env_id), kwargs, TrajInfo
    if kind == "atari":
        from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo

        if backend == "envpool":
            from rlpyt.envs.envpool import EnvPoolEnvs

            return EnvPoolEnvs(), dict(game=env_id, **kwargs), AtariTrajInfo
        return AtariEnv, dict(game=env_id, **kwargs), AtariTrajInfo
    from rlpyt.envs.gym import gym_make

    return partial(gym_make, env_id), kwargs, TrajInfo
