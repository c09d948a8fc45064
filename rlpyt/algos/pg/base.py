"""Shared machinery of the policy-gradient algorithms (A2C, PPO)."""

from collections import namedtuple

import torch

from rlpyt.algos.base import RlAlgorithm
from rlpyt.algos.optim import build_optimizer
from rlpyt.algos.utils import discount_return, generalized_advantage_estimation, valid_from_done
from rlpyt.distributions.base import Distribution
from rlpyt.samplers.buffer import agent_inputs_from_samples
from rlpyt.utils.schedules import linear, progress
from rlpyt.utils.tensor import valid_mean
from rlpyt.utils.validation import (
    require_in_range,
    require_int_at_least,
    require_non_negative,
    require_positive,
)

__all__ = ["PolicyGradientAlgo", "OptInfo", "LossTerms"]

# One entry per gradient step in each list; skipped: 1.0 for a step skipped as
# non-finite, else 0.0 (logged as the fraction of the interval's steps).
OptInfo = namedtuple("OptInfo", ["loss", "gradNorm", "entropy", "perplexity", "skipped"])
# The parts of the loss (scalar tensors); the total is pi_loss + value_loss + entropy_loss.
LossTerms = namedtuple(
    "LossTerms", ["pi_loss", "value_loss", "entropy_loss", "entropy", "perplexity"]
)


