"""Proximal policy optimization with the clipped surrogate (Schulman et al. 2017)."""

import torch

from rlpyt.algos.pg.base import LossTerms, OptInfo, PolicyGradientAlgo
from rlpyt.distributions.base import Distribution
from rlpyt.utils.buffer import buffer_func
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.tensor import valid_mean
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = ["PPO", "LossInputs"]

LossInputs = namedarraytuple(
    "LossInputs", ["agent_inputs", "action", "return_", "advantage", "valid", "old_dist_info"]
)


def _flatten_columns(x: torch.Tensor, size: int) -> torch.Tensor:
    """``[T, B, ...]`` -> ``[B * T, ...]``, env column after env column."""
    return x.transpose(0, 1).reshape((size,) + tuple(x.shape[2:]))


class PPO(PolicyGradientAlgo):
    """Several epochs of minibatch SGD per batch on the clipped surrogate.

    Feed-forward agents draw minibatches of single steps from all ``T * B``;
    recurrent agents draw whole env columns (sequences of length ``T``), each
    starting from the RNN state stored before the batch's first step.

    With ``linear_lr_schedule`` both the learning rate and ``ratio_clip`` decay
    linearly from their initial values (iteration 0) to 0 (iteration n_itr).

    Args:
        minibatches: minibatches per epoch (>= 1); must divide ``T * B``
            (``B`` for recurrent agents).
        epochs: passes over the batch (>= 1).
        ratio_clip: epsilon of the clipped ratio ``[1 - eps, 1 + eps]``, > 0.
        Others: as for :class:`rlpyt.algos.pg.a2c.A2C`.
    """

    def __init__(
        self,
        discount: float = 0.99,
        learning_rate: float = 0.001,
        value_loss_coeff: float = 1.0,
        entropy_loss_coeff: float = 0.01,
        OptimCls: type = torch.optim.Adam,
        optim_kwargs: dict | None = None,
        clip_grad_norm: float = 1.0,
        initial_optim_state_dict: dict | None = None,
        gae_lambda: float = 1,
        minibatches: int = 4,
        epochs: int = 4,
        ratio_clip: float = 0.1,
        linear_lr_schedule: bool = True,
        normalize_advantage: bool = False,
    ):
        super().__init__(
            discount=discount,
            learning_rate=learning_rate,
            value_loss_coeff=value_loss_coeff,
            entropy_loss_coeff=entropy_loss_coeff,
            OptimCls=OptimCls,
            optim_kwargs=optim_kwargs,
            clip_grad_norm=clip_grad_norm,
            initial_optim_state_dict=initial_optim_state_dict,
            gae_lambda=gae_lambda,
            normalize_advantage=normalize_advantage,
            linear_lr_schedule=linear_lr_schedule,
        )
        minibatches = require_int_at_least("minibatches", minibatches, 1)
        epochs = require_int_at_least("epochs", epochs, 1)
        require_positive("ratio_clip", ratio_clip)
        self.minibatches = minibatches
        self.epochs = epochs
        self.ratio_clip = ratio_clip
        self.current_ratio_clip = ratio_clip  # the scheduled value in use
        self._generator = None

    def initialize(
        self, agent, n_itr, batch_spec, mid_batch_reset=False, examples=None, world_size=1, rank=0
    ):
        T, B, m = batch_spec.T, batch_spec.B, self.minibatches
        if agent.recurrent and B % m:
            raise ValueError(
                f"PPO with a recurrent agent splits the batch into minibatches of whole env "
                f"columns: batch_B = {B} is not divisible by minibatches = {m} "
                f"({B} % {m} = {B % m}); choose minibatches dividing {B}"
            )
        if not agent.recurrent and (T * B) % m:
            raise ValueError(
                f"PPO batch size batch_T * batch_B = {T} * {B} = {T * B} is not divisible by "
                f"minibatches = {m} ({T * B} % {m} = {(T * B) % m}); choose minibatches "
                f"dividing {T * B}"
            )
        super().initialize(agent, n_itr, batch_spec, mid_batch_reset, examples, world_size, rank)
        self._batch_size = batch_spec.size // m
        # The shuffling generator is owned here and seeded from the run's torch
        # seed (and rank), so runs repeat exactly; its state is in state_dict.
        self._generator = torch.Generator()
        self._generator.manual_seed((torch.initial_seed() + 7919 * rank) % 2**63)

    def ratio_clip_at(self, itr: int) -> float:
        return self.ratio_clip * self.schedule_fraction(itr)

    def optimize_agent(self, itr: int, samples) -> OptInfo:
        """``epochs`` x ``minibatches`` gradient steps on one ``[T, B]`` batch."""
        self._apply_lr_schedule(itr)
        self.current_ratio_clip = self.ratio_clip_at(itr)
        recurrent = self.agent.recurrent
        agent_inputs = self.agent_inputs(samples)
        return_, advantage, valid = self.process_returns(samples)
        self._update_obs_rms(agent_inputs.observation, valid, samples.env.done)
        loss_inputs = LossInputs(
            agent_inputs=agent_inputs,
            action=samples.agent.action,
            return_=return_,
            advantage=advantage,
            valid=valid,
            old_dist_info=samples.agent.agent_info.dist_info,
        )
        # Stored as [T, B, N, H]; the agent takes the first step's [B, N, H].
        init_rnn_state = samples.agent.agent_info.prev_rnn_state[0] if recurrent else None
        T, B = samples.env.reward.shape[:2]
        device = samples.env.reward.device
        batch_size = B if recurrent else T * B
        mb_size = batch_size // self.minibatches
        # The old policy's log-likelihoods are fixed for the whole batch: computed
        # once here, not in every minibatch of every epoch (same values).
        old_logli = self._old_log_likelihood(loss_inputs.action, loss_inputs.old_dist_info)
        if not recurrent:
            # Flat index i is step (i % T) of env column (i // T): flattened once
            # here in that order, each minibatch is one gather per field instead
            # of two index computations and a 2-D gather per field per minibatch.
            loss_inputs, old_logli = buffer_func((loss_inputs, old_logli), _flatten_columns, T * B)
        opt_info = self.empty_opt_info()
        for _ in range(self.epochs):
            perm = torch.randperm(batch_size, generator=self._generator).to(device)
            for start in range(0, batch_size, mb_size):
                idxs = perm[start : start + mb_size]
                if recurrent:
                    mb_inputs = loss_inputs[:, idxs]
                    rnn_state = init_rnn_state[idxs]
                    mb_old_logli = None if old_logli is None else old_logli[:, idxs]
                else:
                    mb_inputs = loss_inputs[idxs]
                    rnn_state = None
                    mb_old_logli = None if old_logli is None else old_logli[idxs]
                terms = self.loss_terms(
                    *mb_inputs, init_rnn_state=rnn_state, old_log_likelihood=mb_old_logli
                )
                self._gradient_step(itr, terms, opt_info)
        return opt_info

    def loss(
        self, agent_inputs, action, return_, advantage, valid, old_dist_info, init_rnn_state=None
    ):
        """``(loss, entropy, perplexity)`` scalar tensors; see :meth:`loss_terms`."""
        terms = self.loss_terms(
            agent_inputs, action, return_, advantage, valid, old_dist_info, init_rnn_state
        )
        return self.total_loss(terms), terms.entropy, terms.perplexity

    def _old_log_likelihood(self, action, old_dist_info):
        """``log pi_old(a|s)`` of the batch, or None if the distribution has its own ratio."""
        dist = self.agent.distribution
        if type(dist).likelihood_ratio is not Distribution.likelihood_ratio:
            return None
        with torch.no_grad():
            return dist.log_likelihood(action, old_dist_info)

    def loss_terms(
        self,
        agent_inputs,
        action,
        return_,
        advantage,
        valid,
        old_dist_info,
        init_rnn_state=None,
        old_log_likelihood=None,
    ) -> LossTerms:
        """The parts of the PPO loss for a minibatch (any leading dims, e.g. ``[T, B]``).

        ``pi_loss = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A))`` with
        ``r = pi(a|s) / pi_old(a|s)`` and ``eps = current_ratio_clip`` (eq. 7).
        ``old_log_likelihood``, if given, is ``log pi_old(a|s)`` precomputed
        from ``old_dist_info`` (the ratio is then the same, for less work).
        """
        dist_info, value = self._agent_forward(agent_inputs, init_rnn_state)
        dist = self.agent.distribution
        if old_log_likelihood is not None:
            # Distribution.likelihood_ratio's formula, with the old term given.
            ratio = torch.exp(dist.log_likelihood(action, dist_info) - old_log_likelihood)
        else:
            ratio = dist.likelihood_ratio(
                action, old_dist_info=old_dist_info, new_dist_info=dist_info
            )
        eps = self.current_ratio_clip
        surr_1 = ratio * advantage
        surr_2 = torch.clamp(ratio, 1.0 - eps, 1.0 + eps) * advantage
        pi_loss = -valid_mean(torch.min(surr_1, surr_2), valid)
        value_loss, entropy_loss, entropy, perplexity = self._value_and_entropy_terms(
            dist_info, value, return_, valid
        )
        return LossTerms(pi_loss, value_loss, entropy_loss, entropy, perplexity)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["shuffle_generator"] = self._generator.get_state()
        return state

    def load_state_dict(self, state_dict: dict):
        super().load_state_dict(state_dict)
        self._generator.set_state(state_dict["shuffle_generator"])
