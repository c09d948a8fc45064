"""Every experiment config of the original rlpyt 0.1.2 builds its components here.

Each config (restated in ``original_configs.py``) goes to the constructors the way the
original's train scripts passed it::

    sampler = SamplerCls(EnvCls=..., env_kwargs=config["env"], **config["sampler"], ...)
    algo = AlgoCls(optim_kwargs=config["optim"], **config["algo"])
    agent = AgentCls(model_kwargs=config["model"], **config["agent"])
    runner = RunnerCls(algo=algo, agent=agent, sampler=sampler, affinity=..., **config["runner"])

and the agent's networks are built for the env's spaces (so ``model_kwargs`` are checked too).
Nothing is trained and no process starts. A config that cannot build must fail with a message
naming the keyword and why it is gone (docs/porting.md lists them).
"""

import functools

import pytest
from original_configs import FAMILIES, all_configs

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
from rlpyt.runners.async_rl import AsyncRlEval
from rlpyt.runners.minibatch_rl import MinibatchRl, MinibatchRlEval
from rlpyt.samplers.async_.cpu_sampler import AsyncCpuSampler
from rlpyt.samplers.async_.gpu_sampler import AsyncGpuSampler
from rlpyt.samplers.collections import TrajInfo
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.gpu.collectors import GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler

ATARI = dict(EnvCls=AtariEnv, TrajInfoCls=AtariTrajInfo)
GYM = dict(EnvCls=gym_make, TrajInfoCls=TrajInfo)


def components(family: str, name: str) -> dict:
    """The classes the original's train script for this config used."""
    if family == "atari/dqn/atari_dqn.py":
        algo, agent = (
            (CategoricalDQN, AtariCatDqnAgent) if name == "catdqn" else (DQN, AtariDqnAgent)
        )
        sampler = dict(SamplerCls=GpuSampler, CollectorCls=GpuWaitResetCollector, **ATARI)
        return dict(AlgoCls=algo, AgentCls=agent, **sampler)
    if family == "atari/dqn/atari_r2d1.py":
        if name.startswith("async"):
            sampler = dict(SamplerCls=AsyncGpuSampler, RunnerCls=AsyncRlEval)
        else:
            sampler = dict(SamplerCls=GpuSampler, CollectorCls=GpuWaitResetCollector)
        return dict(AlgoCls=R2D1, AgentCls=AtariR2d1Agent, **sampler, **ATARI)
    if family.startswith("atari/pg/"):
        algo = PPO if "ppo" in family else A2C
        agent = AtariLstmAgent if "lstm" in family else AtariFfAgent
        return dict(AlgoCls=algo, AgentCls=agent, SamplerCls=GpuSampler, **ATARI)
    if family.startswith("mujoco/pg/"):
        algo = PPO if "ppo" in family else A2C
        return dict(AlgoCls=algo, AgentCls=MujocoFfAgent, SamplerCls=CpuSampler, **GYM)
    algo, agent = {
        "mujoco/qpg/mujoco_ddpg.py": (DDPG, DdpgAgent),
        "mujoco/qpg/mujoco_td3.py": (TD3, Td3Agent),
        "mujoco/qpg/mujoco_sac.py": (SAC, SacAgent),
        "mujoco/qpg/mujoco_sac_v.py": (SAC, SacAgent),
    }[family]
    sampler = dict(SamplerCls=SerialSampler)
    if name == "async_cpu":
        sampler = dict(SamplerCls=AsyncCpuSampler, RunnerCls=AsyncRlEval)
    elif name == "async_gpu":
        sampler = dict(SamplerCls=AsyncGpuSampler, RunnerCls=AsyncRlEval)
    return dict(AlgoCls=algo, AgentCls=agent, **sampler, **GYM)


@functools.cache
def spaces_of(EnvCls, env_items):
    env = EnvCls(**dict(env_items))
    spaces = env.spaces
    env.close()
    return spaces


def build(family: str, name: str, config: dict):
    c = components(family, name)
    sampler_kwargs = dict(config["sampler"])
    if "CollectorCls" in c:
        sampler_kwargs["CollectorCls"] = c["CollectorCls"]
    sampler = c["SamplerCls"](
        EnvCls=c["EnvCls"],
        env_kwargs=config["env"],
        eval_env_kwargs=config.get("eval_env", config["env"]),
        TrajInfoCls=c["TrajInfoCls"],
        **sampler_kwargs,
    )
    algo = c["AlgoCls"](optim_kwargs=config["optim"], **config["algo"])
    if "model" in config and c["AgentCls"] not in (DdpgAgent, Td3Agent, SacAgent):
        agent = c["AgentCls"](model_kwargs=config["model"], **config["agent"])
    else:  # the original's QPG train scripts passed only config["agent"]
        agent = c["AgentCls"](**config["agent"])
    RunnerCls = c.get("RunnerCls")
    if RunnerCls is None:
        RunnerCls = MinibatchRlEval if config["sampler"].get("eval_n_envs") else MinibatchRl
    affinity = dict(cuda_idx=None, workers_cpus=[0]) if RunnerCls is AsyncRlEval else None
    runner = RunnerCls(
        algo=algo, agent=agent, sampler=sampler, affinity=affinity, **config["runner"]
    )
    agent.initialize(spaces_of(c["EnvCls"], tuple(sorted(config["env"].items()))))
    return runner


# The configs that cannot build here, with the message that says which keyword and why.
REFUSED = {
    ("mujoco/qpg/mujoco_sac_v.py", name): r"policy_output_regularization=0\.001.*first SAC version"
    for name in FAMILIES["mujoco/qpg/mujoco_sac_v.py"]
}


@pytest.mark.parametrize(
    "family, name, config", all_configs(), ids=[f"{f}:{n}" for f, n, _ in all_configs()]
)
def test_original_config_builds_or_says_why(family, name, config):
    refusal = REFUSED.get((family, name))
    if refusal is None:
        runner = build(family, name, config)
        assert runner.n_steps == int(config["runner"]["n_steps"])
    else:
        with pytest.raises(ValueError, match=refusal):
            build(family, name, config)


def test_counts_arrive_as_ints():
    config = FAMILIES["atari/dqn/atari_dqn.py"]["debug"]
    runner = build("atari/dqn/atari_dqn.py", "debug", config)
    assert (runner.algo.replay_size, runner.algo.eps_steps) == (10_000, 20_000)
    assert type(runner.algo.replay_size) is int and type(runner.algo.eps_steps) is int
    assert runner.sampler.eval_max_steps == 8000 and type(runner.sampler.eval_max_steps) is int


def test_all_original_configs_are_here():
    # 12 files, 47 named configs (the 0.1.2 revision of each file).
    assert len(FAMILIES) == 12 and len(all_configs()) == 47
