"""DDPG agent: a deterministic policy mu(s), a critic Q(s, a), their target networks.

Everything here works in the model action space ``[-1, 1]`` except the actions
:meth:`DdpgAgent.step` returns, which are env-scale (see
:mod:`rlpyt.agents.qpg.base`). Devices: ``q``, ``q_at_mu`` and
``target_q_at_mu`` return outputs on the model's device (the algorithm moves
each replay batch to ``agent.device`` once); ``step`` returns on the CPU.

Exploration (Lillicrap et al. 2016, with Gaussian instead of Ornstein-Uhlenbeck
noise as in Fujimoto et al. 2018): ``clip(mu + clip(N(0, std^2), +-action_noise_clip),
-1, 1)``, with ``std = pretrain_std`` before the algorithm's first learning
iteration (if set) and ``action_std`` after; eval mode acts with ``mu`` itself, and so does
sampling while the std in force is 0 (the original rlpyt's Gaussian added no noise then).
"""

import torch

from rlpyt.agents.base import AgentStep, BaseAgent
from rlpyt.agents.qpg.base import QpgAgentMixin, check_state_keys, split_initial_state
from rlpyt.distributions.gaussian import DistInfo, Gaussian
from rlpyt.models.qpg.mlp import MuMlpModel, QofMuMlpModel
from rlpyt.models.utils import TargetUpdate
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.validation import require_in_range, require_non_negative, require_positive

__all__ = ["DdpgAgent", "AgentInfo"]

# mu: the policy's deterministic action [B, A] in model space, before noise.
AgentInfo = namedarraytuple("AgentInfo", ["mu"])

_STATE_KEYS = ("model", "q_model", "target_model", "target_q_model")


def _require_optional_positive(name, value):
    if value is not None:
        require_positive(name, value)


