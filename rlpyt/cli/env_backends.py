"""``env.backend``: how a sampler steps its envs (:mod:`rlpyt.envs.vector`).

* ``python``: one env object per env, stepped one Python call each (any env);
* ``gym_vector``: gymnasium vector envs, all of a collector's envs in one call; fast where
  the id has a native numpy implementation (CartPole), gymnasium's ``SyncVectorEnv`` loop
  otherwise; gymnasium ids only;
* ``envpool``: EnvPool's C++ env pool: refused in this version (:data:`ENVPOOL_REFUSED`
  says why; README, "Training from the command line").

The serial and cpu samplers step the batch in one call; the other samplers build one env
at a time from the same factory, so any backend runs with any sampler. Samples are
identical to the ``python`` backend's for the same seed (``gym_vector``).
"""

__all__ = ["ENV_BACKENDS", "default_env_backend", "check_env_backend"]

ENV_BACKENDS = ("envpool", "gym_vector", "python")

ENVPOOL_REFUSED = (
    "env.backend='envpool' is not available in this version: EnvPool 1.2.5 imports and runs "
    "Pong offline here, but its Atari and MuJoCo envs differ from rlpyt's AtariEnv and the "
    "gymnasium MuJoCo envs in seeding (one seed per pool, not per env rank) and in how "
    "lost lives and resets are signalled, and that mapping is not built yet; use "
    "env.backend='python'"
)


def default_env_backend(env_id: str, kind: str) -> str:
    """The fastest backend that gives the ``python`` backend's samples for ``env_id``."""
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
        raise ValueError(ENVPOOL_REFUSED)
    if backend == "gym_vector" and kind == "atari":
        raise ValueError(
            f"env.backend='gym_vector' needs a gymnasium id, but env.id={env_config['id']!r} "
            "is an Atari game (AtariEnv): use env.backend='python'"
        )
    return backend
