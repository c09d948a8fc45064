"""PEARL agent: SAC's policy and twin critics conditioned on a latent task variable z.

The policy and the critics are SAC's networks (:class:`~rlpyt.agents.qpg.sac_agent.SacAgent`)
whose input is the observation with z appended, ``[..., obs_size + latent_size]``;
a :class:`~rlpyt.models.qpg.pearl.ContextEncoderModel` infers z's posterior from a
context of transitions. Acting uses the agent's current z (:meth:`PearlAgent.set_z`),
drawn from the prior ``N(0, I)`` (:meth:`PearlAgent.sample_prior_z`) or from the
posterior given a context (:meth:`PearlAgent.sample_posterior_z`) with the agent's
exploration generator, so the draws are part of its seeded, snapshotted stream.

Context transitions: ``(s, a, r)`` and, with ``use_next_obs_in_context``, ``s'``;
actions in the model space ``[-1, 1]`` (:meth:`PearlAgent.context`).
"""

import torch

from rlpyt.agents.qpg.base import check_state_keys
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.models.qpg.pearl import ContextEncoderModel, LatentGaussian, latent_rsample
from rlpyt.utils.validation import require_int_at_least

__all__ = ["PearlAgent"]

_STATE_KEYS = ("model", "q1_model", "q2_model", "target_q1_model", "target_q2_model", "encoder")


