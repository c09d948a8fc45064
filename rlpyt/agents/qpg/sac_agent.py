"""Soft actor-critic agent (Haarnoja et al. 2018): a tanh-squashed Gaussian policy, twin critics.

The policy model outputs ``(mean, log_std)`` of a Gaussian over the pre-squash
``u``; actions are ``a = action_squash * tanh(u)`` in the model action space
``[-1, 1]`` (``step`` returns them env-scale, see :mod:`rlpyt.agents.qpg.base`).
``log_std`` is clamped to ``[MIN_LOG_STD, MAX_LOG_STD]`` = ``[-20, 2]``.
Outputs are on the model's device except ``step``'s (on the CPU).

Acting:

* before learning starts (``itr < min_itr_learn``, see ``give_min_itr_learn``) the
  pre-squash noise has the fixed std ``pretrain_std`` around the policy's mean, as
  in the original rlpyt: with the untrained policy's mean near 0, ``tanh`` of
  ``N(0, 0.75^2)`` spreads almost uniformly over ``[-1, 1]`` while staying a
  draw the policy could make (``pretrain_std=None`` skips this phase;
  ``pretrain_std=0.0``, as in the original, acts deterministically with
  ``action_squash * tanh(mean)`` until then);
* then the policy's own ``(mean, std)``;
* in eval mode the deterministic ``action_squash * tanh(mean)``.
"""

import torch

from rlpyt.agents.base import AgentStep, BaseAgent
from rlpyt.agents.qpg.base import QpgAgentMixin, check_state_keys, split_initial_state
from rlpyt.distributions.gaussian import DistInfoStd, Gaussian
from rlpyt.models.qpg.mlp import PiMlpModel, QofMuMlpModel
from rlpyt.models.utils import TargetUpdate
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.validation import require_in_range, require_non_negative

__all__ = ["SacAgent", "AgentInfo", "MIN_LOG_STD", "MAX_LOG_STD"]

# dist_info: DistInfoStd(mean, log_std) [B, A] of the pre-squash Gaussian (log_std clamped).
AgentInfo = namedarraytuple("AgentInfo", ["dist_info"])

MIN_LOG_STD = -20
MAX_LOG_STD = 2

_STATE_KEYS = ("model", "q1_model", "q2_model", "target_q1_model", "target_q2_model")


