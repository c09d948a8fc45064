"""DDPG/TD3/SAC end to end on a probe env: time-limit cuts bootstrap, action bounds hold."""

import numpy as np
import pytest
import torch
from probe_envs import ConstantRewardBoxEnv

from rlpyt.agents.qpg.ddpg_agent import DdpgAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.agents.qpg.td3_agent import Td3Agent
from rlpyt.algos.qpg.ddpg import DDPG
from rlpyt.algos.qpg.sac import SAC
from rlpyt.algos.qpg.td3 import TD3
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

pytestmark = pytest.mark.timeout(180)
GAMMA = 0.9
SMALL = dict(hidden_sizes=[32])


def run(tmp_path, algo, agent, n_steps=3200):
    torch.set_num_threads(1)
    sampler = SerialSampler(
        EnvCls=ConstantRewardBoxEnv,
        env_kwargs=dict(horizon=20),
        batch_T=20,
        batch_B=2,
        max_decorrelation_steps=0,
    )
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        seed=5,
        log_interval_steps=n_steps,
        progress_bar=False,
    )
    actions = []
    original_step = agent.step

    def recording_step(*args):
        step = original_step(*args)
        if step.action.dim() == 2:  # [B, 2] while sampling (not the unbatched example step)
            actions.append(step.action.numpy().copy())
        return step

    agent.step = recording_step
    with logger_context(tmp_path, 0, "probe"):
        runner.train()
    return np.concatenate(actions)


def probe_q(agent, q_fn):
    """Q of every observation of an episode at a few actions, ``[20 * 5]``."""
    t = np.arange(1, 20)
    obs = np.concatenate([np.zeros((1, 2)), np.stack([np.sin(t), np.cos(t)], 1)])
    obs = torch.as_tensor(np.repeat(obs, 5, axis=0), dtype=torch.float32)
    act = torch.linspace(-1, 1, 5).repeat(20).unsqueeze(-1).expand(-1, 2).contiguous()
    n = obs.shape[0]
    with torch.no_grad():
        return q_fn(obs, torch.zeros(n, 2), torch.zeros(n), act)


COMMON = dict(
    discount=GAMMA, min_steps_learn=400, replay_size=4000, n_step_return=2, target_update_tau=0.1
)
CASES = {
    "sac": lambda: (
        # A small fixed temperature: soft Q-values add alpha * entropy / (1 - gamma).
        SAC(batch_size=64, replay_ratio=32, learning_rate=3e-3, fixed_alpha=0.01, **COMMON),
        SacAgent(model_kwargs=SMALL, q_model_kwargs=SMALL),
    ),
    "sac_normalized_observations": lambda: (
        SAC(batch_size=64, replay_ratio=32, learning_rate=3e-3, fixed_alpha=0.01, **COMMON),
        SacAgent(
            model_kwargs=dict(SMALL, normalize_observation=True),
            q_model_kwargs=dict(SMALL, normalize_observation=True),
        ),
    ),
    "td3": lambda: (
        TD3(batch_size=64, replay_ratio=32, mu_learning_rate=1e-3, q_learning_rate=3e-3, **COMMON),
        Td3Agent(model_kwargs=SMALL, q_model_kwargs=SMALL),
    ),
    "ddpg": lambda: (
        DDPG(batch_size=64, replay_ratio=32, learning_rate=1e-3, q_learning_rate=3e-3, **COMMON),
        DdpgAgent(model_kwargs=SMALL, q_model_kwargs=SMALL),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_time_limit_cut_bootstraps_q_to_r_over_one_minus_gamma(tmp_path, name):
    """Reward 1 each step, only time limits end episodes: Q -> 1 / (1 - gamma) = 10.

    Treating the cut as terminal would teach at most (1 - gamma^(20 - t)) / (1 - gamma),
    and 1 at the step before the cut.
    """
    algo, agent = CASES[name]()
    actions = run(tmp_path, algo, agent)
    q = probe_q(agent, agent.q)
    q1 = q[0] if isinstance(q, tuple) else q
    expected = 1 / (1 - GAMMA)
    assert q1.min().item() > 0.8 * expected, q1
    assert q1.max().item() < 1.2 * expected, q1
    # The asymmetric box [0, 1] x [-2, 3] holds for every action sent to the env.
    assert (actions[..., 0] >= 0).all() and (actions[..., 0] <= 1).all()
    assert (actions[..., 1] >= -2).all() and (actions[..., 1] <= 3).all()
    if name != "ddpg":  # exploration before learning (pretrain_std) spans the whole box
        assert actions[..., 0].min() < 0.25 and actions[..., 0].max() > 0.75
        assert actions[..., 1].min() < -0.75 and actions[..., 1].max() > 1.75
