"""Helpers of every multi-worker sampler (parallel, async, Ray): the example env and the env split."""

import warnings

import numpy as np

from rlpyt.samplers.parallel.errors import WorkerError

__all__ = ["make_example_env", "split_envs"]


def make_example_env(EnvCls, env_kwargs):
    """``EnvCls(**env_kwargs)``; a constructor error becomes a :class:`WorkerError` naming the env."""
    # EnvCls is the user's: a class, a function or e.g. a partial (no __name__).
    name = getattr(EnvCls, "__name__", repr(EnvCls))
    try:
        env = EnvCls(**env_kwargs)
    except Exception as err:
        raise WorkerError(
            f"env {name}(**{env_kwargs!r}) raised in its constructor: {type(err).__name__}: {err}"
        ) from err
    return env


def split_envs(n, n_groups, name):
    """Contiguous index groups, as even as possible (uneven splits warned)."""
    groups = [g.tolist() for g in np.array_split(np.arange(n), n_groups) if g.size]
    if n >= n_groups and len({len(g) for g in groups}) > 1:
        warnings.warn(
            f"{name}={n} does not split evenly over {n_groups} workers "
            f"({[len(g) for g in groups]} envs): the busiest worker sets the pace",
            stacklevel=3,
        )
    return groups
