"""Returns, advantages and validity masks over ``[T, B]`` sample batches.

All functions take ``[T, B]`` arrays (``[T]`` also works), loop backwards over
``T`` only and vectorise over ``B``. They accept torch tensors or numpy arrays
(numpy inputs are viewed as tensors without a copy and the results come back
as numpy). Inputs are never modified; results go into ``*_dest`` when given.

Time-limit truncation (``timeout``): a step cut by a time limit ends the
episode (``done`` is true) but is not terminal, so its return must bootstrap
from the value of the final observation, which the collector computed before
the env reset and stored in ``timeout_value`` (Pardo et al. 2018, "Time Limits
in Reinforcement Learning"). Without ``timeout`` these are the original rlpyt
formulas, which treat every ``done`` as terminal.
"""

from collections import namedtuple

import numpy as np
import torch

__all__ = [
    "discount_return",
    "generalized_advantage_estimation",
    "VTraceReturns",
    "vtrace_from_importance_weights",
    "vtrace_from_log_probs",
    "vtrace_from_logits",
    "valid_from_done",
    "value_rescale",
    "inv_value_rescale",
]


def _to_torch(x):
    return torch.from_numpy(x) if isinstance(x, np.ndarray) else x


def _float(x, like: torch.Tensor) -> torch.Tensor:
    """``x`` as a tensor of ``like``'s floating dtype and device (bool/int -> 0./1.)."""
    return torch.as_tensor(_to_torch(x), device=like.device).to(like.dtype)


def _bootstrap(bootstrap_value, reward: torch.Tensor) -> torch.Tensor:
    """The value after the last step, shaped like one time step ``[B]``.

    Samplers store it as ``[1, B]``; scalars and ``[B]`` are accepted too.
    """
    bv = _float(bootstrap_value, reward)
    return bv.reshape(reward.shape[1:]) if bv.dim() > 0 else bv.expand(reward.shape[1:])


def _timeouts(timeout, timeout_value, reward: torch.Tensor):
    """``(timeout, timeout_value)`` as a bool mask and a float tensor, or ``(None, None)``."""
    if timeout is None:
        return None, None
    if timeout_value is None:
        raise ValueError(
            "timeout was given without timeout_value: a time-limit cut must bootstrap from "
            "the value of the final observation (samples.agent.timeout_value)"
        )
    timeout = torch.as_tensor(_to_torch(timeout), device=reward.device) != 0
    return timeout, _float(timeout_value, reward)


def _dest(dest, reward: torch.Tensor) -> torch.Tensor:
    if dest is None:
        return torch.zeros_like(reward)
    dest = _to_torch(dest)
    if dest.shape != reward.shape:
        raise ValueError(f"dest shape {tuple(dest.shape)} != reward shape {tuple(reward.shape)}")
    return dest


def _like_input(result: torch.Tensor, was_numpy: bool):
    return result.numpy() if was_numpy else result


def _loop_arrays(*tensors):
    """``(module, arrays)`` for the loops over ``T``: numpy views of ``[T, B]`` CPU tensors
    (float32 or float64, no grad), or the tensors themselves with torch.

    Each step of a loop is a handful of elementwise operations on ``[B]`` rows; torch spends
    several microseconds dispatching each one (GAE over 32 x 8 samples took ~1 ms), numpy
    well under one. The operations are the same IEEE ones in the same order on the same
    dtype (a Python float with a float32 array stays float32 in both), so the results are
    identical. ``None`` entries pass through.
    """
    present = [x for x in tensors if x is not None]
    if (
        all(
            x.device.type == "cpu"
            and not x.requires_grad
            and x.layout == torch.strided
            and x.dtype in (torch.float32, torch.float64, torch.bool)
            and x.dim() >= 1
            for x in present
        )
        and present[0].dim() == 2
    ):
        return np, [None if x is None else x.numpy() for x in tensors]
    return torch, list(tensors)


