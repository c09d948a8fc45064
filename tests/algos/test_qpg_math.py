"""Exact math of the DDPG/TD3/SAC losses on hand-built batches with table agents."""

import math

import pytest
import torch

from rlpyt.agents.base import AgentInputs
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.dqn.r2d1 import R2D1
from rlpyt.algos.qpg.ddpg import DDPG
from rlpyt.algos.qpg.sac import SAC
from rlpyt.algos.qpg.td3 import TD3
from rlpyt.replays.collections import SamplesFromReplay


def _batch():
    obs = torch.tensor([[1.0], [2.0]])
    next_obs = torch.tensor([[3.0], [4.0]])
    zeros = torch.zeros(2)
    return SamplesFromReplay(
        agent_inputs=AgentInputs(obs, zeros, zeros),
        action=torch.tensor([[0.5], [-0.5]]),
        return_=torch.tensor([1.0, 2.0]),
        done=torch.tensor([False, True]),
        done_n=torch.tensor([False, True]),
        target_inputs=AgentInputs(next_obs, zeros, zeros),
        bootstrap_discount=torch.tensor([0.9, 0.0]),
    )


class TwinTableAgent:
    """Q1 = obs + a, Q2 = obs + 2a; target Q1' = 10 obs + a, Q2' = 10 obs - a; pi: a = 0.5, log pi = -1."""

    def q(self, observation, prev_action, prev_reward, action):
        o, a = observation[..., 0], action[..., 0]
        return o + a, o + 2 * a

    def target_q(self, observation, prev_action, prev_reward, action):
        o, a = observation[..., 0], action[..., 0]
        return 10 * o + a, 10 * o - a

    def pi(self, observation, prev_action, prev_reward):
        n = observation.shape[0]
        return torch.full((n, 1), 0.5), torch.full((n,), -1.0), None

    def target_q_at_mu(self, observation, prev_action, prev_reward):
        o = observation[..., 0]
        return 10 * o + 0.5, 10 * o - 0.5  # mu'(s') = 0.5 with no smoothing noise

    def q_at_mu(self, observation, prev_action, prev_reward):
        return observation[..., 0] + 0.5


def test_sac_twin_q_target_and_loss_hand_computed():
    algo = SAC(reward_scale=2.0)
    algo.agent = TwinTableAgent()
    alpha = torch.tensor(0.1)
    loss = algo.q_loss(_batch(), alpha)
    # row 0: min(10*3 + 0.5, 10*3 - 0.5) = 29.5; soft value 29.5 - 0.1 * (-1) = 29.6
    #        y = 2 * 1 + 0.9 * 29.6 = 28.64; Q1 = 1.5, Q2 = 2.0
    # row 1: terminal: y = 2 * 2 = 4; Q1 = 1.5, Q2 = 1.0
    y = torch.tensor([28.64, 4.0])
    q1, q2 = torch.tensor([1.5, 1.5]), torch.tensor([2.0, 1.0])
    expected = 0.5 * ((q1 - y) ** 2).mean() + 0.5 * ((q2 - y) ** 2).mean()
    torch.testing.assert_close(loss, expected)


def test_sac_policy_and_entropy_temperature_losses_hand_computed():
    algo = SAC()
    algo.agent = TwinTableAgent()
    algo._target_entropy = -1.0
    algo.log_alpha = torch.tensor(math.log(0.2), requires_grad=True)
    pi_loss, log_pi = algo.pi_loss(_batch(), torch.tensor(0.2))
    # new action 0.5: Q1 = obs + 0.5, Q2 = obs + 1 -> min = obs + 0.5 = [1.5, 2.5]
    torch.testing.assert_close(pi_loss, torch.tensor(0.2 * -1.0 - 2.0))
    alpha_loss = algo.alpha_loss(log_pi)
    # -(log 0.2 * (log pi + target entropy)) = -(log 0.2 * (-1 - 1)) = 2 log 0.2
    torch.testing.assert_close(alpha_loss, torch.tensor(2 * math.log(0.2)))
    alpha_loss.backward()
    # d/d log_alpha = -(log pi + target) = 2 > 0: gradient descent lowers alpha (entropy
    # -log pi = 1 is above the target -1).
    torch.testing.assert_close(algo.log_alpha.grad, torch.tensor(2.0))


def test_td3_takes_the_smaller_target_critic():
    algo = TD3()
    algo.agent = TwinTableAgent()
    loss = algo.q_loss(_batch())
    y = torch.tensor([1 + 0.9 * 29.5, 2.0])
    q1, q2 = torch.tensor([1.5, 1.5]), torch.tensor([2.0, 1.0])
    torch.testing.assert_close(loss, 0.5 * ((q1 - y) ** 2).mean() + 0.5 * ((q2 - y) ** 2).mean())


def test_ddpg_single_critic_target():
    class Single(TwinTableAgent):
        def q(self, observation, prev_action, prev_reward, action):
            return observation[..., 0] + action[..., 0]

        def target_q_at_mu(self, observation, prev_action, prev_reward):
            return 10 * observation[..., 0]

    algo = DDPG()
    algo.agent = Single()
    loss = algo.q_loss(_batch())
    y = torch.tensor([1 + 0.9 * 30.0, 2.0])
    torch.testing.assert_close(loss, 0.5 * ((torch.tensor([1.5, 1.5]) - y) ** 2).mean())
    torch.testing.assert_close(algo.mu_loss(_batch()), -torch.tensor([1.5, 2.5]).mean())


def test_td3_honours_its_mu_learning_rate():
    assert TD3(mu_learning_rate=3e-4, q_learning_rate=1e-3).mu_learning_rate == 3e-4


@pytest.mark.parametrize("Algo", [SAC, TD3, DDPG])
def test_bad_hyperparameters_refused(Algo):
    with pytest.raises(ValueError, match="batch_size 512 exceeds replay_size 256"):
        Algo(batch_size=512, replay_size=256)


@pytest.mark.parametrize("Algo", [SAC, TD3, DDPG, DQN, R2D1])
def test_min_steps_learn_beyond_replay_size_refused_with_the_arithmetic(Algo):
    """FAULTS.md D2: learning could only start once the first steps were overwritten."""
    batch = dict(batch_T=4, batch_B=4) if Algo is R2D1 else dict(batch_size=32)
    with pytest.raises(
        ValueError,
        match=r"min_steps_learn 5000 exceeds replay_size 1000: .*\(5000 - 1000 = 4000 steps",
    ):
        Algo(min_steps_learn=5000, replay_size=1000, **batch)
    Algo(min_steps_learn=1000, replay_size=1000, **batch)  # equal: fine
