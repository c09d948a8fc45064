"""Exact math of the Q-learning losses: value rescaling, the C51 projection, TD targets."""

import pytest
import torch

from rlpyt.agents.base import AgentInputs
from rlpyt.algos.dqn.cat_dqn import CategoricalDQN, project_onto_support
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.utils import inv_value_rescale, value_rescale
from rlpyt.replays.collections import SamplesFromReplay, SamplesFromReplayPri


def test_value_rescale_known_values_and_exact_inverse():
    x = torch.tensor([0.0, 3.0, -3.0, 8.0], dtype=torch.float64)
    expected = torch.tensor([0.0, 1.003, -1.003, 2.008], dtype=torch.float64)
    torch.testing.assert_close(value_rescale(x, 1e-3), expected)
    wide = torch.cat([-torch.logspace(-6, 6, 200), torch.zeros(1), torch.logspace(-6, 6, 200)])
    wide = wide.double()
    for eps in (1e-3, 1e-2, 0.0):
        torch.testing.assert_close(
            inv_value_rescale(value_rescale(wide, eps), eps), wide, rtol=1e-9, atol=1e-9
        )
        torch.testing.assert_close(
            value_rescale(inv_value_rescale(wide, eps), eps), wide, rtol=1e-9, atol=1e-9
        )


def test_c51_projection_hand_computed():
    z = torch.tensor([0.0, 1.0, 2.0])
    p = torch.tensor([[0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [0.2, 0.5, 0.3]])
    return_ = torch.tensor([0.5, 1.3, 5.0, -1.0])
    discount = torch.tensor([0.5, 0.0, 0.9, 1.0])
    out = project_onto_support(p, return_, discount, z)
    expected = torch.tensor(
        [
            # Tz = [0.5, 1.0, 1.5]: 0.5 splits 0.1/0.1 over atoms 0/1, 1.0 lands on atom 1,
            # 1.5 splits 0.15/0.15 over atoms 1/2.
            [0.1, 0.75, 0.15],
            # terminal (discount 0): all mass at 1.3 -> 0.7 on atom 1, 0.3 on atom 2
            [0.0, 0.7, 0.3],
            # everything clipped to V_max
            [0.0, 0.0, 1.0],
            # Tz = [-1, 0, 1] -> clipped [0, 0, 1]
            [0.7, 0.3, 0.0],
        ]
    )
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out.sum(-1), torch.ones(4))


class TableAgent:
    """Q-values are the observation itself (online) and twice it (target)."""

    device = torch.device("cpu")
    n_atoms = 3

    def __init__(self):
        self.w = torch.nn.Parameter(torch.ones(()))

    def __call__(self, observation, prev_action, prev_reward):
        return observation * self.w

    def target(self, observation, prev_action, prev_reward):
        return 2 * observation


def _batch(pri=False):
    obs = torch.tensor([[1.0, 3.0], [2.0, -1.0]])
    next_obs = torch.tensor([[4.0, 0.5], [1.0, 3.0]])
    zeros = torch.zeros(2)
    fields = dict(
        agent_inputs=AgentInputs(obs, zeros.long(), zeros),
        action=torch.tensor([1, 0]),
        return_=torch.tensor([1.0, 0.5]),
        done=torch.tensor([False, True]),
        done_n=torch.tensor([False, True]),
        target_inputs=AgentInputs(next_obs, zeros.long(), zeros),
        bootstrap_discount=torch.tensor([0.9, 0.0]),
    )
    if pri:
        return SamplesFromReplayPri(**fields, is_weights=torch.tensor([1.0, 0.5]))
    return SamplesFromReplay(**fields)


@pytest.mark.parametrize("double", [False, True])
def test_dqn_loss_hand_computed(double):
    algo = DQN(double_dqn=double, delta_clip=1.0)
    algo.agent = TableAgent()
    loss, td = algo.loss(_batch())
    # row 0: q = 3; target: max of 2 * [4, 0.5] = 8 (double: online argmax 0 -> target 8)
    #        y = 1 + 0.9 * 8 = 8.2, delta 5.2 -> Huber 1 * (5.2 - 0.5) = 4.7, td clipped to 1
    # row 1: q = 2; terminal: y = 0.5, delta -1.5 -> Huber 1.0, td clipped to 1
    torch.testing.assert_close(loss, torch.tensor((4.7 + 1.0) / 2))
    torch.testing.assert_close(td, torch.tensor([1.0, 1.0]))
    algo_sq = DQN(double_dqn=double, delta_clip=None)
    algo_sq.agent = TableAgent()
    loss, td = algo_sq.loss(_batch())
    torch.testing.assert_close(loss, torch.tensor((0.5 * 5.2**2 + 0.5 * 1.5**2) / 2))
    torch.testing.assert_close(td, torch.tensor([5.2, 1.5]))


def test_double_dqn_picks_the_online_argmax():
    class Disagree(TableAgent):
        def target(self, observation, prev_action, prev_reward):
            return -observation  # target's own max is at the online argmin

    plain, double = DQN(delta_clip=None), DQN(delta_clip=None, double_dqn=True)
    plain.agent = double.agent = Disagree()
    b = _batch()
    # row 0 next obs [4, 0.5]: plain max of target [-4, -0.5] = -0.5; double: online argmax 0 -> -4
    torch.testing.assert_close(plain.target_values(b), torch.tensor([-0.5, -1.0]))
    torch.testing.assert_close(double.target_values(b), torch.tensor([-4.0, -3.0]))


def test_prioritized_loss_is_weighted():
    algo = DQN(delta_clip=None, prioritized_replay=True)
    algo.agent = TableAgent()
    loss, _ = algo.loss(_batch(pri=True))
    torch.testing.assert_close(loss, torch.tensor((0.5 * 5.2**2 * 1.0 + 0.5 * 1.5**2 * 0.5) / 2))


def test_categorical_dqn_loss_matches_projection():
    class CatAgent(TableAgent):
        def __call__(self, observation, prev_action, prev_reward):
            # [N, A=2, atoms=3]: action 0 -> uniform, action 1 -> [0.2, 0.5, 0.3]
            n = observation.shape[0]
            probs = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [0.2, 0.5, 0.3]])
            return probs.expand(n, 2, 3) * self.w

        def target(self, observation, prev_action, prev_reward):
            return torch.tensor([[0.2, 0.5, 0.3], [0.0, 0.0, 1.0]]).expand(
                observation.shape[0], 2, 3
            )

    algo = CategoricalDQN(V_min=0.0, V_max=2.0)
    algo.agent = CatAgent()
    algo.z = torch.tensor([0.0, 1.0, 2.0])
    b = _batch()
    target = algo.target_distribution(b)
    # greedy next action under the target: action 1 (expectation 2 > 1.1)
    expected = project_onto_support(
        torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
        b.return_,
        b.bootstrap_discount,
        algo.z,
    )
    torch.testing.assert_close(target, expected)
    loss, kl = algo.loss(b)
    p = torch.tensor([[0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3]])  # taken actions 1 and 0
    ce = -(expected * torch.log(p)).sum(-1)
    torch.testing.assert_close(loss, ce.mean())
    ent = (expected * torch.log(expected.clamp(min=1e-6))).sum(-1)
    torch.testing.assert_close(kl, ce + ent)
