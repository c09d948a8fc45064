"""Environments: the rlpyt ``Env`` interface, gymnasium and Atari (ale-py) envs."""

from rlpyt.envs.base import Env, EnvInfo, EnvSpaces, EnvStep

__all__ = ["Env", "EnvStep", "EnvInfo", "EnvSpaces"]
