"""The guarded gradient step (FAULTS.md E1) in all eight algorithms.

A non-finite loss or gradient norm is injected into a real training iteration of
tiny agents on a probe env (one gradient update per iteration): the step is
skipped -- parameters (target networks included), optimizer state and the update
count stay as they were -- the skip shows in ``OptInfo.skipped`` and
``skipped_steps``, and the third skip in a row raises an error naming the
algorithm, the iteration and the loss terms.
"""

import copy
import math

import pytest
import torch
from probe_envs import ConstantRewardBoxEnv, ConstantRewardEnv

from rlpyt.agents.dqn.mlp import CatDqnMlpAgent, DqnMlpAgent, R2d1MlpAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.agents.qpg.ddpg_agent import DdpgAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.agents.qpg.td3_agent import Td3Agent
from rlpyt.algos.dqn.cat_dqn import CategoricalDQN
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.dqn.r2d1 import R2D1
from rlpyt.algos.optim import GuardedStep
from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.pg.ppo import PPO
from rlpyt.algos.qpg.ddpg import DDPG
from rlpyt.algos.qpg.sac import SAC
from rlpyt.algos.qpg.td3 import TD3
from rlpyt.samplers.serial.sampler import SerialSampler

pytestmark = pytest.mark.timeout(60)
NAN = float("nan")
SMALL = dict(hidden_sizes=[8])
REPLAY = dict(min_steps_learn=16, replay_size=64)  # sampler batches of 4 x 2 = 8 steps

# name -> (algorithm, agent, continuous actions); one gradient update per iteration.
CASES = {
    "A2C": lambda: (A2C(), MlpFfAgent(model_kwargs=SMALL), False),
    "PPO": lambda: (
        PPO(minibatches=1, epochs=1, linear_lr_schedule=False),  # lr fixed: compared below
        MlpFfAgent(model_kwargs=SMALL),
        False,
    ),
    "DQN": lambda: (
        DQN(batch_size=8, replay_ratio=1, target_update_interval=1, **REPLAY),
        DqnMlpAgent(model_kwargs=SMALL),
        False,
    ),
    "CategoricalDQN": lambda: (
        CategoricalDQN(batch_size=8, replay_ratio=1, target_update_interval=1, **REPLAY),
        CatDqnMlpAgent(n_atoms=5, model_kwargs=SMALL),
        False,
    ),
    "R2D1": lambda: (
        R2D1(
            batch_T=2,
            batch_B=2,
            warmup_T=0,
            store_rnn_state_interval=2,
            n_step_return=1,
            replay_ratio=0.5,
            target_update_interval=1,
            **REPLAY,
        ),
        R2d1MlpAgent(model_kwargs=dict(lstm_size=8)),
        False,
    ),
    "DDPG": lambda: (
        DDPG(batch_size=8, replay_ratio=1, **REPLAY),
        DdpgAgent(model_kwargs=SMALL, q_model_kwargs=SMALL),
        True,
    ),
    "TD3": lambda: (
        TD3(batch_size=8, replay_ratio=1, target_update_interval=1, **REPLAY),
        Td3Agent(model_kwargs=SMALL, q_model_kwargs=SMALL),
        True,
    ),
    "SAC": lambda: (
        SAC(batch_size=8, replay_ratio=1, **REPLAY),
        SacAgent(model_kwargs=SMALL, q_model_kwargs=SMALL),
        True,
    ),
}


def set_up(name):
    """The algorithm after a few finite updates (so the optimizer has state), and its sampler."""
    torch.manual_seed(0)
    algo, agent, continuous = CASES[name]()
    sampler = SerialSampler(
        EnvCls=ConstantRewardBoxEnv if continuous else ConstantRewardEnv,
        env_kwargs=dict(horizon=10),
        batch_T=4,
        batch_B=2,
        max_decorrelation_steps=0,
    )
    examples = sampler.initialize(
        agent,
        seed=1,
        bootstrap_value=algo.bootstrap_value,
        final_observation=getattr(algo, "final_observation", False),
    )
    algo.initialize(
        agent,
        n_itr=100,
        batch_spec=sampler.batch_spec,
        mid_batch_reset=sampler.mid_batch_reset,
        examples=examples,
    )
    itr = 0
    while algo.update_counter < 2:
        samples, _ = sampler.obtain_samples(itr)
        algo.optimize_agent(itr, samples)
        itr += 1
    return algo, agent, sampler, itr


def first_parameter(algo):
    """A parameter of the first optimizer an update steps (the critic's, for DDPG/TD3/SAC)."""
    optimizer = algo.optimizers["q"].optimizer if hasattr(algo, "optimizers") else algo.optimizer
    return optimizer.param_groups[0]["params"][0]


def inject_nan_loss(algo):
    """Wrap the algorithm's (first) loss so it comes out NaN."""
    if isinstance(algo, A2C | PPO):
        loss_terms = algo.loss_terms
        algo.loss_terms = lambda *a, **k: (t := loss_terms(*a, **k))._replace(
            value_loss=t.value_loss * NAN
        )
        return "value_loss"
    if isinstance(algo, DQN):
        loss = algo.loss
        algo.loss = lambda *a, **k: (lambda out: (out[0] * NAN, out[1]))(loss(*a, **k))
        return "loss"
    q_loss = algo.q_loss
    algo.q_loss = lambda *a, **k: q_loss(*a, **k) * NAN
    return "qLoss"


