"""One Atari categorical DQN run (configs ``catdqn`` and ``ernbw``, Rainbow minus noisy nets).

GPU sampler: worker processes step the envs, the training process picks all actions in one
batch (on the run's GPU, else the CPU); envs that end wait for the batch's end to reset.

Started by the launch scripts (see experiments/training.py) as::

    python atari_catdqn.py SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]
"""

# ruff: noqa: E402 (the repository root goes on the path before `experiments` is imported)
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[5]))

from experiments.configs import atari_dqn
from experiments.training import TrainSpec, main
from rlpyt.agents.dqn.atari.atari_catdqn_agent import AtariCatDqnAgent
from rlpyt.algos.dqn.cat_dqn import CategoricalDQN
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.samplers.parallel.gpu.collectors import GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler

SPEC = TrainSpec(
    configs=atari_dqn.configs,
    tiny=atari_dqn.tiny,
    EnvCls=AtariEnv,
    AgentCls=AtariCatDqnAgent,
    AlgoCls=CategoricalDQN,
    SamplerCls=GpuSampler,
    CollectorCls=GpuWaitResetCollector,
    TrajInfoCls=AtariTrajInfo,
    env_name_key="game",
)

if __name__ == "__main__":
    main(SPEC)
