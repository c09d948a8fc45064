"""Training the planners' networks, supervised, from the episodes their searches played.

Each epoch the sampler returns ``B`` finished episodes
(:class:`~rlpyt.samplers.episodes.base.Episode`); they go into an
:class:`~rlpyt.replays.episodes.EpisodeReplay`, and from epoch ``n_precollect_epochs`` on
the network takes ``n_updates_per_epoch`` gradient steps on stratified replay batches.
Each head of the agent's :class:`~rlpyt.models.planning.PlanningMlpModel` regresses on a
target made from the search (Alpacka's ``SupervisedTrainer`` and ``TDTrainer``):

* ``value`` -- ``value_target``:
  ``"discounted_return"`` the discounted return from the step to the episode's end
  (truncated at a time-limit cut), ``"solved"`` 1.0 for the steps of a solved episode,
  else 0.0, or ``"td"`` the n-step return bootstrapped with the current network's value
  of the observation ``n_step`` steps ahead (through time-limit cuts, never past a
  terminal state); squared error.
* ``policy`` -- ``policy_target="action_probs"``: cross-entropy of the policy logits to
  the search's action distribution (MCTS visit counts; one-hot for planners that only
  pick an action).
* ``q`` -- ``q_target="qualities"``: squared error to the search's value of each root
  action, over the entries the search rated (finite ones).
"""

from collections import namedtuple
from typing import NamedTuple

import torch
import torch.nn.functional as F

from rlpyt.algos.base import RlAlgorithm
from rlpyt.algos.optim import build_optimizer
from rlpyt.replays.episodes import EpisodeReplay, check_hierarchy
from rlpyt.utils.buffer import buffer_to
from rlpyt.utils.validation import (
    require_in_range,
    require_int_at_least,
    require_non_negative,
    require_positive,
)

__all__ = ["SupervisedFromSearch", "OptInfo", "VALUE_TARGETS", "POLICY_TARGETS", "Q_TARGETS"]

VALUE_TARGETS = ("discounted_return", "solved", "td")
POLICY_TARGETS = ("action_probs",)
Q_TARGETS = ("qualities",)

# One entry per gradient step in each list: the total loss, each head's loss, the gradient
# norm (before clipping), and skipped = 1.0 for a step skipped as non-finite.
OptInfo = namedtuple("OptInfo", ["loss", "valueLoss", "policyLoss", "qLoss", "gradNorm", "skipped"])


class _Head(NamedTuple):
    loss_name: str  # its loss's name in OptInfo
    keyword: str  # the constructor argument that sets its target
    targets: tuple  # the targets it can train on


_HEADS = {
    "value": _Head("valueLoss", "value_target", VALUE_TARGETS),
    "policy": _Head("policyLoss", "policy_target", POLICY_TARGETS),
    "q": _Head("qLoss", "q_target", Q_TARGETS),
}


