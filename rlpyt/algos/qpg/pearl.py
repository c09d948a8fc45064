"""PEARL: off-policy meta-RL with probabilistic context variables (Rakelly et al. 2019).

SAC with twin critics on ``[observation, z]``, trained on a meta-batch of training
tasks per gradient step (:class:`~rlpyt.agents.qpg.pearl_agent.PearlAgent`). Each
training task has two replays (:class:`~rlpyt.replays.task.TaskReplay`): an *RL replay*
with all its data and an *encoder replay* with only its latest prior/posterior data
(the sampler marks which data go there and when it is cleared). Per gradient step::

    tasks T_1..T_M ~ U(train tasks)   (M = meta_batch, with replacement)
    c_m   ~ encoder replay of T_m      (embedding_batch_size transitions)
    b_m   ~ RL replay of T_m           (batch_size transitions)
    q(z | c_m) = prod_n N(mu(c_mn), sigma^2(c_mn)),   z_m = mu + sigma * eps
    y     = reward_scale * r + discount * (1 - terminal) * (min_i Q'_i(s', a', z_m) - alpha log pi(a'|s', z_m))
    L_Q   = E[(Q_1(s, a, z_m) - y)^2] + E[(Q_2(s, a, z_m) - y)^2]
    L_enc = L_Q + kl_lambda * sum_m KL(q(z | c_m) || N(0, I))
    L_pi  = E[alpha log pi(a~|s, zbar_m) - min_i Q_i(s, a~, zbar_m)] + mean_reg E[mu^2] + std_reg E[log_std^2]

with ``zbar = stop_gradient(z)``: the encoder learns from the critics' Bellman error
and the KL only (the rlpyt fork let the actor's loss reach it instead and detached
it from the critic's). ``terminal`` is a real termination: time-limit cuts bootstrap.
The paper's SAC had a state-value network and alpha = 1 with ``reward_scale`` as the
temperature; here the twin-Q SAC of :mod:`rlpyt.algos.qpg.sac` with ``fixed_alpha=1``
by default (``fixed_alpha=None`` learns alpha towards ``target_entropy``). The Q loss
sums the two critics' mean squared errors and the KL sums over the meta-batch, as
in the paper's code, so ``kl_lambda`` has the paper's scale. With
``sparse_rewards`` on the agent the context carries the sparse reward while the
critics learn from the env's reward.
"""

from collections import namedtuple

import numpy as np
import torch

from rlpyt.algos.base import RlAlgorithm
from rlpyt.algos.optim import build_optimizer
from rlpyt.algos.qpg.base import min_q
from rlpyt.models.qpg.pearl import latent_kl
from rlpyt.replays.task import TaskReplay, Transition
from rlpyt.utils.buffer import buffer_to, torchify_buffer
from rlpyt.utils.validation import (
    require_in_range,
    require_int_at_least,
    require_non_negative,
    require_positive,
)

__all__ = ["PEARL", "OptInfo", "MetaExamples", "TaskSamples", "PosteriorBatch"]

OptInfo = namedtuple(
    "OptInfo",
    ["qLoss", "klDiv", "piLoss", "alpha", "zMeanAbs", "zVariance", "qGradNorm",
     "encoderGradNorm", "piGradNorm", "skipped"],
)  # fmt: skip

MetaExamples = namedtuple("MetaExamples", ["transition", "n_train_tasks"])
"""What a meta sampler gives the algorithm at initialize: one :data:`Transition` and the
number of training tasks."""

TaskSamples = namedtuple("TaskSamples", ["task", "transitions", "to_encoder", "clear_encoder"])
"""Data of one training task (index ``task``): ``[N]`` transitions for its RL replay, also
for its encoder replay when ``to_encoder``, which is cleared first when ``clear_encoder``."""

PosteriorBatch = namedtuple("PosteriorBatch", ["z", "mean", "variance", "kl"])
"""z ``[M, L]`` drawn from q(z | c) (with gradients), its mean and variance, KL ``[M]``."""