def discount_return(
    reward,
    done,
    bootstrap_value,
    discount: float,
    return_dest=None,
    timeout=None,
    timeout_value=None,
):
    """Discounted return ``y_t`` of each step, bootstrapped after the batch.

    ::

        y_T = bootstrap_value
        y_t = r_t + discount * y_{t+1} * (1 - done_t)   (no timeout at t)
        y_t = r_t + discount * timeout_value_t          (timeout at t)

    Args:
        reward: ``[T, B]`` rewards (floating dtype; results use it).
        done: ``[T, B]`` episode ends (bool or 0/1).
        bootstrap_value: ``[1, B]`` (or ``[B]``) value of the observation after step T-1.
        discount: gamma.
        return_dest: optional ``[T, B]`` tensor written in place and returned.
        timeout: optional ``[T, B]``: episode cut by a time limit at t (then also done).
        timeout_value: ``[T, B]`` value of the final observation where ``timeout``.

    Returns:
        ``[T, B]`` returns.
    """
    was_numpy = isinstance(reward, np.ndarray)
    reward = _to_torch(reward)
    not_done = 1 - _float(done, reward)
    timeout, timeout_value = _timeouts(timeout, timeout_value, reward)
    return_ = _dest(return_dest, reward)
    xp, (r, not_done, timeout, timeout_value, ret, next_return) = _loop_arrays(
        reward, not_done, timeout, timeout_value, return_, _bootstrap(bootstrap_value, reward)
    )
    discount = float(discount)
    for t in reversed(range(r.shape[0])):
        next_value = next_return * not_done[t]
        if timeout is not None:
            # A time-limit cut continues from V(final observation), not from 0.
            # (where, not a product: timeout_value is unused elsewhere, even if not finite.)
            next_value = xp.where(timeout[t], timeout_value[t], next_value)
        ret[t] = r[t] + discount * next_value
        next_return = ret[t]
    return _like_input(return_, was_numpy)


def generalized_advantage_estimation(
    reward,
    value,
    done,
    bootstrap_value,
    discount: float,
    gae_lambda: float,
    advantage_dest=None,
    return_dest=None,
    timeout=None,
    timeout_value=None,
):
    """GAE(gamma, lambda) advantages and the matching returns (Schulman et al. 2016, eq. 16).

    ::

        next_v_t = V_{t+1}                (bootstrap_value for t = T-1)
        next_v_t = 0                      if done_t (terminal)
        next_v_t = timeout_value_t        if timeout_t (time-limit cut)
        delta_t  = r_t + discount * next_v_t - V_t
        A_t      = delta_t + discount * gae_lambda * (1 - done_t) * A_{t+1}
        return_t = A_t + V_t

    The trace ``A_{t+1}`` never crosses an episode end, truncated or not.

    Args:
        reward, value, done: ``[T, B]``.
        bootstrap_value: ``[1, B]`` (or ``[B]``) value of the observation after step T-1.
        discount, gae_lambda: gamma and lambda.
        advantage_dest, return_dest: optional ``[T, B]`` tensors written in place.
        timeout, timeout_value: as in :func:`discount_return`.

    Returns:
        ``(advantage, return_)``, each ``[T, B]``.
    """
    was_numpy = isinstance(reward, np.ndarray)
    reward = _to_torch(reward)
    value = _float(value, reward)
    not_done = 1 - _float(done, reward)
    timeout, timeout_value = _timeouts(timeout, timeout_value, reward)
    if timeout is not None:
        # A timeout ends the episode even if a caller forgot to set done with it.
        not_done = not_done * (~timeout).to(reward.dtype)
    advantage = _dest(advantage_dest, reward)
    return_ = _dest(return_dest, reward)
    xp, (r, value, not_done, timeout, timeout_value, adv, ret, next_v) = _loop_arrays(
        reward,
        value,
        not_done,
        timeout,
        timeout_value,
        advantage,
        return_,
        _bootstrap(bootstrap_value, reward),
    )
    discount, gae_lambda = float(discount), float(gae_lambda)
    next_advantage = xp.zeros_like(next_v)
    for t in reversed(range(r.shape[0])):
        next_value = next_v * not_done[t]
        if timeout is not None:
            next_value = xp.where(timeout[t], timeout_value[t], next_value)
        delta = r[t] + discount * next_value - value[t]
        adv[t] = delta + discount * gae_lambda * not_done[t] * next_advantage
        next_advantage = adv[t]
        next_v = value[t]
    ret[:] = adv + value
    return _like_input(advantage, was_numpy), _like_input(return_, was_numpy)


