"""Meta-RL task distributions (PEARL): envs with ``sample_tasks(n, seed)`` and ``set_task(task)``.

:func:`meta_make` builds one by its short name (the CLI's ``--env``), cut at the
paper's horizon (a truncation, ``env_info.timeout``):

========================  ===========================================  =======
name                      env                                          horizon
========================  ===========================================  =======
``point-robot``           :class:`PointRobotEnv`                       20
``sparse-point-robot``    :class:`SparsePointRobotEnv`                 20
``cheetah-vel``           :class:`HalfCheetahVelEnv`                   200
``cheetah-dir``           :class:`HalfCheetahDirEnv`                   200
``ant-dir``               :class:`AntDirEnv`                           200
``ant-goal``              :class:`AntGoalEnv`                          200
``humanoid-dir``          :class:`HumanoidDirEnv`                      200
``hopper-rand-params``    :class:`HopperRandParamsEnv`                 200
``walker-rand-params``    :class:`Walker2dRandParamsEnv`               200
``ml1``                   :class:`~.metaworld.MetaWorldML1Env`         500
========================  ===========================================  =======

(The sparse point robot's horizon in the paper's code is 20 as well.) ``ml1`` is Meta-World's
ML1 (``task_name="push-v3"`` etc. as env kwarg), in the optional extra ``rlpyt[metaworld]``:
without it (or where its MuJoCo pin conflicts with the installed MuJoCo) building it raises
:class:`~rlpyt.envs.meta.metaworld.MetaWorldUnavailable` naming the extra and the conflict.
"""

import importlib

from rlpyt.envs.meta.base import (
    TASK_METHODS,
    MetaEnv,
    TaskSplit,
    make_task_split,
    require_task_env,
    task_key,
    tasks_equal,
)
from rlpyt.envs.meta.point_robot import PointRobotEnv, SparsePointRobotEnv

__all__ = [
    "META_ENVS",
    "OPTIONAL_META_ENVS",
    "meta_make",
    "MetaEnv",
    "TASK_METHODS",
    "TaskSplit",
    "make_task_split",
    "require_task_env",
    "task_key",
    "tasks_equal",
    "PointRobotEnv",
    "SparsePointRobotEnv",
]

META_ENVS = {
    "point-robot": ("rlpyt.envs.meta.point_robot:PointRobotEnv", 20),
    "sparse-point-robot": ("rlpyt.envs.meta.point_robot:SparsePointRobotEnv", 20),
    "cheetah-vel": ("rlpyt.envs.meta.mujoco:HalfCheetahVelEnv", 200),
    "cheetah-dir": ("rlpyt.envs.meta.mujoco:HalfCheetahDirEnv", 200),
    "ant-dir": ("rlpyt.envs.meta.mujoco:AntDirEnv", 200),
    "ant-goal": ("rlpyt.envs.meta.mujoco:AntGoalEnv", 200),
    "humanoid-dir": ("rlpyt.envs.meta.mujoco:HumanoidDirEnv", 200),
    "hopper-rand-params": ("rlpyt.envs.meta.rand_params:HopperRandParamsEnv", 200),
    "walker-rand-params": ("rlpyt.envs.meta.rand_params:Walker2dRandParamsEnv", 200),
    "ml1": ("rlpyt.envs.meta.metaworld:MetaWorldML1Env", 500),
}
"""Short name -> (``module:class`` of the gymnasium task env, horizon)."""

OPTIONAL_META_ENVS = ("ml1",)
"""The names of :data:`META_ENVS` that need an optional extra (``rlpyt[metaworld]``)."""


def meta_make(name: str, horizon: int | None = None, **env_kwargs) -> MetaEnv:
    """The task env ``name`` of :data:`META_ENVS` as a :class:`MetaEnv` (picklable: a
    sampler factory). ``horizon`` overrides the paper's; ``env_kwargs`` go to the env class."""
    if name not in META_ENVS:
        import difflib

        close = difflib.get_close_matches(name, META_ENVS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown meta-RL env {name!r}{hint}; known: {sorted(META_ENVS)}")
    path, default_horizon = META_ENVS[name]
    module, cls = path.split(":")
    EnvCls = getattr(importlib.import_module(module), cls)
    return MetaEnv(EnvCls(**env_kwargs), horizon=default_horizon if horizon is None else horizon)
