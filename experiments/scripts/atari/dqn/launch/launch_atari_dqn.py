"""DQN (Mnih et al. 2015, with Adam) on Atari: the white paper's DQN baseline.

Published setup: config ``dqn`` (``experiments/configs/atari_dqn.py``), 4 games x 2 runs of
50M env steps each, trained by ``atari/dqn/train/atari_dqn.py``. Full scale, on every core and GPU here::

    python experiments/scripts/atari/dqn/launch/launch_atari_dqn.py

A run of seconds (CI), or a subset on chosen hardware::

    python experiments/scripts/atari/dqn/launch/launch_atari_dqn.py --tiny
    python experiments/scripts/atari/dqn/launch/launch_atari_dqn.py --games pong --cores 8 --gpus 1

Options and environment variables: ``--help`` and :mod:`experiments.launching`.
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import atari_dqn
from experiments.launching import Setup, launch

SETUP = Setup(
    title="atari_dqn",
    script="atari/dqn/train/atari_dqn.py",
    config_key="dqn",
    configs=atari_dqn.configs,
    env_key=("env", "game"),
    envs=atari_dqn.GAMES,
    runs_per_setting=2,
    uses_gpu=True,
    cpu_per_run=4,
    summary="DQN (Mnih et al. 2015, with Adam) on Atari: the white paper's DQN baseline.",
)

if __name__ == "__main__":
    sys.exit(launch(SETUP))
