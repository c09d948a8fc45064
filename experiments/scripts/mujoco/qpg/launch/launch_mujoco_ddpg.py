"""DDPG as re-tuned by Fujimoto et al. (2018) on MuJoCo.

Published setup: config ``ddpg`` (``experiments/configs/mujoco_qpg.py``), 6 envs x 2 runs of
1M env steps each, trained by ``mujoco/qpg/train/mujoco_ddpg.py``. Full scale, on every core and GPU here::

    python experiments/scripts/mujoco/qpg/launch/launch_mujoco_ddpg.py

A run of seconds (CI), or a subset on chosen hardware::

    python experiments/scripts/mujoco/qpg/launch/launch_mujoco_ddpg.py --tiny
    python experiments/scripts/mujoco/qpg/launch/launch_mujoco_ddpg.py --envs HalfCheetah-v5 --cores 8

Options and environment variables: ``--help`` and :mod:`experiments.launching`.
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import mujoco_qpg
from experiments.launching import Setup, launch

SETUP = Setup(
    title="mujoco_ddpg",
    script="mujoco/qpg/train/mujoco_ddpg.py",
    config_key="ddpg",
    configs=mujoco_qpg.configs,
    env_key=("env", "id"),
    envs=mujoco_qpg.ENVS,
    runs_per_setting=2,
    uses_gpu=False,
    cpu_per_run=1,
    summary="DDPG as re-tuned by Fujimoto et al. (2018) on MuJoCo.",
)

if __name__ == "__main__":
    sys.exit(launch(SETUP))
