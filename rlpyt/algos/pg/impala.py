"""IMPALA: actor-critic with V-trace off-policy correction (Espeholt et al. 2018).

The samples carry the behaviour policy's ``agent_info.dist_info`` (what the actor
sampled from); the learner re-evaluates the batch with its current policy pi and
corrects for the lag with V-trace (:func:`rlpyt.algos.utils.vtrace_from_importance_weights`).
In the synchronous runners (``MinibatchRl`` with any sampler) the learner's policy is the
behaviour policy, so ``pi/mu = 1`` and IMPALA is an on-policy actor-critic with
``lambda = 1`` returns; the correction matters with asynchronous sampling.

Defects of some public ports not repeated here (pytorchrl's ``vtrace_buffer.py``): the
deltas use rewards, not computed returns; ``gamma V(x_{t+1})`` is masked at ``done`` (and
taken from the final observation at a time-limit cut); advantages are not normalised.
"""

from collections import namedtuple

import torch

from rlpyt.algos.pg.base import LossTerms, OptInfo, PolicyGradientAlgo
from rlpyt.algos.utils import VTraceReturns, vtrace_from_importance_weights
from rlpyt.utils.tensor import valid_mean
from rlpyt.utils.validation import require_in_range, require_non_negative, require_positive

__all__ = ["IMPALA", "ImpalaOptInfo", "ImpalaLossTerms", "valid_sum"]

# OptInfo plus rho: the mean importance weight pi/mu (unclipped) over the batch's valid steps.
ImpalaOptInfo = namedtuple("ImpalaOptInfo", OptInfo._fields + ("rho",))
# LossTerms plus rho (a diagnostic, no gradient).
ImpalaLossTerms = namedtuple("ImpalaLossTerms", LossTerms._fields + ("rho",))

# monobeast: RMSprop(lr, alpha=0.99, eps=0.01, momentum=0).
_RMSPROP_KWARGS = dict(alpha=0.99, eps=0.01, momentum=0.0)


