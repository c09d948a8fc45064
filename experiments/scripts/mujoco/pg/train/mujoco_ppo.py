"""One MuJoCo PPO run (config ``ppo``), sampling serially in the training process.

Started by the launch scripts (see experiments/training.py) as::

    python mujoco_ppo.py SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import mujoco_pg
from experiments.training import TrainSpec, main
from rlpyt.agents.pg.mujoco import MujocoFfAgent
from rlpyt.algos.pg.ppo import PPO
from rlpyt.envs.gym import gym_make

SPEC = TrainSpec(
    configs=mujoco_pg.configs,
    tiny=mujoco_pg.tiny,
    EnvCls=gym_make,
    AgentCls=MujocoFfAgent,
    AlgoCls=PPO,
)

if __name__ == "__main__":
    main(SPEC)
