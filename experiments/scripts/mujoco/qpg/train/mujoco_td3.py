"""One MuJoCo TD3 run (config ``td3``), sampling serially in the training process.

Started by the launch scripts (see experiments/training.py) as::

    python mujoco_td3.py SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import mujoco_qpg
from experiments.training import TrainSpec, main
from rlpyt.agents.qpg.td3_agent import Td3Agent
from rlpyt.algos.qpg.td3 import TD3
from rlpyt.envs.gym import gym_make

SPEC = TrainSpec(
    configs=mujoco_qpg.configs,
    tiny=mujoco_qpg.tiny,
    EnvCls=gym_make,
    AgentCls=Td3Agent,
    AlgoCls=TD3,
)

if __name__ == "__main__":
    main(SPEC)
