"""Policy-gradient agents with a categorical policy (discrete actions).

The model maps ``(observation, one-hot prev_action, prev_reward)`` to
``(pi, value)`` (feed-forward) or ``(pi, value, next_rnn_state)`` (recurrent),
where ``pi`` ``[..., A]`` are action probabilities.

Devices: inputs may live anywhere; they are moved to ``agent.device`` for the
model, and everything returned is on the CPU (where the samples live), except
the recurrent ``next_rnn_state`` of ``__call__``, which stays on the device.

In eval mode actions are still *sampled* from the policy (as in the original
rlpyt): a stochastic policy is what was trained. Subclass and override
``step`` for greedy evaluation.
"""

import torch

from rlpyt.agents.base import AgentStep, BaseAgent
from rlpyt.agents.pg.base import AgentInfo, AgentInfoRnn
from rlpyt.agents.recurrent import RecurrentAgentMixin
from rlpyt.distributions.categorical import Categorical, DistInfo
from rlpyt.utils.buffer import buffer_to

__all__ = [
    "CategoricalPgAgent",
    "RecurrentCategoricalPgAgentBase",
    "RecurrentCategoricalPgAgent",
]


class _CategoricalPgMixin:
    """Shared set-up: the categorical distribution and observation-normalisation updates."""

    updates_obs_rms = True

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None):
        super().initialize(
            env_spaces, share_memory=share_memory, global_B=global_B, env_ranks=env_ranks
        )
        self.distribution = Categorical(dim=env_spaces.action.n)

    def _model_inputs(self, observation, prev_action, prev_reward, *rest):
        """Inputs on the model's device, prev_action as one-hot ``[..., A]``."""
        if self.device.type != "cpu":  # CPU tensors are already there: skip the tree walk
            observation, prev_action, prev_reward, *rest = buffer_to(
                (observation, prev_action, prev_reward, *rest), device=self.device
            )
        return (observation, self.distribution.to_onehot(prev_action), prev_reward, *rest)

    def _to_cpu(self, outputs):
        """``outputs`` on the CPU, next to the samples (a no-op for a CPU model)."""
        return outputs if self.device.type == "cpu" else buffer_to(outputs, device="cpu")

    def update_obs_rms(self, observation):
        """Update the model's observation normalisation (no-op if it has none).

        Called by the algorithm on each training batch, never while sampling.
        """
        # The model is the user's ModelCls: observation normalisation is optional there.
        update = getattr(self.model, "update_obs_rms", None)
        if update is not None:
            update(buffer_to(observation, device=self.device))


class CategoricalPgAgent(_CategoricalPgMixin, BaseAgent):
    """Feed-forward categorical policy-gradient agent (model returns ``(pi, value)``)."""

    def __call__(self, observation, prev_action, prev_reward):
        """Training forward pass on ``[T, B]`` inputs: ``(DistInfo(prob [T, B, A]), value [T, B])``."""
        pi, value = self.model(*self._model_inputs(observation, prev_action, prev_reward))
        return self._to_cpu((DistInfo(prob=pi), value))

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Sample actions for ``[B]`` inputs: ``AgentStep(action [B], AgentInfo(dist_info, value [B]))``.

        A model with an ``acting_forward(observation)`` (e.g. the CartPole MLP's numpy
        path) computes ``(pi, value)`` through it where it applies (it returns None
        where not); such a model ignores ``prev_action`` and ``prev_reward``.
        """
        acting = getattr(self.model, "acting_forward", None)
        out = acting(observation) if acting is not None and self.device.type == "cpu" else None
        if out is None:
            out = self.model(*self._model_inputs(observation, prev_action, prev_reward))
        pi, value = out
        dist_info = DistInfo(prob=pi)
        action = self.distribution.sample(dist_info)
        agent_info = AgentInfo(dist_info=dist_info, value=value)
        action, agent_info = self._to_cpu((action, agent_info))
        return AgentStep(action=action, agent_info=agent_info)

    @torch.no_grad()
    def value(self, observation, prev_action, prev_reward):
        """Value estimate ``[B]`` (on the CPU), e.g. to bootstrap returns after a batch."""
        _pi, value = self.model(*self._model_inputs(observation, prev_action, prev_reward))
        return value.to("cpu")


class RecurrentCategoricalPgAgentBase(_CategoricalPgMixin, BaseAgent):
    """Recurrent categorical agent; needs a state holder (see :class:`RecurrentCategoricalPgAgent`).

    The model returns ``(pi, value, next_rnn_state)``; states are ``[B, N, H]``.
    """

    def __call__(self, observation, prev_action, prev_reward, init_rnn_state):
        """Training forward pass on ``[T, B]`` inputs from ``init_rnn_state`` ``[B, N, H]``.

        Returns ``(DistInfo(prob [T, B, A]), value [T, B], next_rnn_state)``.
        """
        pi, value, next_rnn_state = self.model(
            *self._model_inputs(observation, prev_action, prev_reward, init_rnn_state)
        )
        dist_info, value = self._to_cpu((DistInfo(prob=pi), value))
        return dist_info, value, next_rnn_state

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Sample actions for ``[B]`` inputs and advance the RNN state.

        Returns ``AgentStep(action [B], AgentInfoRnn(dist_info, value [B],
        prev_rnn_state [B, N, H]))``, ``prev_rnn_state`` being the state this
        step started from (zeros after a reset).
        """
        prev_rnn_state = self.prev_rnn_state
        pi, value, rnn_state = self.model(
            *self._model_inputs(observation, prev_action, prev_reward, prev_rnn_state)
        )
        dist_info = DistInfo(prob=pi)
        action = self.distribution.sample(dist_info)
        if prev_rnn_state is None:
            prev_rnn_state = self.zeros_like_rnn_state(rnn_state)
        agent_info = AgentInfoRnn(dist_info=dist_info, value=value, prev_rnn_state=prev_rnn_state)
        action, agent_info = self._to_cpu((action, agent_info))
        self.advance_rnn_state(rnn_state)  # stays on the model's device
        return AgentStep(action=action, agent_info=agent_info)

    @torch.no_grad()
    def value(self, observation, prev_action, prev_reward):
        """Value estimate ``[B]`` from the current RNN state, which is left unchanged."""
        _pi, value, _rnn_state = self.model(
            *self._model_inputs(observation, prev_action, prev_reward, self.prev_rnn_state)
        )
        return value.to("cpu")


class RecurrentCategoricalPgAgent(RecurrentAgentMixin, RecurrentCategoricalPgAgentBase):
    """Recurrent categorical policy-gradient agent (state per env, kept per mode)."""
