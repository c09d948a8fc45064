"""Policy-gradient agents with a diagonal Gaussian policy (continuous actions).

The model maps ``(observation, prev_action, prev_reward)`` to
``(mu, log_std, value)`` (feed-forward) or ``(mu, log_std, value,
next_rnn_state)`` (recurrent); the dist info is ``DistInfoStd(mean, log_std)``.

Actions are unclipped Gaussian samples (as in the original rlpyt): the env
applies its own bounds (gymnasium's Pendulum and MuJoCo envs clip controls).
Devices and eval-mode sampling as for the categorical agents.
"""

import torch

from rlpyt.agents.base import AgentStep, BaseAgent
from rlpyt.agents.pg.base import AgentInfo, AgentInfoRnn
from rlpyt.agents.recurrent import RecurrentAgentMixin
from rlpyt.distributions.gaussian import DistInfoStd, Gaussian
from rlpyt.utils.buffer import buffer_to

__all__ = ["GaussianPgAgent", "RecurrentGaussianPgAgentBase", "RecurrentGaussianPgAgent"]


class _GaussianPgMixin:
    """Shared set-up: the Gaussian distribution and observation-normalisation updates."""

    updates_obs_rms = True

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None):
        shape = env_spaces.action.shape
        if len(shape) != 1:
            raise ValueError(
                f"{type(self).__name__} needs a 1-D continuous action space, got shape {shape}"
            )
        super().initialize(
            env_spaces, share_memory=share_memory, global_B=global_B, env_ranks=env_ranks
        )
        self.distribution = Gaussian(dim=shape[0])

    def _model_inputs(self, *inputs):
        return buffer_to(inputs, device=self.device)

    def update_obs_rms(self, observation):
        """Update the model's observation normalisation (no-op if it has none).

        Called by the algorithm on each training batch, never while sampling.
        """
        # The model is the user's ModelCls: observation normalisation is optional there.
        update = getattr(self.model, "update_obs_rms", None)
        if update is not None:
            update(buffer_to(observation, device=self.device))


class GaussianPgAgent(_GaussianPgMixin, BaseAgent):
    """Feed-forward Gaussian policy-gradient agent (model returns ``(mu, log_std, value)``)."""

    def __call__(self, observation, prev_action, prev_reward):
        """Training forward pass on ``[T, B]`` inputs: ``(DistInfoStd [T, B, A], value [T, B])``."""
        mu, log_std, value = self.model(*self._model_inputs(observation, prev_action, prev_reward))
        return buffer_to((DistInfoStd(mean=mu, log_std=log_std), value), device="cpu")

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Sample actions for ``[B]`` inputs: ``AgentStep(action [B, A], AgentInfo(dist_info, value [B]))``."""
        mu, log_std, value = self.model(*self._model_inputs(observation, prev_action, prev_reward))
        # A learned log_std parameter expanded to [B, A] is a view that still
        # requires grad under no_grad: detach it before it reaches numpy.
        dist_info = DistInfoStd(mean=mu, log_std=log_std.detach())
        action = self.distribution.sample(dist_info)
        agent_info = AgentInfo(dist_info=dist_info, value=value)
        action, agent_info = buffer_to((action, agent_info), device="cpu")
        return AgentStep(action=action, agent_info=agent_info)

    @torch.no_grad()
    def value(self, observation, prev_action, prev_reward):
        """Value estimate ``[B]`` (on the CPU), e.g. to bootstrap returns after a batch."""
        _mu, _log_std, value = self.model(
            *self._model_inputs(observation, prev_action, prev_reward)
        )
        return value.to("cpu")


class RecurrentGaussianPgAgentBase(_GaussianPgMixin, BaseAgent):
    """Recurrent Gaussian agent; needs a state holder (see :class:`RecurrentGaussianPgAgent`).

    The model returns ``(mu, log_std, value, next_rnn_state)``; states are ``[B, N, H]``.
    """

    def __call__(self, observation, prev_action, prev_reward, init_rnn_state):
        """Training forward pass on ``[T, B]`` inputs from ``init_rnn_state`` ``[B, N, H]``.

        Returns ``(DistInfoStd [T, B, A], value [T, B], next_rnn_state)``.
        """
        mu, log_std, value, next_rnn_state = self.model(
            *self._model_inputs(observation, prev_action, prev_reward, init_rnn_state)
        )
        dist_info, value = buffer_to((DistInfoStd(mean=mu, log_std=log_std), value), device="cpu")
        return dist_info, value, next_rnn_state

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Sample actions for ``[B]`` inputs and advance the RNN state.

        Returns ``AgentStep(action [B, A], AgentInfoRnn(dist_info, value [B],
        prev_rnn_state [B, N, H]))``, ``prev_rnn_state`` being the state this
        step started from (zeros after a reset).
        """
        prev_rnn_state = self.prev_rnn_state
        mu, log_std, value, rnn_state = self.model(
            *self._model_inputs(observation, prev_action, prev_reward, prev_rnn_state)
        )
        dist_info = DistInfoStd(mean=mu, log_std=log_std)
        action = self.distribution.sample(dist_info)
        if prev_rnn_state is None:
            prev_rnn_state = self.zeros_like_rnn_state(rnn_state)
        agent_info = AgentInfoRnn(dist_info=dist_info, value=value, prev_rnn_state=prev_rnn_state)
        action, agent_info = buffer_to((action, agent_info), device="cpu")
        self.advance_rnn_state(rnn_state)  # stays on the model's device
        return AgentStep(action=action, agent_info=agent_info)

    @torch.no_grad()
    def value(self, observation, prev_action, prev_reward):
        """Value estimate ``[B]`` from the current RNN state, which is left unchanged."""
        _mu, _log_std, value, _rnn_state = self.model(
            *self._model_inputs(observation, prev_action, prev_reward, self.prev_rnn_state)
        )
        return value.to("cpu")


class RecurrentGaussianPgAgent(RecurrentAgentMixin, RecurrentGaussianPgAgentBase):
    """Recurrent Gaussian policy-gradient agent (state per env, kept per mode)."""