class SacAgent(QpgAgentMixin, BaseAgent):
    """Squashed-Gaussian policy ``pi``, critics ``q1``, ``q2`` and their targets.

    Args:
        ModelCls: the policy class, default :class:`PiMlpModel`.
        QModelCls: the critic class (both critics), default :class:`QofMuMlpModel`.
        model_kwargs, q_model_kwargs: extra constructor kwargs; ``hidden_sizes``
            defaults to ``[256, 256]`` for both.
        initial_model_state_dict: policy weights, or a whole agent's
            ``state_dict()`` (restores every network).
        action_squash: actions are ``action_squash * tanh(u)``, in (0, 1].
        pretrain_std: pre-squash std before learning starts; 0.0 acts deterministically
            (the policy mean, squashed) until then; None uses the policy's own std throughout.
        v_model_kwargs: the original's keyword, accepted as None only (there is no V model).
        compile: run every network through ``torch.compile`` (see
            :class:`~rlpyt.agents.base.BaseAgent`).
    """

    def __init__(
        self,
        *,
        ModelCls=PiMlpModel,
        QModelCls=QofMuMlpModel,
        model_kwargs: dict | None = None,
        q_model_kwargs: dict | None = None,
        initial_model_state_dict: dict | None = None,
        action_squash: float = 1.0,
        pretrain_std: float | None = 0.75,
        v_model_kwargs: dict | None = None,
        compile: bool = False,
    ):
        if v_model_kwargs is not None:
            raise ValueError(
                "SacAgent(v_model_kwargs=...): this SAC (the original's twin-Q version) has no "
                "state-value network, so there is no V model to configure (the original "
                "0.1.2 accepted the keyword and ignored it); drop it or pass None"
            )
        # Above 1 the squashed actions would leave the model action space (and the env box).
        require_in_range("action_squash", action_squash, 0.0, 1.0, low_inclusive=False)
        if pretrain_std is not None:
            require_non_negative("pretrain_std", pretrain_std)
        model_state, self._initial_agent_state = split_initial_state(
            initial_model_state_dict, _STATE_KEYS
        )
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs={"hidden_sizes": [256, 256], **(model_kwargs or {})},
            initial_model_state_dict=model_state,
            compile=compile,
        )
        self.QModelCls = QModelCls
        self.q_model_kwargs = {"hidden_sizes": [256, 256], **(q_model_kwargs or {})}
        self.action_squash = float(action_squash)
        self.pretrain_std = pretrain_std
        self._deterministic_sampling = False  # pretrain_std=0.0 before learning, per sample_mode
        self.q1_model = None
        self.q2_model = None
        self.target_q1_model = None
        self.target_q2_model = None
        self._target_update = None  # TargetUpdate of the target critics, built at first use

    @classmethod
    def _state_keys(cls) -> tuple:
        return _STATE_KEYS

    # -- set-up -------------------------------------------------------------------

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None):
        """Build pi (shared with the workers if ``share_memory``), q1, q2 and their targets."""
        super().initialize(
            env_spaces, share_memory=share_memory, global_B=global_B, env_ranks=env_ranks
        )
        self.q1_model = self.QModelCls(**self.env_model_kwargs, **self.q_model_kwargs)
        self.q2_model = self.QModelCls(**self.env_model_kwargs, **self.q_model_kwargs)
        self.target_q1_model = self._build_target(self.q1_model)
        self.target_q2_model = self._build_target(self.q2_model)
        self._target_update = None
        dim = env_spaces.action.shape[0]
        # Training draws (pi) use the global RNG; acting draws the exploration generator.
        self.distribution = Gaussian(dim=dim, squash=self.action_squash)
        self.exploration_distribution = Gaussian(dim=dim, squash=self.action_squash)
        if self._initial_agent_state is not None:
            self.load_state_dict(self._initial_agent_state)
        self.collector_initialize(global_B=global_B, env_ranks=env_ranks)

    def _build_target(self, source):
        # Targets are the learner's alone: never shared, never trained directly.
        target = self.QModelCls(**self.env_model_kwargs, **self.q_model_kwargs)
        target.load_state_dict(source.state_dict())
        target.requires_grad_(False)
        return target

    def _q_networks(self) -> list:
        return [self.q1_model, self.q2_model, self.target_q1_model, self.target_q2_model]

    def to_device(self, cuda_idx: int | None = None):
        """All networks to ``cuda:cuda_idx``; the workers' shared pi stays on the CPU."""
        super().to_device(cuda_idx)
        for net in self._q_networks():
            net.to(self.device)

    # -- forward passes (model action space) ------------------------------------------

    def q(self, observation, prev_action, prev_reward, action):
        """``(q1, q2)``, each ``[...]`` (with gradients), for model-space ``action`` ``[..., A]``."""
        inputs = self._model_inputs(observation, prev_action, prev_reward, action)
        return self.q1_model(*inputs), self.q2_model(*inputs)

    @torch.no_grad()
    def target_q(self, observation, prev_action, prev_reward, action):
        """``(q1', q2')`` ``[...]`` of the target critics (no gradients)."""
        inputs = self._model_inputs(observation, prev_action, prev_reward, action)
        return self.target_q1_model(*inputs), self.target_q2_model(*inputs)

    def pi(self, observation, prev_action, prev_reward):
        """A reparameterised policy sample: ``(action [..., A], log_pi [...], dist_info)``.

        ``log_pi`` is the log density of the squashed ``action``, tanh (and
        ``action_squash``) change of variables included; gradients reach the
        policy through both.
        """
        dist_info = self._dist_info(*self._model_inputs(observation, prev_action, prev_reward))
        action, log_pi = self.distribution.sample_loglikelihood(dist_info)
        return action, log_pi, dist_info

    def _dist_info(self, observation, prev_action, prev_reward) -> DistInfoStd:
        mean, log_std = self.model(observation, prev_action, prev_reward)
        return DistInfoStd(mean=mean, log_std=torch.clamp(log_std, MIN_LOG_STD, MAX_LOG_STD))

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Actions for ``[B]`` inputs: ``AgentStep(action [B, A] env-scale, AgentInfo(dist_info))``
        on the CPU (see the module docstring for the phases).
        """
        dist_info = self._dist_info(*self._model_inputs(observation, prev_action, prev_reward))
        if self._mode == "eval" or self._deterministic_sampling:
            action = self.action_squash * torch.tanh(dist_info.mean)
        else:
            action = self.exploration_distribution.sample(dist_info)
        action, agent_info = self._to_cpu((action, AgentInfo(dist_info=dist_info)))
        return AgentStep(action=self.to_env_action(action), agent_info=agent_info)

    # -- modes ----------------------------------------------------------------------

    def exploration_std(self, itr: int) -> float | None:
        """The fixed pre-squash std at iteration ``itr`` (None: the policy's own)."""
        if self.pretrain_std is not None and itr < self.min_itr_learn:
            return self.pretrain_std
        return None

    # The critics run only in training (never while sampling or evaluating), so they stay
    # in train mode: switching them twice per iteration cost ~0.2 ms at batch_T = 1.

    def sample_mode(self, itr: int):
        super().sample_mode(itr)
        std = self.exploration_std(itr)
        self._deterministic_sampling = std == 0
        self.exploration_distribution.set_std(None if std == 0 else std)

    # -- targets and parameters ---------------------------------------------------------

    def update_target(self, tau: float = 1) -> None:
        """``target <- (1 - tau) * target + tau * online`` for both critics; 1 copies."""
        require_in_range("tau", tau, 0.0, 1.0, low_inclusive=False)
        if self._target_update is None:  # the tensor lists, gathered once
            self._target_update = TargetUpdate(
                [(self.target_q1_model, self.q1_model), (self.target_q2_model, self.q2_model)]
            )
        self._target_update(tau)

    def pi_parameters(self):
        return self.model.parameters()

    def q1_parameters(self):
        return self.q1_model.parameters()

    def q2_parameters(self):
        return self.q2_model.parameters()

    def q_parameters(self):
        """Both critics' parameters (for one optimizer over the sum of their losses)."""
        yield from self.q1_model.parameters()
        yield from self.q2_model.parameters()

    def state_dict(self) -> dict:
        """``dict(model, q1_model, q2_model, target_q1_model, target_q2_model)``."""
        return dict(
            model=self.model.state_dict(),
            q1_model=self.q1_model.state_dict(),
            q2_model=self.q2_model.state_dict(),
            target_q1_model=self.target_q1_model.state_dict(),
            target_q2_model=self.target_q2_model.state_dict(),
        )

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore every network from :meth:`state_dict` (and the workers' shared pi)."""
        check_state_keys(self, state_dict, _STATE_KEYS)
        self.model.load_state_dict(state_dict["model"])
        self.q1_model.load_state_dict(state_dict["q1_model"])
        self.q2_model.load_state_dict(state_dict["q2_model"])
        self.target_q1_model.load_state_dict(state_dict["target_q1_model"])
        self.target_q2_model.load_state_dict(state_dict["target_q2_model"])
        self.sync_shared_memory()
