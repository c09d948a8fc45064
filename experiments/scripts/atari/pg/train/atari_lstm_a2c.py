"""One Atari A2C run with the LSTM agent (config ``lstm_a2c``).

GPU sampler: worker processes step the envs, the training process picks all actions in one
batch (on the run's GPU, else the CPU); envs that end wait for the batch's end to reset.

Started by the launch scripts (see experiments/training.py) as::

    python atari_lstm_a2c.py SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import atari_pg
from experiments.training import TrainSpec, main
from rlpyt.agents.pg.atari import AtariLstmAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.samplers.parallel.gpu.collectors import GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler

SPEC = TrainSpec(
    configs=atari_pg.configs,
    tiny=atari_pg.tiny,
    EnvCls=AtariEnv,
    AgentCls=AtariLstmAgent,
    AlgoCls=A2C,
    SamplerCls=GpuSampler,
    CollectorCls=GpuWaitResetCollector,
    TrajInfoCls=AtariTrajInfo,
    env_name_key="game",
)

if __name__ == "__main__":
    main(SPEC)