class PolicyGradientAlgo(RlAlgorithm):
    """Returns/advantages, optimizer set-up and the gradient step.

    Samples stay where the sampler put them (CPU): the agent moves its inputs
    to its device and returns ``dist_info`` and ``value`` on the CPU, next to
    the samples, so returns and losses are computed there (as in the original).

    Subclasses define ``loss_terms(...)`` (-> :class:`LossTerms`) and
    ``optimize_agent``. See :class:`rlpyt.algos.pg.a2c.A2C` for the arguments.
    """

    bootstrap_value = True
    opt_info_fields = tuple(OptInfo._fields)

    def __init__(
        self,
        discount: float,
        learning_rate: float,
        value_loss_coeff: float,
        entropy_loss_coeff: float,
        OptimCls: type,
        optim_kwargs: dict | None,
        clip_grad_norm: float,
        initial_optim_state_dict: dict | None,
        gae_lambda: float,
        normalize_advantage: bool,
        linear_lr_schedule: bool,
    ):
        super().__init__()
        require_in_range("discount", discount, 0.0, 1.0)
        require_positive("learning_rate", learning_rate)
        require_non_negative("value_loss_coeff", value_loss_coeff)
        require_positive("clip_grad_norm", clip_grad_norm)
        require_in_range("gae_lambda", gae_lambda, 0.0, 1.0)
        self.discount = discount
        self.learning_rate = learning_rate
        self.value_loss_coeff = value_loss_coeff
        self.entropy_loss_coeff = entropy_loss_coeff
        self.OptimCls = OptimCls
        self.optim_kwargs = dict(optim_kwargs or {})
        self.clip_grad_norm = clip_grad_norm
        self.initial_optim_state_dict = initial_optim_state_dict
        self.gae_lambda = gae_lambda
        self.normalize_advantage = normalize_advantage
        self.linear_lr_schedule = linear_lr_schedule

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
        n_itr = require_int_at_least("n_itr", n_itr, 1)
        self.agent = agent
        self.n_itr = n_itr
        self.batch_spec = batch_spec
        self.mid_batch_reset = mid_batch_reset
        self.world_size = world_size
        self.rank = rank
        self._opt = build_optimizer(
            self.OptimCls, agent.parameters(), self.learning_rate, self.optim_kwargs
        )
        self.optimizer = self._opt.optimizer
        if self.initial_optim_state_dict is not None:
            self.optimizer.load_state_dict(self.initial_optim_state_dict)
        self._batch_size = batch_spec.size

    # -- schedules --------------------------------------------------------------

    def schedule_fraction(self, itr: int) -> float:
        """Linear decay factor 1 -> 0 over training; 1 without ``linear_lr_schedule``."""
        if not self.linear_lr_schedule:
            return 1.0
        return linear(1.0, 0.0, progress(itr, self.n_itr))

    def lr_at(self, itr: int) -> float:
        """The learning rate used during iteration ``itr``."""
        return self.learning_rate * self.schedule_fraction(itr)

    def _apply_lr_schedule(self, itr: int):
        # Set from itr alone (not stepped like torch's LR schedulers), so a
        # resumed run uses exactly the rates the uninterrupted run would have.
        if self.linear_lr_schedule:
            lr = self.lr_at(itr)
            for group in self.optimizer.param_groups:
                group["lr"] = lr

    # -- returns and advantages ---------------------------------------------------

    def _valid(self, done):
        """Mask of steps carrying data, or None when every step does.

        Wait-reset collectors leave an env idle after its episode ends, so its
        later steps are invalid. Recurrent agents need the mask even with
        mid-batch resets: the training pass runs each column's RNN through the
        whole batch from its initial state without resetting it at ``done``,
        so outputs after a reset would come from the wrong state.
        """
        if not self.mid_batch_reset or self.agent.recurrent:
            return valid_from_done(done)
        return None

    def process_returns(self, samples):
        """Returns, advantages and the valid mask of a ``[T, B]`` batch.

        Uses GAE when ``gae_lambda < 1``, else discounted returns with
        ``advantage = return - value``. Time-limit cuts (``env_info.timeout``)
        bootstrap from ``samples.agent.timeout_value``.

        Returns:
            ``(return_, advantage, valid)``: ``[T, B]`` tensors; ``valid`` is
            None when all steps are valid.
        """
        reward = samples.env.reward
        done = samples.env.done
        value = samples.agent.agent_info.value
        bootstrap_value = samples.agent.bootstrap_value
        # Optional fields: the env's EnvInfo may lack timeout, and a hand-built batch may use
        # AgentSamples (no timeout_value).
        timeout = getattr(samples.env.env_info, "timeout", None)
        timeout_value = (
            getattr(samples.agent, "timeout_value", None) if timeout is not None else None
        )
        if timeout is not None and timeout_value is None:
            raise ValueError(
                "env_info has a timeout field but samples.agent has no timeout_value: build "
                "the samples with AgentSamplesBsv so time-limit cuts can bootstrap"
            )
        if self.gae_lambda < 1:
            advantage, return_ = generalized_advantage_estimation(
                reward,
                value,
                done,
                bootstrap_value,
                self.discount,
                self.gae_lambda,
                timeout=timeout,
                timeout_value=timeout_value,
            )
        else:
            return_ = discount_return(
                reward,
                done,
                bootstrap_value,
                self.discount,
                timeout=timeout,
                timeout_value=timeout_value,
            )
            advantage = return_ - value.to(return_.dtype)
        valid = self._valid(done)
        if self.normalize_advantage:
            advantage = self._normalize(advantage, valid)
        return return_, advantage, valid

    @staticmethod
    def _normalize(advantage, valid):
        """Zero mean, unit std over valid steps; never NaN (E2).

        One valid step, or all advantages equal, give zeros instead of 0/0.
        """
        adv = advantage[valid > 0] if valid is not None else advantage.reshape(-1)
        mean = adv.mean()
        std = adv.std() if adv.numel() > 1 else torch.zeros_like(mean)
        return (advantage - mean) / std.clamp(min=1e-6)

    # -- pieces of the optimization step ------------------------------------------

    @staticmethod
    def agent_inputs(samples):
        # Null prev_action/prev_reward after episode ends, as the agent saw them.
        return agent_inputs_from_samples(samples)

    def _update_obs_rms(self, observation, valid, done):
        """Feed the valid observations ``[N, *obs_shape]`` to the agent's normaliser, if any."""
        if not self.agent.updates_obs_rms:
            return
        mask = valid > 0 if valid is not None else torch.ones_like(done, dtype=torch.bool)
        self.agent.update_obs_rms(observation[mask])

    def _agent_forward(self, agent_inputs, init_rnn_state=None):
        """Train-mode forward pass -> ``(dist_info, value)``.

        ``init_rnn_state`` is stored with B leading (``[B, N, H]``), as the agent takes it.
        """
        if self.agent.recurrent:
            dist_info, value, _next_rnn_state = self.agent(*agent_inputs, init_rnn_state)
        else:
            dist_info, value = self.agent(*agent_inputs)
        return dist_info, value

    def _value_and_entropy_terms(self, dist_info, value, return_, valid):
        """``(value_loss, entropy_loss, entropy, perplexity)``, shared by A2C and PPO."""
        if value.shape != return_.shape:
            # e.g. a [T, B, 1] value head would broadcast to [T, B, B] and train silently wrong
            raise ValueError(
                f"agent value has shape {tuple(value.shape)}, returns have "
                f"{tuple(return_.shape)}: the value head must drop its last dim"
            )
        dist = self.agent.distribution
        value_error = 0.5 * (value - return_) ** 2
        value_loss = self.value_loss_coeff * valid_mean(value_error, valid)
        # With a zero coefficient the entropy is only a diagnostic: computed
        # without a graph, backward does not traverse it (same gradients).
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.entropy_loss_coeff != 0):
            step_entropy = dist.entropy(dist_info)
            entropy = valid_mean(step_entropy, valid)
        entropy_loss = -self.entropy_loss_coeff * entropy
        with torch.no_grad():  # a diagnostic; reuses the entropies when it is exp(entropy)
            if type(dist).perplexity is Distribution.perplexity:
                step_perplexity = torch.exp(step_entropy)
            else:
                step_perplexity = dist.perplexity(dist_info)
            perplexity = valid_mean(step_perplexity, valid)
        return value_loss, entropy_loss, entropy, perplexity

    @staticmethod
    def total_loss(terms: LossTerms) -> torch.Tensor:
        return terms.pi_loss + terms.value_loss + terms.entropy_loss

    @staticmethod
    def empty_opt_info() -> OptInfo:
        return OptInfo(*([] for _ in OptInfo._fields))

    def _gradient_step(self, itr: int, terms: LossTerms, opt_info: OptInfo):
        """One guarded step on the total loss (:class:`~rlpyt.algos.optim.GuardedStep`).

        A non-finite loss or gradient norm skips the step (the weights and the
        optimizer state stay as they were); the error after too many in a row
        names the loss terms. One entry per step is appended to each list of ``opt_info``.
        """
        loss = self.total_loss(terms)
        (grad_norm,), applied = self.guard.step(
            itr,
            [(self._opt, loss)],
            self.clip_grad_norm,
            terms=dict(
                pi_loss=terms.pi_loss, value_loss=terms.value_loss, entropy_loss=terms.entropy_loss
            ),
        )
        opt_info.loss.append(loss.item())
        opt_info.gradNorm.append(float(grad_norm))
        opt_info.entropy.append(terms.entropy.item())
        opt_info.perplexity.append(terms.perplexity.item())
        opt_info.skipped.append(0.0 if applied else 1.0)
        if applied:
            self.update_counter += 1