def valid_from_done(done):
    """Mask of steps up to and including each column's first ``done``.

    ``valid[0] = 1`` and ``valid[t] = 1 - max(done[:t])``: for collectors that
    wait to reset (``CpuWaitResetCollector``), an env that finished keeps
    stepping nothing, so its steps after the first ``done`` carry no data.

    Args:
        done: ``[T, B]`` (or ``[T]``) bool or 0/1.

    Returns:
        float ``[T, B]`` mask (float32 unless ``done`` is already floating).
    """
    was_numpy = isinstance(done, np.ndarray)
    done = _to_torch(done)
    dtype = done.dtype if done.is_floating_point() else torch.float32
    done = done.to(dtype)
    valid = torch.ones_like(done)
    valid[1:] = 1 - torch.clamp(torch.cumsum(done[:-1], dim=0), max=1)
    return _like_input(valid, was_numpy)


def value_rescale(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x`` (R2D2, Kapturowski et al. 2019, eq. 2).

    Compresses large returns so one network fits rewards of very different scales.
    """
    return torch.sign(x) * (torch.sqrt(torch.abs(x) + 1) - 1) + eps * x


def inv_value_rescale(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """The exact inverse of :func:`value_rescale` (Pohlen et al. 2018, proposition A.2).

    ``h^-1(x) = sign(x) (((sqrt(1 + 4 eps (|x| + 1 + eps)) - 1) / (2 eps))^2 - 1)``, and
    ``sign(x) ((|x| + 1)^2 - 1)`` for eps = 0.
    """
    if eps == 0:
        return torch.sign(x) * ((torch.abs(x) + 1) ** 2 - 1)
    root = (torch.sqrt(1 + 4 * eps * (torch.abs(x) + 1 + eps)) - 1) / (2 * eps)
    return torch.sign(x) * (root**2 - 1)


# -- V-trace (Espeholt et al. 2018, "IMPALA", section 4.1) -------------------------------

# vs: [T, B] value targets v_s; pg_advantages: [T, B] rho^pg_s (r_s + gamma v_{s+1} - V(x_s)).
VTraceReturns = namedtuple("VTraceReturns", ["vs", "pg_advantages"])


@torch.no_grad()
def vtrace_from_importance_weights(
    log_rhos,
    reward,
    value,
    done,
    bootstrap_value,
    discount,
    *,
    clip_rho_threshold: float | None = 1.0,
    clip_c_threshold: float | None = 1.0,
    clip_pg_rho_threshold: float | None = 1.0,
    trace_lambda: float = 1.0,
    timeout=None,
    timeout_value=None,
) -> VTraceReturns:
    """V-trace targets and policy-gradient advantages of a ``[T, B]`` batch (eq. 1).

    ::

        rho_t   = min(clip_rho_threshold, pi/mu),   c_t = trace_lambda * min(clip_c_threshold, pi/mu)
        next_V_t = V_{t+1} (bootstrap_value at T-1), 0 if done_t, timeout_value_t if timeout_t
        delta_t = rho_t (r_t + gamma_t next_V_t - V_t)
        v_t - V_t = delta_t + gamma_t c_t (1 - done_t) (v_{t+1} - V_{t+1}),   v_T - V_T = 0
        A_t     = min(clip_pg_rho_threshold, pi/mu) (r_t + gamma_t next_v_t - V_t)

    where ``next_v_t`` is ``v_{t+1}`` with the same end-of-batch, ``done`` and
    ``timeout`` cases as ``next_V_t``. This is the closed form
    ``v_s = V_s + sum_{t>=s} (prod_{i=s}^{t-1} gamma_i c_i) delta_t`` computed backwards.
    ``done`` masks the discount (a terminal step has no future); a time-limit cut
    bootstraps from the value of the final observation, like :func:`discount_return`,
    and cuts the trace (the next step belongs to a new episode). With ``pi = mu``
    and unit clips, ``v_t`` is :func:`discount_return` and ``A_t = v_t - V_t``.

    Everything is computed without gradient (targets are constants of the loss).

    Args:
        log_rhos: ``[T, B]`` ``log pi(a_t|x_t) - log mu(a_t|x_t)`` (target minus behaviour).
        reward, value, done: ``[T, B]``; ``value`` is ``V(x_t)`` under the current estimate.
        bootstrap_value: ``[1, B]`` (or ``[B]``) value of the observation after step T-1.
        discount: gamma, a float or ``[T, B]`` per-step discounts.
        clip_rho_threshold: rho_bar (None: no clip).
        clip_c_threshold: c_bar (None: no clip).
        clip_pg_rho_threshold: the clip of the ratio weighting the advantage (None: no clip).
        trace_lambda: lambda of the paper's remark 2 (``c_t`` scaled by it); 1 is IMPALA.
        timeout, timeout_value: as in :func:`discount_return`.

    Returns:
        :class:`VTraceReturns` ``(vs, pg_advantages)``, each ``[T, B]``.
    """
    was_numpy = isinstance(reward, np.ndarray)
    reward = _to_torch(reward).detach()
    log_rhos = _float(log_rhos, reward).detach()
    value = _float(value, reward).detach()
    # A scalar or per-step [T, B]; built in reward's dtype (a float via float32 would round).
    discount = torch.as_tensor(_to_torch(discount), dtype=reward.dtype, device=reward.device)
    not_done = 1 - _float(done, reward)
    timeout, timeout_value = _timeouts(timeout, timeout_value, reward)
    if timeout is not None:
        not_done = not_done * (~timeout).to(reward.dtype)  # a cut ends the episode
    rhos = torch.exp(log_rhos)
    clipped_rhos = rhos.clamp(max=clip_rho_threshold) if clip_rho_threshold is not None else rhos
    cs = rhos.clamp(max=clip_c_threshold) if clip_c_threshold is not None else rhos
    cs = trace_lambda * cs
    pg_rhos = rhos.clamp(max=clip_pg_rho_threshold) if clip_pg_rho_threshold is not None else rhos
    vs = torch.zeros_like(reward)
    pg_advantages = torch.zeros_like(reward)
    next_value = _bootstrap(bootstrap_value, reward).detach()  # V_{t+1}
    next_vs = next_value  # v_{t+1}; v_T = V_T = bootstrap_value
    for t in reversed(range(reward.shape[0])):
        gamma = discount[t] if discount.dim() > 0 else discount
        next_v = next_value * not_done[t]
        next_target = next_vs * not_done[t]
        if timeout is not None:
            # A time-limit cut continues from V(final observation): no trace beyond it.
            next_v = torch.where(timeout[t], timeout_value[t], next_v)
            next_target = torch.where(timeout[t], timeout_value[t], next_target)
        delta = clipped_rhos[t] * (reward[t] + gamma * next_v - value[t])
        # v_t - V_t = delta_t + gamma_t c_t (v_{t+1} - V_{t+1}), the trace cut at episode ends.
        vs[t] = value[t] + delta + gamma * cs[t] * not_done[t] * (next_vs - next_value)
        pg_advantages[t] = pg_rhos[t] * (reward[t] + gamma * next_target - value[t])
        next_value = value[t]
        next_vs = vs[t]
    return VTraceReturns(_like_input(vs, was_numpy), _like_input(pg_advantages, was_numpy))


def vtrace_from_log_probs(
    target_log_prob, behaviour_log_prob, reward, value, done, bootstrap_value, discount, **kwargs
) -> VTraceReturns:
    """:func:`vtrace_from_importance_weights` with ``log_rhos = target - behaviour``.

    ``target_log_prob`` and ``behaviour_log_prob`` are ``[T, B]`` log-probabilities of
    the taken actions under pi (learner) and mu (actor); keyword arguments pass on.
    """
    log_rhos = _to_torch(target_log_prob) - _to_torch(behaviour_log_prob)
    return vtrace_from_importance_weights(
        log_rhos, reward, value, done, bootstrap_value, discount, **kwargs
    )


def vtrace_from_logits(
    target_logits,
    behaviour_logits,
    action,
    reward,
    value,
    done,
    bootstrap_value,
    discount,
    **kwargs,
) -> VTraceReturns:
    """:func:`vtrace_from_importance_weights` for categorical policies given by logits.

    ``target_logits`` and ``behaviour_logits`` are ``[T, B, A]`` unnormalised
    log-probabilities of pi and mu, ``action`` the ``[T, B]`` indices taken.
    """
    action = _to_torch(action).long().unsqueeze(-1)
    target = torch.log_softmax(_to_torch(target_logits), dim=-1).gather(-1, action)
    behaviour = torch.log_softmax(_to_torch(behaviour_logits), dim=-1).gather(-1, action)
    return vtrace_from_log_probs(
        target.squeeze(-1),
        behaviour.squeeze(-1),
        reward,
        value,
        done,
        bootstrap_value,
        discount,
        **kwargs,
    )
