"""Double DQN (van Hasselt et al. 2016) on Atari.

Published setup: config ``double`` (``experiments/configs/atari_dqn.py``), 4 games x 2 runs of
50M env steps each, trained by ``atari/dqn/train/atari_dqn.py``. Full scale, on every core and GPU here::

    python experiments/scripts/atari/dqn/launch/launch_atari_double.py

A run of seconds (CI), or a subset on chosen hardware::

    python experiments/scripts/atari/dqn/launch/launch_atari_double.py --tiny
    python experiments/scripts/atari/dqn/launch/launch_atari_double.py --games pong --cores 8 --gpus 1

Options and environment variables: ``--help`` and :mod:`experiments.launching`.
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import atari_dqn
from experiments.launching import Setup, launch

SETUP = Setup(
    title="atari_double",
    script="atari/dqn/train/atari_dqn.py",
    config_key="double",
    configs=atari_dqn.configs,
    env_key=("env", "game"),
    envs=atari_dqn.GAMES,
    runs_per_setting=2,
    uses_gpu=True,
    cpu_per_run=4,
    summary="Double DQN (van Hasselt et al. 2016) on Atari.",
)

if __name__ == "__main__":
    sys.exit(launch(SETUP))