def inject_nan_gradient(algo):
    first_parameter(algo).register_hook(lambda grad: grad * NAN)
    return "qGradNorm" if hasattr(algo, "optimizers") else "gradNorm"


def state_of(algo, agent):
    state = dict(agent=agent.state_dict(), optim=algo.optim_state_dict())
    if isinstance(algo, SAC):
        state["log_alpha"] = algo.log_alpha
    return copy.deepcopy(state)


def assert_same(a, b, where="state"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{where} changed"
    else:
        assert a == b, where


@pytest.mark.parametrize("inject", ["loss", "gradient"])
@pytest.mark.parametrize("name", list(CASES))
def test_nonfinite_step_is_skipped_counted_and_stops_training_after_three(name, inject):
    algo, agent, sampler, itr = set_up(name)
    try:
        before = state_of(algo, agent)
        updates = algo.update_counter
        term = (inject_nan_loss if inject == "loss" else inject_nan_gradient)(algo)
        for k in range(2):
            samples, _ = sampler.obtain_samples(itr + k)
            opt_info = algo.optimize_agent(itr + k, samples)
            assert opt_info.skipped == [1.0]
            assert algo.skipped_steps == k + 1 and algo.update_counter == updates
            assert_same(before, state_of(algo, agent))
        samples, _ = sampler.obtain_samples(itr + 2)
        pattern = (
            rf"^{name}: 3 non-finite (q )?gradient steps in a row, the last at itr {itr + 2}: "
            rf"non-finite .*{term}=nan"
        )
        with pytest.raises(FloatingPointError, match=pattern) as error:
            algo.optimize_agent(itr + 2, samples)
        assert_same(before, state_of(algo, agent))
        assert algo.skipped_steps == 3
    finally:
        sampler.shutdown()
    if inject == "gradient":  # the loss terms are named with their (finite) values
        loss_names = {"A2C": "pi_loss", "PPO": "pi_loss", "DDPG": "qLoss", "TD3": "qLoss"}
        assert f"{loss_names.get(name, 'qLoss' if name == 'SAC' else 'loss')}=" in str(error.value)


@pytest.mark.parametrize("name", ["A2C", "DQN", "SAC"])
def test_a_finite_step_resets_the_count_of_skips_in_a_row(name):
    algo, agent, sampler, itr = set_up(name)
    try:
        hook = {"on": True}
        first_parameter(algo).register_hook(lambda g: g * NAN if hook["on"] else g)
        for k in range(2):
            algo.optimize_agent(itr + k, sampler.obtain_samples(itr + k)[0])
        hook["on"] = False
        opt_info = algo.optimize_agent(itr + 2, sampler.obtain_samples(itr + 2)[0])
        assert opt_info.skipped == [0.0]
        hook["on"] = True
        for k in range(3, 5):  # two more skips: four in all, never three in a row
            assert algo.optimize_agent(itr + k, sampler.obtain_samples(itr + k)[0]).skipped == [1.0]
        assert algo.skipped_steps == 4
        # The count of skips in a row is part of the resumable state.
        state = algo.state_dict()
        assert state["skipped_steps"] == 4 and max(state["nonfinite_streaks"].values()) == 2
    finally:
        sampler.shutdown()


def test_sac_policy_steps_that_stay_nonfinite_stop_training_while_the_critic_learns():
    """Skips in a row are counted per step of the update: a NaN policy gradient is not
    forgiven by the critic's finite steps in between."""
    algo, agent, sampler, itr = set_up("SAC")
    try:
        pi_param = algo.optimizers["pi"].params[0]
        pi_before = pi_param.detach().clone()
        pi_param.register_hook(lambda grad: grad * NAN)
        updates = algo.update_counter
        for k in range(2):
            opt_info = algo.optimize_agent(itr + k, sampler.obtain_samples(itr + k)[0])
            assert opt_info.skipped == [1.0] and math.isfinite(opt_info.qGradNorm[0])
        assert algo.update_counter == updates + 2  # the critic steps were applied
        with pytest.raises(FloatingPointError, match=r"SAC: 3 non-finite pi gradient steps"):
            algo.optimize_agent(itr + 2, sampler.obtain_samples(itr + 2)[0])
        assert torch.equal(pi_param.detach(), pi_before)
    finally:
        sampler.shutdown()


def test_a_finite_step_is_the_unguarded_step():
    """zero_grad, backward, clip_grad_norm, step: the same values as doing it by hand."""
    from rlpyt.algos.optim import build_optimizer

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    twin = copy.deepcopy(model)
    opt = build_optimizer(torch.optim.Adam, model.parameters(), 1e-2)
    twin_opt = torch.optim.Adam(twin.parameters(), lr=1e-2)
    guard = GuardedStep("Test")
    x = torch.randn(5, 3)
    for itr in range(3):
        (norm,), applied = guard.step(itr, [(opt, (model(x) ** 2).sum())], 0.5)
        twin_opt.zero_grad()
        (twin(x) ** 2).sum().backward()
        twin_norm = torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5)
        twin_opt.step()
        assert applied and torch.allclose(norm, twin_norm)
        for p, q in zip(model.parameters(), twin.parameters(), strict=True):
            torch.testing.assert_close(p, q)
    assert guard.skipped_steps == 0
    with pytest.raises(ValueError, match="max_consecutive must be >= 1"):
        GuardedStep("Test", max_consecutive=0)
