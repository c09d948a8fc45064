"""Semantic probe: an episode cut only by a time limit must not look terminal.

Reward is 1 at every step and only a time limit (20 steps) ends an episode, so
the true value of every state is 1 / (1 - gamma). A learner that treated the
timeout as termination would instead learn V(t) = (1 - gamma^(20 - t)) / (1 - gamma),
about 1 at the last step. The observation carries the step (sin/cos of t), so the
value network could represent that wrong answer if its targets asked for it.
"""

import numpy as np
import pytest
import torch
from probe_envs import ConstantRewardEnv

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

GAMMA = 0.9


@pytest.mark.timeout(300)
def test_value_bootstraps_through_time_limit(tmp_path):
    torch.set_num_threads(1)
    sampler = SerialSampler(
        EnvCls=ConstantRewardEnv,
        env_kwargs=dict(horizon=20),
        batch_T=20,
        batch_B=8,
        max_decorrelation_steps=19,
    )
    algo = A2C(
        discount=GAMMA,
        learning_rate=3e-3,
        gae_lambda=0.95,
        value_loss_coeff=1.0,
        entropy_loss_coeff=0.0,
    )
    agent = MlpFfAgent()
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=40_000,
        seed=3,
        log_interval_steps=10_000,
        progress_bar=False,
    )
    with logger_context(tmp_path, 0, "timeout_probe"):
        runner.train()
    env = ConstantRewardEnv(horizon=20)
    observations = [env.reset()] + [env.step(0).observation for _ in range(19)]
    obs = torch.as_tensor(np.stack(observations))
    zeros = torch.zeros(len(observations))
    values = agent.value(obs, zeros.long(), zeros)
    target = 1 / (1 - GAMMA)
    assert torch.allclose(values, torch.full_like(values, target), rtol=0.1), values
    # Treating the timeout as terminal would give about 1.0 at the last step.
    assert values[-1] > 0.9 * target