class DdpgAgent(QpgAgentMixin, BaseAgent):
    """Deterministic-policy agent of DDPG (and, through :class:`Td3Agent`, TD3).

    Args:
        ModelCls: the policy class (``mu``), default :class:`MuMlpModel`.
        QModelCls: the critic class, default :class:`QofMuMlpModel`.
        model_kwargs, q_model_kwargs: extra constructor kwargs; ``hidden_sizes``
            defaults to ``[400, 300]`` for both.
        initial_model_state_dict: policy weights, or a whole agent's
            ``state_dict()`` (restores every network).
        initial_q_model_state_dict: critic weights. Targets start as copies.
        action_std: std of the exploration noise (model space, so 0.1 is 5% of
            the box width); 0.0 samples ``mu`` itself.
        action_noise_clip: bound on the noise's magnitude, or None.
        pretrain_std: exploration std before the algorithm starts learning
            (``give_min_itr_learn``); 0.0 samples ``mu`` itself until then; None keeps
            ``action_std`` throughout.
        compile: run every network through ``torch.compile`` (see
            :class:`~rlpyt.agents.base.BaseAgent`).
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
        action_std: float = 0.1,
        action_noise_clip: float | None = None,
        pretrain_std: float | None = None,
        compile: bool = False,
    ):
        require_non_negative("action_std", action_std)
        _require_optional_positive("action_noise_clip", action_noise_clip)
        if pretrain_std is not None:
            require_non_negative("pretrain_std", pretrain_std)
        model_state, self._initial_agent_state = split_initial_state(
            initial_model_state_dict, self._state_keys()
        )
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs={"hidden_sizes": [400, 300], **(model_kwargs or {})},
            initial_model_state_dict=model_state,
            compile=compile,
        )
        self.QModelCls = QModelCls
        self.q_model_kwargs = {"hidden_sizes": [400, 300], **(q_model_kwargs or {})}
        self.initial_q_model_state_dict = initial_q_model_state_dict
        self.action_std = float(action_std)
        self.action_noise_clip = action_noise_clip
        self.pretrain_std = pretrain_std
        self._deterministic_sampling = False  # a noise std of 0 in force, per sample_mode
        self.q_model = None
        self.target_model = None
        self.target_q_model = None
        self._target_update = None  # TargetUpdate of the target networks, built at first use

    @classmethod
    def _state_keys(cls) -> tuple:
        return _STATE_KEYS

    # -- set-up -------------------------------------------------------------------

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None):
        """Build mu (shared with the workers if ``share_memory``), q and both targets."""
        super().initialize(
            env_spaces, share_memory=share_memory, global_B=global_B, env_ranks=env_ranks
        )
        self.build_learner_networks(env_spaces)
        self.distribution = Gaussian(
            dim=env_spaces.action.shape[0],
            std=self.action_std if self.action_std > 0 else None,  # 0: sample_mode acts with mu
            noise_clip=self.action_noise_clip,
            clip=1.0,  # the model action space
        )
        self.exploration_distribution = self.distribution
        if self._initial_agent_state is not None:
            self.load_state_dict(self._initial_agent_state)
        self.collector_initialize(global_B=global_B, env_ranks=env_ranks)

    def build_learner_networks(self, env_spaces) -> None:
        """The critic and both targets (subclasses add theirs, e.g. TD3's second critic)."""
        self.q_model = self._build_q_model(self.initial_q_model_state_dict)
        self.target_model = self._build_target(self.ModelCls, self.model_kwargs, self.model)
        self.target_q_model = self._build_target(self.QModelCls, self.q_model_kwargs, self.q_model)
        self._target_update = None

    def _build_q_model(self, state_dict):
        q_model = self.QModelCls(**self.env_model_kwargs, **self.q_model_kwargs)
        if state_dict is not None:
            q_model.load_state_dict(state_dict)
        return q_model

    def _build_target(self, Cls, kwargs, source):
        # Targets are the learner's alone: never shared, never trained directly.
        target = Cls(**self.env_model_kwargs, **kwargs)
        target.load_state_dict(source.state_dict())
        target.requires_grad_(False)
        return target

    def to_device(self, cuda_idx: int | None = None):
        """All networks to ``cuda:cuda_idx``; the workers' shared mu stays on the CPU."""
        super().to_device(cuda_idx)
        for net in self._learner_networks():
            net.to(self.device)

    def _learner_networks(self) -> list:
        return [self.q_model, self.target_model, self.target_q_model]

    # -- forward passes (model action space) ------------------------------------------

    def q(self, observation, prev_action, prev_reward, action):
        """``Q(s, a)`` ``[...]`` (with gradients) for model-space ``action`` ``[..., A]``."""
        inputs = self._model_inputs(observation, prev_action, prev_reward, action)
        return self.q_model(*inputs)

    def q_at_mu(self, observation, prev_action, prev_reward):
        """``Q(s, mu(s))`` ``[...]``: gradients flow into mu (and q) for the policy loss."""
        inputs = self._model_inputs(observation, prev_action, prev_reward)
        return self.q_model(*inputs, self.model(*inputs))

    @torch.no_grad()
    def target_q_at_mu(self, observation, prev_action, prev_reward):
        """``Q'(s, mu'(s))`` ``[...]`` of the target networks (no gradients)."""
        inputs = self._model_inputs(observation, prev_action, prev_reward)
        return self.target_q_model(*inputs, self.target_model(*inputs))

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Actions for ``[B]`` inputs: ``AgentStep(action [B, A] env-scale, AgentInfo(mu [B, A]))``
        on the CPU; noisy in sample mode, ``mu`` itself in eval mode.
        """
        mu = self.model(*self._model_inputs(observation, prev_action, prev_reward))
        if self._mode == "eval" or self._deterministic_sampling:
            action = torch.clamp(mu, -1.0, 1.0)  # output_max may exceed 1
        else:
            action = self.distribution.sample(DistInfo(mean=mu))
        action, agent_info = self._to_cpu((action, AgentInfo(mu=mu)))
        return AgentStep(action=self.to_env_action(action), agent_info=agent_info)

    # -- modes ----------------------------------------------------------------------

    def exploration_std(self, itr: int) -> float:
        """The sampling noise std at iteration ``itr``."""
        if self.pretrain_std is not None and itr < self.min_itr_learn:
            return self.pretrain_std
        return self.action_std

    # The critics run only in training (never while sampling or evaluating), so they stay
    # in train mode: switching them twice per iteration cost ~0.2 ms at batch_T = 1.

    def sample_mode(self, itr: int):
        super().sample_mode(itr)
        std = self.exploration_std(itr)
        self._deterministic_sampling = std == 0
        self.distribution.set_std(None if std == 0 else std)

    # -- targets and parameters ---------------------------------------------------------

    def update_target(self, tau: float = 1) -> None:
        """``target <- (1 - tau) * target + tau * online`` for mu and q; ``tau = 1`` copies."""
        require_in_range("tau", tau, 0.0, 1.0, low_inclusive=False)
        if self._target_update is None:  # the tensor lists, gathered once
            self._target_update = TargetUpdate(self._target_pairs())
        self._target_update(tau)

    def _target_pairs(self) -> list:
        """``(target, online)`` network pairs that :meth:`update_target` moves."""
        return [(self.target_model, self.model), (self.target_q_model, self.q_model)]

    def mu_parameters(self):
        return self.model.parameters()

    def q_parameters(self):
        return self.q_model.parameters()

    def state_dict(self) -> dict:
        """``dict(model, q_model, target_model, target_q_model)``: every network's weights."""
        return dict(
            model=self.model.state_dict(),
            q_model=self.q_model.state_dict(),
            target_model=self.target_model.state_dict(),
            target_q_model=self.target_q_model.state_dict(),
        )

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore every network from :meth:`state_dict` (and the workers' shared mu)."""
        check_state_keys(self, state_dict, self._state_keys())
        self.model.load_state_dict(state_dict["model"])
        self.q_model.load_state_dict(state_dict["q_model"])
        self.target_model.load_state_dict(state_dict["target_model"])
        self.target_q_model.load_state_dict(state_dict["target_q_model"])
        self.sync_shared_memory()
