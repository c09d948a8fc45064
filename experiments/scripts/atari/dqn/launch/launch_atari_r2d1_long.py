"""R2D1 long runs (~10B frames) on Atari: the white paper's R2D2 reproduction.

Published setup: config ``r2d1_long`` (``experiments/configs/atari_r2d1.py``), 6 games x 2 runs of
2.5B env steps each, trained by ``atari/dqn/train/atari_r2d1.py``. Full scale, on every core and GPU here::

    python experiments/scripts/atari/dqn/launch/launch_atari_r2d1_long.py

A run of seconds (CI), or a subset on chosen hardware::

    python experiments/scripts/atari/dqn/launch/launch_atari_r2d1_long.py --tiny
    python experiments/scripts/atari/dqn/launch/launch_atari_r2d1_long.py --games pong --cores 8 --gpus 1

Options and environment variables: ``--help`` and :mod:`experiments.launching`.
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import atari_r2d1
from experiments.launching import Setup, launch

SETUP = Setup(
    title="atari_r2d1_long",
    script="atari/dqn/train/atari_r2d1.py",
    config_key="r2d1_long",
    configs=atari_r2d1.configs,
    env_key=("env", "game"),
    envs=atari_r2d1.LONG_GAMES,
    runs_per_setting=2,
    uses_gpu=True,
    cpu_per_run=4,
    summary="R2D1 long runs (~10B frames) on Atari: the white paper's R2D2 reproduction.",
)

if __name__ == "__main__":
    sys.exit(launch(SETUP))
