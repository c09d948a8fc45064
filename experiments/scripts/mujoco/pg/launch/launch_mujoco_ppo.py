"""PPO (Schulman et al. 2017) on MuJoCo.

Published setup: config ``ppo`` (``experiments/configs/mujoco_pg.py``), 6 envs x 2 runs of
1M env steps each, trained by ``mujoco/pg/train/mujoco_ppo.py``. Full scale, on every core and GPU here::

    python experiments/scripts/mujoco/pg/launch/launch_mujoco_ppo.py

A run of seconds (CI), or a subset on chosen hardware::

    python experiments/scripts/mujoco/pg/launch/launch_mujoco_ppo.py --tiny
    python experiments/scripts/mujoco/pg/launch/launch_mujoco_ppo.py --envs HalfCheetah-v5 --cores 8

Options and environment variables: ``--help`` and :mod:`experiments.launching`.
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import mujoco_pg
from experiments.launching import Setup, launch

SETUP = Setup(
    title="mujoco_ppo",
    script="mujoco/pg/train/mujoco_ppo.py",
    config_key="ppo",
    configs=mujoco_pg.configs,
    env_key=("env", "id"),
    envs=mujoco_pg.ENVS,
    runs_per_setting=2,
    uses_gpu=False,
    cpu_per_run=1,
    summary="PPO (Schulman et al. 2017) on MuJoCo.",
)

if __name__ == "__main__":
    sys.exit(launch(SETUP))
