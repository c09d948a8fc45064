"""DQN agent: a Q-network, its target network and epsilon-greedy acting.

The model maps ``(observation, one-hot prev_action, prev_reward)`` to ``q``
``[..., A]``. Devices: ``__call__`` and :meth:`DqnAgent.target` return outputs
on the model's device (the algorithm moves each replay batch to
``agent.device`` once and computes its loss there); :meth:`DqnAgent.step`
returns actions and agent info on the CPU, where the samples live.
"""

import torch

from rlpyt.agents.base import AgentStep, BaseAgent
from rlpyt.agents.dqn.base import AgentInfo
from rlpyt.agents.dqn.epsilon_greedy import EpsilonGreedyAgentMixin
from rlpyt.distributions.epsilon_greedy import EpsilonGreedy
from rlpyt.models.utils import update_state_dict
from rlpyt.utils.buffer import buffer_to
from rlpyt.utils.validation import require_in_range

__all__ = ["DqnAgent", "AgentInfo"]


def _split_agent_state(state_dict):
    """``(model, target)`` weights from an agent's ``state_dict()`` or from plain model weights."""
    if isinstance(state_dict, dict) and set(state_dict) == {"model", "target"}:
        return state_dict["model"], state_dict["target"]
    return state_dict, None


class DqnAgent(EpsilonGreedyAgentMixin, BaseAgent):
    """Q-network agent with a target network (Mnih et al., 2015).

    Args:
        ModelCls: the Q-network class; called with the env-derived kwargs (see
            ``make_env_to_model_kwargs``) and ``model_kwargs``.
        model_kwargs: extra constructor kwargs of ``ModelCls``.
        initial_model_state_dict: model weights to start from; an agent's
            ``state_dict()`` (``dict(model=..., target=...)``) restores both nets.
            The target starts as a copy of the model otherwise.
        eps_init, eps_final, eps_final_min, eps_itr_min, eps_itr_max, eps_eval:
            the exploration schedule, see
            :class:`~rlpyt.agents.dqn.epsilon_greedy.EpsilonGreedyAgentMixin`.
        compile: run the Q-network and its target through ``torch.compile``
            (see :class:`~rlpyt.agents.base.BaseAgent`).
    """

    def __init__(
        self,
        *,
        ModelCls=None,
        model_kwargs: dict | None = None,
        initial_model_state_dict: dict | None = None,
        eps_init: float = 1.0,
        eps_final: float = 0.01,
        eps_final_min: float | None = None,
        eps_itr_min: int = 50,
        eps_itr_max: int = 1000,
        eps_eval: float = 0.001,
        compile: bool = False,
    ):
        model_state, target_state = _split_agent_state(initial_model_state_dict)
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs=model_kwargs,
            initial_model_state_dict=model_state,
            eps_init=eps_init,
            eps_final=eps_final,
            eps_final_min=eps_final_min,
            eps_itr_min=eps_itr_min,
            eps_itr_max=eps_itr_max,
            eps_eval=eps_eval,
            compile=compile,
        )
        self.initial_target_state_dict = target_state
        self.target_model = None

    # -- set-up -----------------------------------------------------------------

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None):
        """Build model, target (a copy of the model) and the epsilon-greedy distribution.

        ``global_B``/``env_ranks``: this sampler's envs among all (vector epsilon
        and the exploration generator's seed).
        """
        if self.ModelCls is None:
            raise ValueError(
                f"{type(self).__name__} needs ModelCls (the Q-network class), got None: "
                "pass ModelCls=... or use an agent with a default model (e.g. AtariDqnAgent)"
            )
        super().initialize(
            env_spaces, share_memory=share_memory, global_B=global_B, env_ranks=env_ranks
        )
        # The target is the learner's alone: never in shared memory, never trained directly.
        self.target_model = self.ModelCls(**self.env_model_kwargs, **self.model_kwargs)
        self.target_model.load_state_dict(
            self.model.state_dict()
            if self.initial_target_state_dict is None
            else self.initial_target_state_dict
        )
        self.target_model.requires_grad_(False)
        self.distribution = self.make_distribution(env_spaces)
        self.collector_initialize(global_B=global_B, env_ranks=env_ranks)

    def make_distribution(self, env_spaces) -> EpsilonGreedy:
        return EpsilonGreedy(dim=env_spaces.action.n)

    def to_device(self, cuda_idx: int | None = None):
        """Model and target to ``cuda:cuda_idx``; the exploration generator follows."""
        super().to_device(cuda_idx)
        self.target_model.to(self.device)
        if self.exploration_generator.device != self.device:
            self._build_exploration_generator()

    # -- forward passes -----------------------------------------------------------

    def _model_inputs(self, observation, prev_action, prev_reward, *rest):
        """Inputs on the model's device, prev_action as one-hot ``[..., A]``."""
        if self.device.type != "cpu":  # CPU tensors are already there: skip the tree walk
            observation, prev_action, prev_reward, *rest = buffer_to(
                (observation, prev_action, prev_reward, *rest), device=self.device
            )
        return (observation, self.distribution.to_onehot(prev_action), prev_reward, *rest)

    def _to_cpu(self, outputs):
        return outputs if self.device.type == "cpu" else buffer_to(outputs, device="cpu")

    def __call__(self, observation, prev_action, prev_reward):
        """Q-values ``[..., A]`` (with gradients) on the model's device; leading dims as given."""
        return self.model(*self._model_inputs(observation, prev_action, prev_reward))

    @torch.no_grad()
    def target(self, observation, prev_action, prev_reward):
        """Target-network Q-values ``[..., A]`` (no gradients) on the model's device."""
        return self.target_model(*self._model_inputs(observation, prev_action, prev_reward))

    @torch.no_grad()
    def step(self, observation, prev_action, prev_reward):
        """Epsilon-greedy actions for ``[B]`` inputs: ``AgentStep(action [B], AgentInfo(q [B, A]))``
        on the CPU.
        """
        q = self.model(*self._model_inputs(observation, prev_action, prev_reward))
        action = self.distribution.sample(q)
        action, agent_info = self._to_cpu((action, AgentInfo(q=q)))
        return AgentStep(action=action, agent_info=agent_info)

    # -- target network and parameters -------------------------------------------

    def networks(self) -> dict:
        return {"model": self.model, "target_model": self.target_model}

    def update_target(self, tau: float = 1) -> None:
        """``target <- (1 - tau) * target + tau * model``; ``tau = 1`` is a hard copy."""
        require_in_range("tau", tau, 0.0, 1.0, low_inclusive=False)
        update_state_dict(self.target_model, self.model.state_dict(), tau)

    def state_dict(self) -> dict:
        """``dict(model=..., target=...)``: the weights of both networks."""
        return dict(model=self.model.state_dict(), target=self.target_model.state_dict())

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore both networks from :meth:`state_dict` (and the workers' shared copy)."""
        if not isinstance(state_dict, dict) or not {"model", "target"} <= set(state_dict):
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise KeyError(
                f"{type(self).__name__}.load_state_dict expects dict(model=..., target=...) "
                f"as state_dict() returns, got keys {keys}"
            )
        self.model.load_state_dict(state_dict["model"])
        self.target_model.load_state_dict(state_dict["target"])
        self.sync_shared_memory()