class PEARL(RlAlgorithm):
    """PEARL's meta-training (module docstring); paper defaults.

    Args:
        discount: gamma (0.99; the sparse point robot: 0.9).
        batch_size: RL transitions per task per gradient step (256).
        embedding_batch_size: context transitions per task per gradient step (100).
        meta_batch: tasks per gradient step (16).
        num_train_steps_per_itr: gradient steps per iteration (2000).
        replay_size: transitions each task's replays hold (1e6).
        learning_rate: of the policy, the critics and the encoder (3e-4).
        kl_lambda: weight of the KL term (0.1).
        reward_scale: multiplies rewards in the critic target (5).
        fixed_alpha: the entropy temperature (1.0); None learns it.
        target_entropy: "auto" (minus the action dimension) or a number (learned alpha).
        target_update_tau: Polyak rate of the target critics (0.005).
        policy_mean_reg, policy_std_reg: weights of the policy's mean and log-std
            penalties (1e-3 each, the paper's code).
        clip_grad_norm: gradient norm clip of each optimizer.
        OptimCls, optim_kwargs: optimizer class (Adam) and extra arguments.
        snapshot_replay: keep the replays in snapshots (needed for exact resume).
    """

    opt_info_fields = tuple(OptInfo._fields)

    def __init__(
        self,
        *,
        discount: float = 0.99,
        batch_size: int = 256,
        embedding_batch_size: int = 100,
        meta_batch: int = 16,
        num_train_steps_per_itr: int = 2000,
        replay_size: int = int(1e6),
        learning_rate: float = 3e-4,
        kl_lambda: float = 0.1,
        reward_scale: float = 5.0,
        fixed_alpha: float | None = 1.0,
        target_entropy="auto",
        target_update_tau: float = 0.005,
        policy_mean_reg: float = 1e-3,
        policy_std_reg: float = 1e-3,
        clip_grad_norm: float = 1e9,
        OptimCls: type = torch.optim.Adam,
        optim_kwargs: dict | None = None,
        snapshot_replay: bool = True,
    ):
        super().__init__()
        require_in_range("discount", discount, 0.0, 1.0)
        self._batch_size = require_int_at_least("batch_size", batch_size, 1)
        self.embedding_batch_size = require_int_at_least(
            "embedding_batch_size", embedding_batch_size, 1
        )
        self.meta_batch = require_int_at_least("meta_batch", meta_batch, 1)
        self.num_train_steps_per_itr = require_int_at_least(
            "num_train_steps_per_itr", num_train_steps_per_itr, 0
        )
        self.replay_size = require_int_at_least("replay_size", replay_size, 1)
        for name, value in dict(learning_rate=learning_rate, reward_scale=reward_scale,
                                clip_grad_norm=clip_grad_norm).items():  # fmt: skip
            require_positive(name, value)
        for name, value in dict(kl_lambda=kl_lambda, policy_mean_reg=policy_mean_reg,
                                policy_std_reg=policy_std_reg).items():  # fmt: skip
            require_non_negative(name, value)
        require_in_range("target_update_tau", target_update_tau, 0.0, 1.0, low_inclusive=False)
        if fixed_alpha is not None:
            require_positive("fixed_alpha", fixed_alpha)
        if target_entropy != "auto" and not isinstance(target_entropy, int | float):
            raise ValueError(f"target_entropy must be 'auto' or a number, got {target_entropy!r}")
        self.discount = discount
        self.learning_rate = learning_rate
        self.kl_lambda = kl_lambda
        self.reward_scale = reward_scale
        self.fixed_alpha = fixed_alpha
        self.target_entropy = target_entropy
        self.target_update_tau = target_update_tau
        self.policy_mean_reg = policy_mean_reg
        self.policy_std_reg = policy_std_reg
        self.clip_grad_norm = clip_grad_norm
        self.OptimCls = OptimCls
        self.optim_kwargs = dict(optim_kwargs or {})
        self.snapshot_replay = bool(snapshot_replay)
        self.optimizers = {}
        self.rl_replays = []
        self.encoder_replays = []
        self.rng = None

    # -- set-up ---------------------------------------------------------------------

    def initialize(self, agent, n_itr, batch_spec=None, mid_batch_reset=False, examples=None,
                   world_size=1, rank=0):  # fmt: skip
        """Bind the agent, build one RL and one encoder replay per training task
        (``examples``: :data:`MetaExamples`) and the optimizers."""
        if not isinstance(examples, MetaExamples):
            raise TypeError(
                "PEARL.initialize needs examples=MetaExamples(transition, n_train_tasks) from a "
                f"meta sampler (rlpyt.samplers.meta), got {type(examples).__name__}"
            )
        if world_size != 1:
            raise ValueError("PEARL trains in one process (world_size 1)")
        self.agent = agent
        self.n_itr = n_itr
        self.batch_spec = batch_spec
        self.rl_replays = [TaskReplay(examples.transition, self.replay_size)
                           for _ in range(examples.n_train_tasks)]  # fmt: skip
        self.encoder_replays = [TaskReplay(examples.transition, self.replay_size)
                                for _ in range(examples.n_train_tasks)]  # fmt: skip
        # The algorithm's own stream: task and transition draws of the meta-batches.
        self.rng = np.random.default_rng(torch.initial_seed() % 2**63)
        action_dim = agent.env_spaces.action.shape[0]
        self._target_entropy = (
            -float(action_dim) if self.target_entropy == "auto" else float(self.target_entropy)
        )
        initial = 1.0 if self.fixed_alpha is None else self.fixed_alpha
        self.log_alpha = (
            torch.tensor(float(initial), device=agent.device).log()
            .requires_grad_(self.fixed_alpha is None)
        )  # fmt: skip
        build = lambda params: build_optimizer(  # noqa: E731
            self.OptimCls, params, self.learning_rate, self.optim_kwargs
        )
        self.optimizers = dict(
            pi=build(agent.pi_parameters()),
            q=build(agent.q_parameters()),
            encoder=build(agent.encoder_parameters()),
        )
        if self.fixed_alpha is None:
            self.optimizers["alpha"] = build([self.log_alpha])

    def torch_optimizers(self) -> list:
        return [opt.optimizer for opt in self.optimizers.values()]

    # -- data -------------------------------------------------------------------------

    def append_samples(self, samples) -> None:
        """Add a list of :data:`TaskSamples` to the replays, in order."""
        for task_samples in samples:
            self.rl_replays[task_samples.task].append(task_samples.transitions)
            if task_samples.clear_encoder:
                self.encoder_replays[task_samples.task].clear()
            if task_samples.to_encoder:
                self.encoder_replays[task_samples.task].append(task_samples.transitions)

    def sample_meta_batch(self):
        """``(context [M, E] Transition, rl batch [M, B] Transition)`` torch tensors on the
        agent's device, for ``meta_batch`` tasks drawn with replacement among those with data."""
        ready = [i for i, (rl, enc) in enumerate(zip(self.rl_replays, self.encoder_replays))
                 if len(rl) and len(enc)]  # fmt: skip
        tasks = self.rng.choice(ready, size=self.meta_batch)
        context = [
            self.encoder_replays[t].sample(self.embedding_batch_size, self.rng) for t in tasks
        ]
        batch = [self.rl_replays[t].sample(self.batch_size, self.rng) for t in tasks]
        stack = lambda items: torchify_buffer(  # noqa: E731
            Transition(*(np.stack(field) for field in zip(*items)))
        )
        context, batch = stack(context), stack(batch)
        if self.agent.device.type != "cpu":
            context, batch = buffer_to((context, batch), self.agent.device)
        return context, batch

    def ready_to_learn(self) -> bool:
        return any(len(rl) and len(enc) for rl, enc in zip(self.rl_replays, self.encoder_replays))

    # -- losses (separate, so tests can evaluate them on hand-built batches) ----------------

    def posterior_batch(self, context) -> PosteriorBatch:
        """z per task from the context ``[M, E]`` (with gradients into the encoder)."""
        agent = self.agent
        posterior = agent.posterior(agent.transition_context(context))
        z = agent.rsample(posterior)
        return PosteriorBatch(z, posterior.mean, posterior.variance, latent_kl(posterior))

    def q_loss(self, batch, z: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """Twin-critic Bellman loss on ``[M, B]`` ``batch`` with z ``[M, L]``; gradients reach
        the critics and, through z, the encoder."""
        agent = self.agent
        z = z.unsqueeze(1)  # [M, 1, L], broadcast over the batch
        action = agent.to_model_action(batch.action)
        q1, q2 = agent.q(agent.with_z(batch.observation, z), None, None, action)
        with torch.no_grad():
            next_input = agent.with_z(batch.next_observation, z.detach())
            next_action, next_log_pi, _ = agent.pi(next_input, None, None)
            target_q1, target_q2 = agent.target_q(next_input, None, None, next_action)
            target_v = min_q(target_q1, target_q2) - alpha * next_log_pi
            # Only a termination stops the bootstrap; a time-limit cut does not.
            not_terminal = 1.0 - batch.terminal.to(target_v.dtype)
            y = self.reward_scale * batch.reward + self.discount * not_terminal * target_v
        return ((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean()

    def kl_loss(self, posterior: PosteriorBatch) -> torch.Tensor:
        return self.kl_lambda * posterior.kl.sum()

    def pi_loss(self, batch, z: torch.Tensor, alpha: torch.Tensor):
        """``(policy loss, log pi)`` with reparameterised actions; z is detached here, so
        the actor's loss never reaches the encoder."""
        agent = self.agent
        policy_input = agent.with_z(batch.observation, z.detach().unsqueeze(1))
        new_action, log_pi, dist_info = agent.pi(policy_input, None, None)
        q1, q2 = agent.q(policy_input, None, None, new_action)
        loss = (alpha * log_pi - min_q(q1, q2)).mean()
        loss = loss + self.policy_mean_reg * (dist_info.mean**2).mean()
        loss = loss + self.policy_std_reg * (dist_info.log_std**2).mean()
        return loss, log_pi

    # -- training -----------------------------------------------------------------------

    def optimize_agent(self, itr: int, samples=None):
        """Append ``samples`` (list of :data:`TaskSamples`), then take
        ``num_train_steps_per_itr`` gradient steps on meta-batches."""
        if samples:
            self.append_samples(samples)
        opt_info = OptInfo(*([] for _ in OptInfo._fields))
        if not self.ready_to_learn():
            return opt_info
        values = []
        for _ in range(self.num_train_steps_per_itr):
            skipped_before = self.guard.skipped_steps
            step_values = self.train_step(itr, *self.sample_meta_batch())
            step_values["skipped"] = torch.tensor(float(self.guard.skipped_steps > skipped_before))
            values.append(step_values)
        # One host sync per iteration for the diagnostics.
        names = [n for n in OptInfo._fields if all(n in v for v in values)]
        table = torch.stack(
            [torch.stack([v[n].detach().float().cpu() for n in names]) for v in values]
        )
        for name, column in zip(names, table.unbind(1), strict=True):
            getattr(opt_info, name).extend(column.tolist())
        return opt_info

    def train_step(self, itr: int, context, batch) -> dict:
        """One gradient step of critics + encoder, then of the policy (and alpha)."""
        alpha = self.log_alpha.detach().exp()
        posterior = self.posterior_batch(context)
        q_loss = self.q_loss(batch, posterior.z, alpha)
        kl_loss = self.kl_loss(posterior)
        # One backward: the critics get dL_Q, the encoder dL_Q + kl_lambda dKL.
        (q_norm, encoder_norm), applied = self.guard.step(
            itr,
            [(self.optimizers["q"], q_loss), (self.optimizers["encoder"], kl_loss)],
            self.clip_grad_norm,
            terms=dict(qLoss=q_loss, klLoss=kl_loss),
            norm_names=["qGradNorm", "encoderGradNorm"],
            own_params_only=True,
            name="q",
        )
        values = dict(
            qLoss=q_loss, klDiv=posterior.kl.mean(), alpha=alpha, qGradNorm=q_norm,
            encoderGradNorm=encoder_norm, zMeanAbs=posterior.mean.abs().mean(),
            zVariance=posterior.variance.mean(),
        )  # fmt: skip
        if not applied:
            return values
        pi_loss, log_pi = self.pi_loss(batch, posterior.z, alpha)
        pairs = [(self.optimizers["pi"], pi_loss)]
        if self.fixed_alpha is None:
            alpha_loss = -(self.log_alpha * (log_pi.detach() + self._target_entropy)).mean()
            pairs.append((self.optimizers["alpha"], alpha_loss))
        norms, _ = self.guard.step(
            itr, pairs, self.clip_grad_norm, terms=dict(piLoss=pi_loss),
            norm_names=["piGradNorm", "alphaGradNorm"][: len(pairs)], own_params_only=True,
            name="pi",
        )  # fmt: skip
        values.update(piLoss=pi_loss, piGradNorm=norms[0])
        self.update_counter += 1
        self.agent.update_target(tau=self.target_update_tau)
        return values

    # -- saving and resuming ------------------------------------------------------------------

    def optim_state_dict(self) -> dict:
        return {name: opt.optimizer.state_dict() for name, opt in self.optimizers.items()}

    def load_optim_state_dict(self, state_dict: dict):
        for name, opt in self.optimizers.items():
            opt.optimizer.load_state_dict(state_dict[name])

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(
            log_alpha=self.log_alpha.detach().clone(),
            rng=self.rng.bit_generator.state,
            replays=(
                dict(
                    rl=[r.state_dict() for r in self.rl_replays],
                    encoder=[r.state_dict() for r in self.encoder_replays],
                )
                if self.snapshot_replay
                else None
            ),
        )
        return state

    def load_state_dict(self, state_dict: dict):
        super().load_state_dict(state_dict)
        with torch.no_grad():
            self.log_alpha.copy_(state_dict["log_alpha"])
        self.rng.bit_generator.state = state_dict["rng"]
        replays = state_dict["replays"]
        if replays is not None:
            for replay, state in zip(self.rl_replays, replays["rl"], strict=True):
                replay.load_state_dict(state)
            for replay, state in zip(self.encoder_replays, replays["encoder"], strict=True):
                replay.load_state_dict(state)
