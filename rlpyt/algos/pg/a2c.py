"""Advantage actor-critic (Mnih et al. 2016, synchronous variant)."""

import torch

from rlpyt.algos.pg.base import LossTerms, OptInfo, PolicyGradientAlgo
from rlpyt.utils.tensor import valid_mean

__all__ = ["A2C"]


class A2C(PolicyGradientAlgo):
    """One gradient step per batch on the advantage-weighted log-likelihood.

    Args:
        discount: gamma, in [0, 1].
        learning_rate: > 0.
        value_loss_coeff: weight of ``0.5 * (V - return)^2``.
        entropy_loss_coeff: weight of the entropy bonus.
        OptimCls: optimizer class, built as ``OptimCls(params, lr=learning_rate, **optim_kwargs)``.
        optim_kwargs: extra optimizer arguments.
        clip_grad_norm: max gradient norm, > 0.
        initial_optim_state_dict: optimizer state loaded at initialize.
        gae_lambda: lambda in [0, 1]; 1 gives plain discounted returns.
        normalize_advantage: standardise advantages over the (valid) batch.
        linear_lr_schedule: decay the learning rate linearly to 0 over training.
    """

    def __init__(
        self,
        discount: float = 0.99,
        learning_rate: float = 0.001,
        value_loss_coeff: float = 0.5,
        entropy_loss_coeff: float = 0.01,
        OptimCls: type = torch.optim.Adam,
        optim_kwargs: dict | None = None,
        clip_grad_norm: float = 1.0,
        initial_optim_state_dict: dict | None = None,
        gae_lambda: float = 1,
        normalize_advantage: bool = False,
        linear_lr_schedule: bool = False,
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

    def optimize_agent(self, itr: int, samples) -> OptInfo:
        """One gradient step on the whole ``[T, B]`` batch."""
        self._apply_lr_schedule(itr)
        if self.agent.updates_obs_rms:
            done = samples.env.done
            self._update_obs_rms(samples.env.observation, self._valid(done), done)
        opt_info = self.empty_opt_info()
        self._gradient_step(itr, self.loss_terms(samples), opt_info)
        return opt_info

    def loss(self, samples):
        """``(loss, entropy, perplexity)`` scalar tensors for a ``[T, B]`` batch."""
        terms = self.loss_terms(samples)
        return self.total_loss(terms), terms.entropy, terms.perplexity

    def loss_terms(self, samples) -> LossTerms:
        """The parts of the A2C loss for a ``[T, B]`` batch.

        ``pi_loss = -mean(log pi(a_t|s_t) * A_t)`` over valid steps.
        """
        init_rnn_state = None
        if self.agent.recurrent:
            # The state before the batch's first step, one per env column: [B, N, H].
            init_rnn_state = samples.agent.agent_info.prev_rnn_state[0]
        dist_info, value = self._agent_forward(self.agent_inputs(samples), init_rnn_state)
        return_, advantage, valid = self.process_returns(samples)
        logli = self.agent.distribution.log_likelihood(samples.agent.action, dist_info)
        pi_loss = -valid_mean(logli * advantage, valid)
        value_loss, entropy_loss, entropy, perplexity = self._value_and_entropy_terms(
            dist_info, value, return_, valid
        )
        return LossTerms(pi_loss, value_loss, entropy_loss, entropy, perplexity)