class SupervisedFromSearch(RlAlgorithm):
    """Supervised training of a planner's network from the episodes it played.

    Args:
        discount: gamma of the value targets (and of the logged discounted returns).
        learning_rate: of the optimizer (Adam by default).
        batch_size: transitions per gradient step.
        n_updates_per_epoch: gradient steps per epoch once training has started.
        n_precollect_epochs: epochs that only fill the replay (the first trains at epoch
            ``n_precollect_epochs``).
        replay_capacity: transitions the replay holds (oldest episodes dropped first).
        replay_hierarchy: episode fields that split each batch in equal shares (see
            :class:`~rlpyt.replays.episodes.EpisodeReplay`); ``()`` for uniform batches.
        value_target: ``"discounted_return"``, ``"solved"``, ``"td"`` or None (no value head).
        n_step: n of the ``"td"`` target.
        policy_target: ``"action_probs"`` or None (no policy head).
        q_target: ``"qualities"`` or None (no Q head).
        value_loss_coeff, policy_loss_coeff, q_loss_coeff: weights of the heads' losses in
            the one loss that is minimised.
        clip_grad_norm: gradient-norm clip (None: no clipping; the norm is still logged).
        OptimCls, optim_kwargs: the optimizer, ``OptimCls(params, lr=learning_rate,
            **optim_kwargs)``.
        initial_optim_state_dict: optimizer state loaded at initialize.

    The targets must match the network's heads exactly: a head without a target, or a
    target without its head, is an error at :meth:`initialize`.
    """

    def __init__(
        self,
        *,
        discount: float = 0.99,
        learning_rate: float = 1e-3,
        batch_size: int = 64,
        n_updates_per_epoch: int = 100,
        n_precollect_epochs: int = 0,
        replay_capacity: int = 30000,
        replay_hierarchy: tuple = ("solved",),
        value_target: str | None = "discounted_return",
        n_step: int = 10,
        policy_target: str | None = None,
        q_target: str | None = None,
        value_loss_coeff: float = 1.0,
        policy_loss_coeff: float = 1.0,
        q_loss_coeff: float = 1.0,
        clip_grad_norm: float | None = None,
        OptimCls: type = torch.optim.Adam,
        optim_kwargs: dict | None = None,
        initial_optim_state_dict: dict | None = None,
    ):
        super().__init__()
        require_in_range("discount", discount, 0.0, 1.0)
        require_positive("learning_rate", learning_rate)
        targets = dict(value_target=value_target, policy_target=policy_target, q_target=q_target)
        for head in _HEADS.values():
            target = targets[head.keyword]
            if target is not None and target not in head.targets:
                raise ValueError(
                    f"{head.keyword} must be one of {head.targets} or None, got {target!r}"
                )
        if value_target is None and policy_target is None and q_target is None:
            raise ValueError(
                "SupervisedFromSearch: value_target, policy_target and q_target are all None: "
                "nothing to train; set the target of each head of the network"
            )
        for name, coeff in (
            ("value_loss_coeff", value_loss_coeff),
            ("policy_loss_coeff", policy_loss_coeff),
            ("q_loss_coeff", q_loss_coeff),
        ):
            require_non_negative(name, coeff)
        if clip_grad_norm is not None:
            require_positive("clip_grad_norm", clip_grad_norm)
        self.discount = float(discount)
        self.learning_rate = float(learning_rate)
        self._batch_size = require_int_at_least("batch_size", batch_size, 1)
        self.n_updates_per_epoch = require_int_at_least(
            "n_updates_per_epoch", n_updates_per_epoch, 0
        )
        self.n_precollect_epochs = require_int_at_least(
            "n_precollect_epochs", n_precollect_epochs, 0
        )
        self.min_itr_learn = self.n_precollect_epochs
        self.replay_capacity = require_int_at_least("replay_capacity", replay_capacity, 1)
        self.replay_hierarchy = check_hierarchy(replay_hierarchy)
        self.value_target = value_target
        self.n_step = require_int_at_least("n_step", n_step, 1)
        self.policy_target = policy_target
        self.q_target = q_target
        self.value_loss_coeff = float(value_loss_coeff)
        self.policy_loss_coeff = float(policy_loss_coeff)
        self.q_loss_coeff = float(q_loss_coeff)
        self.clip_grad_norm = clip_grad_norm
        self.OptimCls = OptimCls
        self.optim_kwargs = dict(optim_kwargs or {})
        self.initial_optim_state_dict = initial_optim_state_dict
        self.heads = tuple(h for h, head in _HEADS.items() if targets[head.keyword] is not None)
        # Logged: the total loss, the loss of each trained head, the gradient norm, skips.
        self.opt_info_fields = (
            "loss",
            *(_HEADS[h].loss_name for h in self.heads),
            "gradNorm",
            "skipped",
        )
        self.replay = None

    # -- set-up ---------------------------------------------------------------

    def initialize(
        self,
        agent,
        n_itr: int,
        batch_spec,
        mid_batch_reset: bool = False,
        examples=None,
        world_size: int = 1,
        rank: int = 0,
    ):
        """Check the network's heads against the targets; build the replay and optimizer.

        The replay's sampling generator is seeded from the run's (seeded) torch generator.
        """
        if world_size != 1:
            raise ValueError(
                f"SupervisedFromSearch trains in one process, got world_size={world_size}: "
                "run it with the EpisodeRunner"
            )
        self._check_heads(agent)
        self.agent = agent
        self.n_itr = require_int_at_least("n_itr", n_itr, 1)
        self.batch_spec = batch_spec
        self.replay = EpisodeReplay(
            capacity=self.replay_capacity,
            discount=self.discount,
            n_step=self.n_step,
            hierarchy=self.replay_hierarchy,
            seed=int(torch.randint(0, 2**31 - 1, ()).item()),
        )
        self._opt = build_optimizer(
            self.OptimCls, agent.parameters(), self.learning_rate, self.optim_kwargs
        )
        self.optimizer = self._opt.optimizer
        if self.initial_optim_state_dict is not None:
            self.optimizer.load_state_dict(self.initial_optim_state_dict)

    def _check_heads(self, agent) -> None:
        model = agent.model
        if model is None:
            raise ValueError(
                f"SupervisedFromSearch trains the agent's network, but {type(agent).__name__} "
                "has none (ModelCls=None): give the agent a PlanningMlpModel"
            )
        heads = getattr(model, "heads", None)  # PlanningMlpModel's declared outputs
        if heads is None:
            raise ValueError(
                f"SupervisedFromSearch needs a model that declares its output heads (a tuple "
                f"`heads`, as PlanningMlpModel does); {type(model).__name__} has none"
            )
        for name, head in _HEADS.items():
            trained = name in self.heads
            if trained and name not in heads:
                target = getattr(self, head.keyword)
                raise ValueError(
                    f"SupervisedFromSearch: {head.keyword}={target!r} trains the {name!r} head, "
                    f"but the network's heads are {tuple(heads)}: add {name!r} to the model's "
                    f"heads, or set {head.keyword}=None"
                )
            if not trained and name in heads:
                raise ValueError(
                    f"SupervisedFromSearch: the network's {name!r} head has no target "
                    f"({head.keyword}=None): set {head.keyword} (one of {head.targets}) or drop "
                    "the head from the model"
                )

    # -- one epoch ----------------------------------------------------------------

    def optimize_agent(self, itr: int, samples) -> OptInfo:
        """Add the epoch's episodes (``samples``, a list of ``Episode``) to the replay, then,
        from epoch ``n_precollect_epochs`` on, take ``n_updates_per_epoch`` gradient steps
        (none while the replay holds no transition: every episode so far had no step)."""
        for episode in samples:
            self._check_episode(episode)
        self.replay.add_episodes(samples)
        opt_info = OptInfo(*([] for _ in OptInfo._fields))
        if itr < self.min_itr_learn or self.n_updates_per_epoch == 0 or len(self.replay) == 0:
            return opt_info
        to_device = self.agent.device.type != "cpu"  # replay batches are CPU tensors
        steps = []
        for _ in range(self.n_updates_per_epoch):
            batch = self.replay.sample_batch(self.batch_size)
            if to_device:
                batch = buffer_to(batch, device=self.agent.device)
            loss, terms = self.loss(batch)
            (grad_norm,), applied = self.guard.step(
                itr, [(self._opt, loss)], self._max_grad_norm(), terms=terms
            )
            if applied:
                self.update_counter += 1
            steps.append((loss.detach(), *(t.detach() for t in terms.values()), grad_norm))
            opt_info.skipped.append(0.0 if applied else 1.0)
        # Diagnostics to floats once per epoch, not a host sync per step.
        columns = torch.stack([torch.stack(step) for step in steps]).T.tolist()
        names = ["loss", *(_HEADS[h].loss_name for h in self.heads), "gradNorm"]
        for name, values in zip(names, columns, strict=True):
            getattr(opt_info, name).extend(values)
        return opt_info

    def _max_grad_norm(self) -> float:
        return float("inf") if self.clip_grad_norm is None else self.clip_grad_norm

    def _check_episode(self, episode) -> None:
        """The search reported what the policy and Q targets are made of."""
        for target, field in ((self.policy_target, "action_probs"), (self.q_target, "qualities")):
            if target is not None and field not in getattr(episode.agent_info, "_fields", ()):
                raise ValueError(
                    f"SupervisedFromSearch: {target!r} target, but the episodes' agent_info "
                    f"({type(episode.agent_info).__name__}) has no {field!r} field: the agent "
                    "must report PlanningAgentInfo"
                )

    # -- the loss -----------------------------------------------------------------

    def value_targets(self, samples) -> torch.Tensor:
        """The ``[N]`` value targets of a replay batch (see the module docstring)."""
        if self.value_target == "discounted_return":
            return samples.discounted_return
        if self.value_target == "solved":
            return samples.solved
        # "td": bootstrap with the current network; bootstrap_discount is 0 where the
        # window ends in a terminal state and discount^m through a time-limit cut.
        with torch.no_grad():
            bootstrap = self.agent(samples.bootstrap_observation)["value"]
        return samples.n_step_return + samples.bootstrap_discount * bootstrap

    def loss(self, samples):
        """``(loss, terms)``: the weighted sum of the heads' losses, and each (named as in
        ``OptInfo``) as a scalar tensor, for a batch of
        :class:`~rlpyt.replays.collections.EpisodeSamples`."""
        outputs = self.agent(samples.observation)
        terms = {}
        total = 0.0
        if self.value_target is not None:
            terms["valueLoss"] = F.mse_loss(outputs["value"], self.value_targets(samples))
            total = total + self.value_loss_coeff * terms["valueLoss"]
        if self.policy_target is not None:
            log_probs = F.log_softmax(outputs["policy"], dim=-1)
            target = samples.agent_info.action_probs
            terms["policyLoss"] = -(target * log_probs).sum(dim=-1).mean()
            total = total + self.policy_loss_coeff * terms["policyLoss"]
        if self.q_target is not None:
            target = samples.agent_info.qualities
            rated = torch.isfinite(target)
            # Actions the search did not rate (NaN) give no error; a batch without a rated
            # action gives a loss of 0.
            error = torch.where(rated, outputs["q"] - target.nan_to_num(), 0.0)
            terms["qLoss"] = (error**2).sum() / rated.sum().clamp(min=1)
            total = total + self.q_loss_coeff * terms["qLoss"]
        return total, terms

    # -- saving and resuming --------------------------------------------------------

    def state_dict(self) -> dict:
        """The base state plus the whole replay (episodes and its generator)."""
        return dict(super().state_dict(), replay=self.replay.state_dict())

    def load_state_dict(self, state_dict: dict):
        super().load_state_dict(state_dict)
        self.replay.load_state_dict(state_dict["replay"])
