"""A2C with the feed-forward agent on Atari.

Published setup: config ``ff_a2c`` (``experiments/configs/atari_pg.py``), 4 games x 2 runs of
50M env steps each, trained by ``atari/pg/train/atari_ff_a2c.py``. Full scale, on every core and GPU here::

    python experiments/scripts/atari/pg/launch/launch_atari_ff_a2c.py

A run of seconds (CI), or a subset on chosen hardware::

    python experiments/scripts/atari/pg/launch/launch_atari_ff_a2c.py --tiny
    python experiments/scripts/atari/pg/launch/launch_atari_ff_a2c.py --games pong --cores 8 --gpus 1

Options and environment variables: ``--help`` and :mod:`experiments.launching`.
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import atari_pg
from experiments.launching import Setup, launch

SETUP = Setup(
    title="atari_ff_a2c",
    script="atari/pg/train/atari_ff_a2c.py",
    config_key="ff_a2c",
    configs=atari_pg.configs,
    env_key=("env", "game"),
    envs=atari_pg.GAMES,
    runs_per_setting=2,
    uses_gpu=True,
    cpu_per_run=4,
    summary="A2C with the feed-forward agent on Atari.",
)

if __name__ == "__main__":
    sys.exit(launch(SETUP))
