"""Tiny PG agents written against the agent interface, shared by the PG algorithm tests.

Train-mode ``agent(observation, prev_action, prev_reward[, init_rnn_state])`` ->
``(dist_info, value[, next_rnn_state])``: the algorithm tests do not depend on
rlpyt.agents.
"""

import math

import torch

from rlpyt.distributions.categorical import Categorical, DistInfo
from rlpyt.utils.collections import namedarraytuple

AgentInfo = namedarraytuple("AgentInfo", ["dist_info", "value"])
AgentInfoRnn = namedarraytuple("AgentInfoRnn", ["dist_info", "value", "prev_rnn_state"])
RnnState = namedarraytuple("RnnState", ["h"])
EnvInfo = namedarraytuple("EnvInfo", ["timeout"])

OBS_DIM, N_ACTIONS, HIDDEN = 3, 2, 4
LN2 = math.log(2.0)


class LinearAgent:
    """Linear logits and value head; zero weights give a uniform policy and V = 0."""

    recurrent = False
    updates_obs_rms = False

    def __init__(self, seed=0, zero=False):
        torch.manual_seed(seed)
        self.model = torch.nn.Linear(OBS_DIM, N_ACTIONS + 1)
        if zero:
            torch.nn.init.zeros_(self.model.weight)
            torch.nn.init.zeros_(self.model.bias)
        self.distribution = Categorical(dim=N_ACTIONS)
        self.device = torch.device("cpu")

    def __call__(self, observation, prev_action, prev_reward):
        out = self.model(observation)
        return DistInfo(prob=torch.softmax(out[..., :N_ACTIONS], dim=-1)), out[..., N_ACTIONS]

    def parameters(self):
        return self.model.parameters()


class GruAgent:
    """Recurrent fake: records the shapes each training call receives."""

    recurrent = True
    updates_obs_rms = False

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.rnn = torch.nn.GRU(OBS_DIM, HIDDEN)
        self.head = torch.nn.Linear(HIDDEN, N_ACTIONS + 1)
        self.distribution = Categorical(dim=N_ACTIONS)
        self.device = torch.device("cpu")
        self.calls = []

    def __call__(self, observation, prev_action, prev_reward, init_rnn_state):
        self.calls.append((tuple(observation.shape), init_rnn_state.h.detach().clone()))
        h0 = init_rnn_state.h.transpose(0, 1).contiguous()  # [B, N, H] -> [N, B, H]
        out, hn = self.rnn(observation, h0)
        out = self.head(out)
        dist_info = DistInfo(prob=torch.softmax(out[..., :N_ACTIONS], dim=-1))
        return dist_info, out[..., N_ACTIONS], RnnState(h=hn.transpose(0, 1))

    def parameters(self):
        return list(self.rnn.parameters()) + list(self.head.parameters())


def params_of(agent):
    return [p.detach().clone() for p in agent.parameters()]
