"""Environments: the rlpyt ``Env`` interface, gymnasium and Atari (ale-py) envs.

Env models for planners (``clone_state``/``restore_state``, ``PerfectModel``) are in
:mod:`rlpyt.envs.model`; puzzle envs for planning in :mod:`rlpyt.envs.planning`.
"""

from rlpyt.envs.base import Env, EnvInfo, EnvSpaces, EnvStep

__all__ = ["Env", "EnvStep", "EnvInfo", "EnvSpaces"]
