"""One Atari R2D1 run (configs ``r2d1`` and ``r2d1_long``).

GPU sampler: worker processes step the envs, the training process picks all actions (and
carries the LSTM states) in one batch; envs that end wait for the batch's end to reset.

Started by the launch scripts (see experiments/training.py) as::

    python atari_r2d1.py SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import atari_r2d1
from experiments.training import TrainSpec, main
from rlpyt.agents.dqn.atari.atari_r2d1_agent import AtariR2d1Agent
from rlpyt.algos.dqn.r2d1 import R2D1
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.samplers.parallel.gpu.collectors import GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler

SPEC = TrainSpec(
    configs=atari_r2d1.configs,
    tiny=atari_r2d1.tiny,
    EnvCls=AtariEnv,
    AgentCls=AtariR2d1Agent,
    AlgoCls=R2D1,
    SamplerCls=GpuSampler,
    CollectorCls=GpuWaitResetCollector,
    TrajInfoCls=AtariTrajInfo,
    env_name_key="game",
)

if __name__ == "__main__":
    main(SPEC)
