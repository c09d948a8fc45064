"""TD3 agent (Fujimoto et al. 2018): DDPG's agent with twin critics and target smoothing.

Model action space ``[-1, 1]`` throughout, env-scale actions out of ``step``,
outputs on the model's device except ``step``'s (as :class:`DdpgAgent`).

* Twin critics: :meth:`Td3Agent.q` returns ``(q1, q2)``; the policy follows
  ``q1`` only (:meth:`Td3Agent.q_at_mu`).
* Target policy smoothing (paper eq. 14): the target action is
  ``clip(mu'(s) + clip(N(0, target_noise_std^2), +-target_noise_clip), -1, 1)``,
  drawn from the global torch RNG (training-time noise), and both target critics
  are evaluated at it; the algorithm takes their minimum.
* Before learning starts, exploration uses ``pretrain_std`` (0.5 by default, a
  wide spread over the box around the untrained policy), then ``action_std``.
"""

import torch

from rlpyt.agents.qpg.ddpg_agent import AgentInfo, DdpgAgent
from rlpyt.distributions.gaussian import DistInfo, Gaussian
from rlpyt.models.qpg.mlp import MuMlpModel, QofMuMlpModel
from rlpyt.utils.validation import require_positive

__all__ = ["Td3Agent", "AgentInfo"]

_STATE_KEYS = (
    "model",
    "q_model",
    "q2_model",
    "target_model",
    "target_q_model",
    "target_q2_model",
)


class Td3Agent(DdpgAgent):
    """DDPG agent plus a second critic, its target, and target-action noise.

    Args (beyond :class:`DdpgAgent`'s):
        initial_q2_model_state_dict: weights of the second critic.
        pretrain_std: exploration std before learning starts (default 0.5).
        target_noise_std: std of the target smoothing noise (model space).
        target_noise_clip: bound on its magnitude, or None.
    """

    def __init__(
        self,
        *,
        ModelCls=MuMlpModel,
        QModelCls=QofMuMlpModel,
        model_kwargs: dict | None = None,
        q_model_kwargs: dict | None = None,
        initial_model_state_dict: dict | None = None,
        initial_q_model_state_dict: dict | None = None,
        initial_q2_model_state_dict: dict | None = None,
        action_std: float = 0.1,
        action_noise_clip: float | None = None,
        pretrain_std: float | None = 0.5,
        target_noise_std: float = 0.2,
        target_noise_clip: float | None = 0.5,
        compile: bool = False,
    ):
        require_positive("target_noise_std", target_noise_std)
        if target_noise_clip is not None:
            require_positive("target_noise_clip", target_noise_clip)
        super().__init__(
            ModelCls=ModelCls,
            QModelCls=QModelCls,
            model_kwargs=model_kwargs,
            q_model_kwargs=q_model_kwargs,
            initial_model_state_dict=initial_model_state_dict,
            initial_q_model_state_dict=initial_q_model_state_dict,
            action_std=action_std,
            action_noise_clip=action_noise_clip,
            pretrain_std=pretrain_std,
            compile=compile,
        )
        self.initial_q2_model_state_dict = initial_q2_model_state_dict
        self.target_noise_std = float(target_noise_std)
        self.target_noise_clip = target_noise_clip
        self.q2_model = None
        self.target_q2_model = None
        self.target_distribution = None

    @classmethod
    def _state_keys(cls) -> tuple:
        return _STATE_KEYS

    # -- set-up -------------------------------------------------------------------

    def build_learner_networks(self, env_spaces) -> None:
        """DDPG's networks, the second critic, its target and the target-noise distribution."""
        super().build_learner_networks(env_spaces)
        self.q2_model = self._build_q_model(self.initial_q2_model_state_dict)
        self.target_q2_model = self._build_target(
            self.QModelCls, self.q_model_kwargs, self.q2_model
        )
        self.target_distribution = Gaussian(
            dim=env_spaces.action.shape[0],
            std=self.target_noise_std,
            noise_clip=self.target_noise_clip,
            clip=1.0,
        )

    def _learner_networks(self) -> list:
        return super()._learner_networks() + [self.q2_model, self.target_q2_model]

    def set_target_noise(self, std: float, noise_clip: float | None = None) -> None:
        """Change the target smoothing noise (e.g. on a schedule)."""
        require_positive("target_noise_std", std)
        if noise_clip is not None:
            require_positive("target_noise_clip", noise_clip)
        self.target_noise_std = float(std)
        self.target_noise_clip = noise_clip
        self.target_distribution.set_std(std)
        self.target_distribution.set_noise_clip(noise_clip)

    # -- forward passes (model action space) ------------------------------------------

    def q(self, observation, prev_action, prev_reward, action):
        """``(q1, q2)``, each ``[...]`` (with gradients), for model-space ``action`` ``[..., A]``."""
        inputs = self._model_inputs(observation, prev_action, prev_reward, action)
        return self.q_model(*inputs), self.q2_model(*inputs)

    @torch.no_grad()
    def target_q_at_mu(self, observation, prev_action, prev_reward):
        """``(q1', q2')`` ``[...]`` at the smoothed target action (no gradients)."""
        inputs = self._model_inputs(observation, prev_action, prev_reward)
        target_action = self.target_action(*inputs)
        return (
            self.target_q_model(*inputs, target_action),
            self.target_q2_model(*inputs, target_action),
        )

    @torch.no_grad()
    def target_action(self, observation, prev_action, prev_reward):
        """``clip(mu'(s) + clipped noise, -1, 1)`` ``[..., A]`` on the model's device."""
        inputs = self._model_inputs(observation, prev_action, prev_reward)
        return self.target_distribution.sample(DistInfo(mean=self.target_model(*inputs)))

    # -- targets and parameters ---------------------------------------------------------

    def _target_pairs(self) -> list:
        return super()._target_pairs() + [(self.target_q2_model, self.q2_model)]

    def q_parameters(self):
        """Both critics' parameters (one optimizer trains them on the sum of their losses)."""
        yield from self.q_model.parameters()
        yield from self.q2_model.parameters()

    def q1_parameters(self):
        return self.q_model.parameters()

    def q2_parameters(self):
        return self.q2_model.parameters()

    def state_dict(self) -> dict:
        """DDPG's entries plus ``q2_model`` and ``target_q2_model``."""
        state = super().state_dict()
        state.update(
            q2_model=self.q2_model.state_dict(),
            target_q2_model=self.target_q2_model.state_dict(),
        )
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)  # checks every key of _STATE_KEYS first
        self.q2_model.load_state_dict(state_dict["q2_model"])
        self.target_q2_model.load_state_dict(state_dict["target_q2_model"])