def valid_sum(tensor: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Sum of ``tensor`` over the steps where ``valid`` is nonzero (all when None)."""
    return tensor.sum() if valid is None else (tensor * valid.to(tensor.dtype)).sum()


class IMPALA(PolicyGradientAlgo):
    """One gradient step per ``[T, B]`` batch on the V-trace actor-critic loss.

    ::

        loss = - sum_t log pi(a_t|x_t) A_t                        (A_t: V-trace pg advantage)
               + value_loss_coeff * sum_t 0.5 (v_t - V(x_t))^2    (v_t: V-trace target)
               - entropy_loss_coeff * sum_t H(pi(.|x_t))

    summed over the batch's valid steps, not averaged, as TorchBeast's monobeast (its
    learning rate and gradient-norm clip are calibrated for sums). The defaults are
    monobeast's: baseline cost 0.5, entropy cost 0.0006, RMSprop lr 4.8e-4 (alpha 0.99,
    eps 0.01), linear decay of the learning rate to 0, gradient-norm clip 40. Reward
    clipping (Atari) is the env's (``AtariEnv(clip_reward=True)``, the default).

    Targets bootstrap from ``samples.agent.bootstrap_value`` (the actor's value of the
    observation after the batch) and, at time-limit cuts, from ``timeout_value``.

    Args:
        discount: gamma, in [0, 1].
        learning_rate: > 0.
        value_loss_coeff: baseline cost, weight of ``0.5 (v_t - V)^2``.
        entropy_loss_coeff: entropy cost.
        OptimCls, optim_kwargs: optimizer, built as ``OptimCls(params, lr, **optim_kwargs)``;
            ``optim_kwargs`` None gives monobeast's RMSprop settings.
        clip_grad_norm: max global gradient norm, > 0.
        initial_optim_state_dict: optimizer state loaded at initialize.
        linear_lr_schedule: decay the learning rate linearly to 0 over training.
        clip_rho_threshold: rho_bar of the targets (None: no clip).
        clip_c_threshold: c_bar of the trace (None: no clip).
        clip_pg_rho_threshold: clip of the ratio weighting the pg advantage (None: no clip).
        trace_lambda: scales the trace coefficients ``c_t`` (the paper's remark 2); 1 is IMPALA.
    """

    opt_info_fields = tuple(ImpalaOptInfo._fields)
    corrects_policy_lag = True

    def __init__(
        self,
        *,
        discount: float = 0.99,
        learning_rate: float = 4.8e-4,
        value_loss_coeff: float = 0.5,
        entropy_loss_coeff: float = 0.0006,
        OptimCls: type = torch.optim.RMSprop,
        optim_kwargs: dict | None = None,
        clip_grad_norm: float = 40.0,
        initial_optim_state_dict: dict | None = None,
        linear_lr_schedule: bool = True,
        clip_rho_threshold: float | None = 1.0,
        clip_c_threshold: float | None = 1.0,
        clip_pg_rho_threshold: float | None = 1.0,
        trace_lambda: float = 1.0,
    ):
        if optim_kwargs is None and OptimCls is torch.optim.RMSprop:
            optim_kwargs = dict(_RMSPROP_KWARGS)
        super().__init__(
            discount=discount,
            learning_rate=learning_rate,
            value_loss_coeff=value_loss_coeff,
            entropy_loss_coeff=entropy_loss_coeff,
            OptimCls=OptimCls,
            optim_kwargs=optim_kwargs,
            clip_grad_norm=clip_grad_norm,
            initial_optim_state_dict=initial_optim_state_dict,
            gae_lambda=1.0,  # unused: V-trace makes the targets
            normalize_advantage=False,
            linear_lr_schedule=linear_lr_schedule,
        )
        for name, clip in (
            ("clip_rho_threshold", clip_rho_threshold),
            ("clip_c_threshold", clip_c_threshold),
            ("clip_pg_rho_threshold", clip_pg_rho_threshold),
        ):
            if clip is not None:
                require_positive(name, clip)
        require_non_negative("entropy_loss_coeff", entropy_loss_coeff)
        require_in_range("trace_lambda", trace_lambda, 0.0, 1.0)
        self.clip_rho_threshold = clip_rho_threshold
        self.clip_c_threshold = clip_c_threshold
        self.clip_pg_rho_threshold = clip_pg_rho_threshold
        self.trace_lambda = trace_lambda

    @staticmethod
    def empty_opt_info() -> ImpalaOptInfo:
        return ImpalaOptInfo(*([] for _ in ImpalaOptInfo._fields))

    def optimize_agent(self, itr: int, samples) -> ImpalaOptInfo:
        """One gradient step on the whole ``[T, B]`` batch."""
        self._apply_lr_schedule(itr)
        self._update_obs_rms_from(samples)
        opt_info = self.empty_opt_info()
        self._step(itr, self.loss_terms(samples), opt_info)
        return opt_info

    def _update_obs_rms_from(self, samples):
        if hasattr(self.agent, "update_obs_rms"):
            done = samples.env.done
            self._update_obs_rms(samples.env.observation, self._valid(done), done)

    def _step(self, itr: int, terms: ImpalaLossTerms, opt_info: ImpalaOptInfo):
        self._gradient_step(itr, terms, opt_info)
        opt_info.rho.append(terms.rho.item())

    def loss(self, samples):
        """``(loss, entropy, perplexity)`` scalar tensors for a ``[T, B]`` batch."""
        terms = self.loss_terms(samples)
        return self.total_loss(terms), terms.entropy, terms.perplexity

    def vtrace_targets(self, samples, log_rhos, value) -> VTraceReturns:
        """V-trace ``(vs, pg_advantages)`` of a ``[T, B]`` batch (constants: no gradient).

        ``log_rhos`` is ``log pi(a|x) - log mu(a|x)``, ``value`` the learner's ``V(x_t)``.
        """
        timeout = getattr(samples.env.env_info, "timeout", None)
        timeout_value = None
        if timeout is not None:
            timeout_value = getattr(samples.agent, "timeout_value", None)
            if timeout_value is None:
                raise ValueError(
                    "env_info has a timeout field but samples.agent has no timeout_value: "
                    "build the samples with AgentSamplesBsv so time-limit cuts can bootstrap"
                )
        return vtrace_from_importance_weights(
            log_rhos,
            samples.env.reward,
            value,
            samples.env.done,
            samples.agent.bootstrap_value,
            self.discount,
            clip_rho_threshold=self.clip_rho_threshold,
            clip_c_threshold=self.clip_c_threshold,
            clip_pg_rho_threshold=self.clip_pg_rho_threshold,
            trace_lambda=self.trace_lambda,
            timeout=timeout,
            timeout_value=timeout_value,
        )

    def minibatch_columns(self, B: int):
        """The env columns of each gradient step on a batch of ``B`` columns: all, once.

        The Ray scheme (:mod:`rlpyt.runners.scheme`) computes one gradient per item on
        ``samples[:, columns]`` and has its update stage apply it; APPO yields its
        epochs x minibatches.
        """
        yield slice(None)

    def loss_terms(self, samples, valid=None) -> ImpalaLossTerms:
        """The parts of the loss for a ``[T, B]`` batch (sums over valid steps).

        ``valid`` (optional ``[T, B]``, 1 where a step carries data): steps where it is 0
        add nothing to the loss, e.g. the unfilled tail of a rollout shortened by the Ray
        scheme's straggler pre-emption. It is combined with the collector's own mask.
        """
        init_rnn_state = None
        if self.agent.recurrent:
            # The state before the batch's first step, one per env column: [B, N, H].
            init_rnn_state = samples.agent.agent_info.prev_rnn_state[0]
        dist_info, value = self._agent_forward(self.agent_inputs(samples), init_rnn_state)
        if value.shape != samples.env.reward.shape:
            raise ValueError(
                f"agent value has shape {tuple(value.shape)}, rewards have "
                f"{tuple(samples.env.reward.shape)}: the value head must drop its last dim"
            )
        dist = self.agent.distribution
        action = samples.agent.action
        log_prob = dist.log_likelihood(action, dist_info)
        with torch.no_grad():
            behaviour_log_prob = dist.log_likelihood(action, samples.agent.agent_info.dist_info)
        log_rhos = log_prob.detach() - behaviour_log_prob
        own_valid = self._valid(samples.env.done)
        if valid is not None:
            valid = valid.to(value.dtype) if own_valid is None else valid * own_valid
        else:
            valid = own_valid
        vs, pg_advantages = self.vtrace_targets(samples, log_rhos, value.detach())
        pi_loss = self.policy_loss(log_prob, behaviour_log_prob, pg_advantages, valid)
        value_loss = self.value_loss_coeff * valid_sum(0.5 * (vs - value) ** 2, valid)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.entropy_loss_coeff != 0):
            step_entropy = dist.entropy(dist_info)
        entropy_loss = -self.entropy_loss_coeff * valid_sum(step_entropy, valid)
        with torch.no_grad():
            entropy = valid_mean(step_entropy, valid)
            perplexity = valid_mean(dist.perplexity(dist_info), valid)
            rho = valid_mean(torch.exp(log_rhos), valid)
        return ImpalaLossTerms(pi_loss, value_loss, entropy_loss, entropy, perplexity, rho)

    def policy_loss(self, log_prob, behaviour_log_prob, pg_advantages, valid) -> torch.Tensor:
        """``-sum_t log pi(a_t|x_t) A_t`` (eq. 4's gradient direction, summed)."""
        return -valid_sum(log_prob * pg_advantages, valid)
