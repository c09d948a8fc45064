"""The components of each kind of run, one row each (what the original's train scripts built).

``TRAIN[kind]`` is the :class:`~experiments.training.TrainSpec` of the run script
``scripts/<family>/train/<kind>.py``; the config supplies every setting. Atari runs use the
GPU sampler (worker processes step the envs, the training process picks all actions in one
batch, on the run's GPU where there is one) with wait-reset collectors and ``AtariTrajInfo``
(the unclipped game score); MuJoCo runs sample serially in the training process.
"""

from experiments.configs import atari_dqn, atari_pg, atari_r2d1, mujoco_pg, mujoco_qpg
from experiments.training import TrainSpec
from rlpyt.agents.dqn.atari.atari_catdqn_agent import AtariCatDqnAgent
from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
from rlpyt.agents.dqn.atari.atari_r2d1_agent import AtariR2d1Agent
from rlpyt.agents.pg.atari import AtariFfAgent, AtariLstmAgent
from rlpyt.agents.pg.mujoco import MujocoFfAgent
from rlpyt.agents.qpg.ddpg_agent import DdpgAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.agents.qpg.td3_agent import Td3Agent
from rlpyt.algos.dqn.cat_dqn import CategoricalDQN
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.dqn.r2d1 import R2D1
from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.pg.ppo import PPO
from rlpyt.algos.qpg.ddpg import DDPG
from rlpyt.algos.qpg.sac import SAC
from rlpyt.algos.qpg.td3 import TD3
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.envs.gym import gym_make
from rlpyt.samplers.parallel.gpu.collectors import GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler

__all__ = ["TRAIN"]


def _atari(family, AgentCls, AlgoCls) -> TrainSpec:
    return TrainSpec(family.configs, family.tiny, AtariEnv, AgentCls, AlgoCls, GpuSampler,
                     GpuWaitResetCollector, AtariTrajInfo, env_name_key="game")  # fmt: skip


def _mujoco(family, AgentCls, AlgoCls) -> TrainSpec:
    return TrainSpec(family.configs, family.tiny, gym_make, AgentCls, AlgoCls)


TRAIN: dict[str, TrainSpec] = {
    "atari_dqn": _atari(atari_dqn, AtariDqnAgent, DQN),  # dqn, double, prioritized, dueling
    "atari_catdqn": _atari(atari_dqn, AtariCatDqnAgent, CategoricalDQN),  # catdqn, ernbw
    "atari_r2d1": _atari(atari_r2d1, AtariR2d1Agent, R2D1),  # r2d1, r2d1_long
    "atari_ff_a2c": _atari(atari_pg, AtariFfAgent, A2C),
    "atari_ff_ppo": _atari(atari_pg, AtariFfAgent, PPO),
    "atari_lstm_a2c": _atari(atari_pg, AtariLstmAgent, A2C),
    "atari_lstm_ppo": _atari(atari_pg, AtariLstmAgent, PPO),
    "mujoco_ppo": _mujoco(mujoco_pg, MujocoFfAgent, PPO),
    "mujoco_ddpg": _mujoco(mujoco_qpg, DdpgAgent, DDPG),
    "mujoco_td3": _mujoco(mujoco_qpg, Td3Agent, TD3),
    "mujoco_sac": _mujoco(mujoco_qpg, SacAgent, SAC),
}