class PearlAgent(SacAgent):
    """SAC on ``[observation, z]`` plus a context encoder (module docstring).

    Args:
        latent_size: dimensions of z (paper: 5).
        encoder_hidden_sizes: the encoder MLP's hidden layers (paper: 200 x 3).
        encoder_precision_rank: low-rank precision vectors per context factor
            (:class:`~rlpyt.models.qpg.pearl.ContextEncoderModel`); 0, the paper's
            diagonal factors, by default.
        use_next_obs_in_context: put ``s'`` in each context transition (the paper's
            walker/hopper rand-params configs).
        sparse_rewards: the context carries ``env_info.sparse_reward`` instead of the
            reward (the sparse point robot; read by the sampler and the algorithm).
        hidden_sizes: hidden layers of the policy and both critics (paper: 300 x 3),
            unless ``model_kwargs`` / ``q_model_kwargs`` give them.
        pretrain_std: as SacAgent's; default None (PEARL's first data come from the
            untrained policy with prior z, as in the paper).
        **sac_kwargs: the other :class:`SacAgent` keywords.
    """

    def __init__(
        self,
        *,
        latent_size: int = 5,
        encoder_hidden_sizes=(200, 200, 200),
        encoder_precision_rank: int = 0,
        use_next_obs_in_context: bool = False,
        sparse_rewards: bool = False,
        hidden_sizes=(300, 300, 300),
        model_kwargs: dict | None = None,
        q_model_kwargs: dict | None = None,
        pretrain_std: float | None = None,
        **sac_kwargs,
    ):
        model_kwargs = {"hidden_sizes": list(hidden_sizes), **(model_kwargs or {})}
        q_model_kwargs = {"hidden_sizes": list(hidden_sizes), **(q_model_kwargs or {})}
        super().__init__(
            model_kwargs=model_kwargs,
            q_model_kwargs=q_model_kwargs,
            pretrain_std=pretrain_std,
            **sac_kwargs,
        )
        self.latent_size = require_int_at_least("latent_size", latent_size, 1)
        self.encoder_hidden_sizes = list(encoder_hidden_sizes)
        self.encoder_precision_rank = require_int_at_least(
            "encoder_precision_rank", encoder_precision_rank, 0
        )
        self.use_next_obs_in_context = bool(use_next_obs_in_context)
        self.sparse_rewards = bool(sparse_rewards)
        self.encoder = None
        self.z = None  # [latent_size], the z the agent acts with

    @classmethod
    def _state_keys(cls) -> tuple:
        return _STATE_KEYS

    # -- set-up -------------------------------------------------------------------

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        kwargs = super().make_env_to_model_kwargs(env_spaces)
        (obs_size,) = self._obs_shape(env_spaces)
        kwargs["observation_shape"] = (obs_size + self.latent_size,)
        return kwargs

    def _obs_shape(self, env_spaces) -> tuple:
        shape = tuple(env_spaces.observation.shape)
        if len(shape) != 1:
            raise ValueError(f"PearlAgent needs vector observations, got shape {shape}")
        return shape

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None):
        """Build the encoder, then SAC's networks on ``[observation, z]``; z starts at 0."""
        (obs_size,) = self._obs_shape(env_spaces)
        action_size = env_spaces.action.shape[0]
        self.obs_size = obs_size
        self.context_size = (
            obs_size + action_size + 1 + (obs_size if self.use_next_obs_in_context else 0)
        )
        self.encoder = ContextEncoderModel(
            self.context_size,
            self.latent_size,
            self.encoder_hidden_sizes,
            precision_rank=self.encoder_precision_rank,
        )
        super().initialize(
            env_spaces, share_memory=share_memory, global_B=global_B, env_ranks=env_ranks
        )
        self.z = torch.zeros(self.latent_size)

    def to_device(self, cuda_idx: int | None = None):
        super().to_device(cuda_idx)
        self.encoder.to(self.device)

    # -- z --------------------------------------------------------------------------

    def context(self, observation, action, reward, next_observation=None) -> torch.Tensor:
        """Context transitions ``[..., context_size]`` from ``[...]``-leading inputs.

        ``action`` is env-scale (as stored) and mapped to the model space here; ``reward``
        is the one the context carries (see ``sparse_rewards``).
        """
        parts = [
            observation.to(torch.float32),
            self.to_model_action(action),
            reward.to(torch.float32).unsqueeze(-1),
        ]
        if self.use_next_obs_in_context:
            parts.append(next_observation.to(torch.float32))
        return torch.cat(parts, dim=-1)

    def transition_context(self, transitions) -> torch.Tensor:
        """:meth:`context` of a :data:`~rlpyt.replays.task.Transition` of tensors."""
        reward = transitions.sparse_reward if self.sparse_rewards else transitions.reward
        return self.context(
            transitions.observation, transitions.action, reward, transitions.next_observation
        )

    def posterior(self, context: torch.Tensor) -> LatentGaussian:
        """q(z | context) ``[..., latent_size]``, context ``[..., N, C]`` (with gradients
        into the encoder)."""
        return self.encoder.posterior(*self._model_inputs(context))

    @staticmethod
    def rsample(posterior: LatentGaussian, generator=None) -> torch.Tensor:
        """Reparameterised draw of z from ``posterior`` (gradients reach its parameters)."""
        return latent_rsample(posterior, generator)

    @torch.no_grad()
    def sample_prior_z(self) -> torch.Tensor:
        """A draw of z from ``N(0, I)`` with the exploration generator; becomes the acting z."""
        zeros = torch.zeros(self.latent_size, device=self.device)
        prior = LatentGaussian(zeros, torch.ones_like(zeros), None)
        return self.set_z(self.rsample(prior, self.exploration_generator))

    @torch.no_grad()
    def sample_posterior_z(self, context: torch.Tensor) -> torch.Tensor:
        """A draw of z from q(z | context ``[N, C]``) (the prior when N = 0); becomes the acting z."""
        if context.shape[0] == 0:
            return self.sample_prior_z()
        return self.set_z(self.rsample(self.posterior(context), self.exploration_generator))

    def set_z(self, z: torch.Tensor) -> torch.Tensor:
        """Act with ``z`` ``[latent_size]`` from now on; returns it."""
        if tuple(z.shape) != (self.latent_size,):
            raise ValueError(f"z must have shape ({self.latent_size},), got {tuple(z.shape)}")
        self.z = z.detach().to(self.device)
        return self.z

    def with_z(self, observation: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``[observation, z]`` ``[..., obs + latent]``; ``z`` ``[latent]`` or ``[..., latent]``."""
        observation = observation.to(torch.float32)
        z = z.to(observation.device).expand(*observation.shape[:-1], self.latent_size)
        return torch.cat([observation, z], dim=-1)

    # -- acting -------------------------------------------------------------------------

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """SAC's step on ``[observation, z]`` with the acting z."""
        observation = torch.as_tensor(observation)
        return super().step(self.with_z(observation, self.z.cpu()), prev_action, prev_reward)

    def networks(self) -> dict:
        """SAC's networks; the encoder stays eager: its context batches vary in length, and
        static-shape compilation would compile a graph per length."""
        return {name: net for name, net in super().networks().items() if name != "encoder"}

    def train_mode(self, itr: int):
        super().train_mode(itr)
        self.encoder.train()

    def sample_mode(self, itr: int):
        super().sample_mode(itr)
        self.encoder.eval()

    def eval_mode(self, itr: int):
        super().eval_mode(itr)
        self.encoder.eval()

    # -- parameters -----------------------------------------------------------------------

    def encoder_parameters(self):
        return self.encoder.parameters()

    def state_dict(self) -> dict:
        """SacAgent's networks plus ``encoder``."""
        return dict(super().state_dict(), encoder=self.encoder.state_dict())

    def load_state_dict(self, state_dict: dict) -> None:
        check_state_keys(self, state_dict, _STATE_KEYS)
        self.encoder.load_state_dict(state_dict["encoder"])
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "encoder"})
