"""Recurrent DQN agent (R2D1: R2D2's recurrent Q-learning without the distributed actors).

The model maps ``(observation, one-hot prev_action, prev_reward, init_rnn_state)``
to ``(q [..., A], next_rnn_state)``, states :data:`~rlpyt.models.utils.RnnState`
of ``[B, N, H]`` tensors (batch first), ``None`` meaning zeros. Training passes
the sequence replay's ``init_rnn_state`` explicitly; acting carries a state per
env through :class:`~rlpyt.agents.recurrent.RecurrentAgentMixin`.
"""

import torch

from rlpyt.agents.base import AgentStep
from rlpyt.agents.dqn.base import AgentInfoRnn
from rlpyt.agents.dqn.dqn_agent import DqnAgent
from rlpyt.agents.dqn.epsilon_greedy import EpsilonGreedyAgentMixin
from rlpyt.agents.recurrent import RecurrentAgentMixin

__all__ = ["R2d1AgentBase", "R2d1Agent", "AgentInfoRnn"]


class R2d1AgentBase(DqnAgent):
    """Recurrent Q-network agent; needs a state holder (see :class:`R2d1Agent`)."""

    def __call__(self, observation, prev_action, prev_reward, init_rnn_state):
        """Q-values over a ``[T, B]`` sequence from ``init_rnn_state`` ``[B, N, H]``.

        Returns ``(q [T, B, A], next_rnn_state [B, N, H])`` on the model's device.
        """
        return self.model(
            *self._model_inputs(observation, prev_action, prev_reward, init_rnn_state)
        )

    @torch.no_grad()
    def target(self, observation, prev_action, prev_reward, init_rnn_state):
        """Target-network ``(q [T, B, A], next_rnn_state)`` (no gradients), model's device."""
        return self.target_model(
            *self._model_inputs(observation, prev_action, prev_reward, init_rnn_state)
        )

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Epsilon-greedy actions for ``[B]`` inputs; advances the RNN state.

        Returns ``AgentStep(action [B], AgentInfoRnn(q [B, A], prev_rnn_state
        [B, N, H]))`` on the CPU, ``prev_rnn_state`` being the state this step
        started from (zeros after a reset).
        """
        prev_rnn_state = self.prev_rnn_state
        q, rnn_state = self.model(
            *self._model_inputs(observation, prev_action, prev_reward, prev_rnn_state)
        )
        action = self.distribution.sample(q)
        if prev_rnn_state is None:
            prev_rnn_state = self.zeros_like_rnn_state(rnn_state)
        agent_info = AgentInfoRnn(q=q, prev_rnn_state=prev_rnn_state)
        action, agent_info = self._to_cpu((action, agent_info))
        self.advance_rnn_state(rnn_state)  # stays on the model's device
        return AgentStep(action=action, agent_info=agent_info)


class R2d1Agent(RecurrentAgentMixin, R2d1AgentBase):
    """Recurrent DQN agent (state per env, kept per mode)."""

    def sampling_state_dict(self) -> dict:
        """The sampling RNN state and the exploration generator, for snapshots."""
        return {
            **RecurrentAgentMixin.sampling_state_dict(self),
            **EpsilonGreedyAgentMixin.sampling_state_dict(self),
        }

    def load_sampling_state_dict(self, state: dict) -> None:
        RecurrentAgentMixin.load_sampling_state_dict(self, state)
        EpsilonGreedyAgentMixin.load_sampling_state_dict(self, state)
