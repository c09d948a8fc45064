"""Exact math of V-trace (Espeholt et al. 2018, eq. 1) against a brute-force closed form.

The closed-form oracle below sums ``v_s = V_s + sum_{t>=s} (prod_{i=s}^{t-1} gamma_i c_i)
delta_t`` with explicit loops, independently of the backward recursion in
:func:`rlpyt.algos.utils.vtrace_from_importance_weights` (the TorchBeast test case:
T=5, B in {1, 5}, log-ratios in [-2.5, 2.5), per-column discounts 0.9/(b+1), rho_bar 3.7,
pg rho_bar 2.2).
"""

import numpy as np
import pytest
import torch

from rlpyt.algos.utils import (
    discount_return,
    vtrace_from_importance_weights,
    vtrace_from_log_probs,
    vtrace_from_logits,
)


def closed_form(log_rhos, discounts, reward, value, bootstrap, rho_bar, c_bar, pg_rho_bar):
    """``(vs, pg_advantages)`` by the explicit sums, float64, no episode ends."""
    T, B = reward.shape
    rhos = np.exp(log_rhos)
    clipped = np.minimum(rho_bar, rhos)
    cs = np.minimum(c_bar, rhos)
    values_next = np.concatenate([value[1:], bootstrap[None]], axis=0)
    deltas = clipped * (reward + discounts * values_next - value)
    vs = np.zeros((T, B))
    for b in range(B):
        for s in range(T):
            v = value[s, b]
            for t in range(s, T):
                weight = 1.0
                for i in range(s, t):
                    weight *= discounts[i, b] * cs[i, b]
                v += weight * deltas[t, b]
            vs[s, b] = v
    vs_next = np.concatenate([vs[1:], bootstrap[None]], axis=0)
    pg_adv = np.minimum(pg_rho_bar, rhos) * (reward + discounts * vs_next - value)
    return vs, pg_adv


@pytest.mark.parametrize("B", [1, 5])
def test_recursion_equals_closed_form(B):
    T = 5
    rng = np.random.default_rng(B)
    log_rhos = rng.uniform(-2.5, 2.5, size=(T, B))
    discounts = np.tile(0.9 / (np.arange(B) + 1.0), (T, 1))  # per-step discounts, [T, B]
    reward = rng.standard_normal((T, B))
    value = rng.standard_normal((T, B))
    bootstrap = rng.standard_normal(B)
    expected_vs, expected_adv = closed_form(
        log_rhos, discounts, reward, value, bootstrap, 3.7, 1.0, 2.2
    )
    out = vtrace_from_importance_weights(
        torch.from_numpy(log_rhos),
        torch.from_numpy(reward),
        torch.from_numpy(value),
        torch.zeros(T, B, dtype=torch.bool),
        torch.from_numpy(bootstrap)[None],
        torch.from_numpy(discounts),
        clip_rho_threshold=3.7,
        clip_pg_rho_threshold=2.2,
    )
    assert out.vs.dtype == torch.float64
    np.testing.assert_allclose(out.vs.numpy(), expected_vs, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(out.pg_advantages.numpy(), expected_adv, rtol=1e-6, atol=1e-10)
    # Numpy in, numpy out; the same numbers.
    out_np = vtrace_from_importance_weights(
        log_rhos,
        reward,
        value,
        np.zeros((T, B)),
        bootstrap,
        discounts,
        clip_rho_threshold=3.7,
        clip_pg_rho_threshold=2.2,
    )
    assert isinstance(out_np.vs, np.ndarray)
    scalar = vtrace_from_importance_weights(
        log_rhos, reward, value, np.zeros((T, B)), bootstrap, np.float32(0.5)
    )
    expected_scalar, _ = closed_form(
        log_rhos, np.full((T, B), 0.5), reward, value, bootstrap, 1.0, 1.0, 1.0
    )
    np.testing.assert_allclose(scalar.vs, expected_scalar, rtol=1e-6)
    np.testing.assert_allclose(out_np.vs, expected_vs, rtol=1e-6, atol=1e-10)


def batch_with_episode_ends(T=7, B=4, seed=0, dtype=torch.float64):
    """Random ``[T, B]`` data with terminal dones and time-limit cuts in several columns."""
    g = torch.Generator().manual_seed(seed)
    done = torch.zeros(T, B, dtype=torch.bool)
    timeout = torch.zeros(T, B, dtype=torch.bool)
    done[2, 0] = True  # terminal
    done[1, 1] = done[4, 1] = timeout[4, 1] = True  # terminal, then a time-limit cut
    done[0, 2] = timeout[0, 2] = done[5, 2] = True  # a cut at t=0, a terminal later
    done[T - 1, 3] = timeout[T - 1, 3] = True  # a cut at the last step
    return dict(
        reward=torch.randn(T, B, generator=g, dtype=dtype),
        value=torch.randn(T, B, generator=g, dtype=dtype),
        done=done,
        bootstrap_value=torch.randn(1, B, generator=g, dtype=dtype),
        timeout=timeout,
        timeout_value=torch.randn(T, B, generator=g, dtype=dtype),
    )


def vtrace(log_rhos, data, discount=0.9, **kwargs):
    return vtrace_from_importance_weights(
        log_rhos,
        data["reward"],
        data["value"],
        data["done"],
        data["bootstrap_value"],
        discount,
        timeout=data["timeout"],
        timeout_value=data["timeout_value"],
        **kwargs,
    )


def test_on_policy_equals_discounted_return_across_done_and_timeout():
    data = batch_with_episode_ends()
    log_rhos = torch.zeros_like(data["reward"])
    out = vtrace(log_rhos, data)
    expected = discount_return(
        data["reward"],
        data["done"],
        data["bootstrap_value"],
        0.9,
        timeout=data["timeout"],
        timeout_value=data["timeout_value"],
    )
    torch.testing.assert_close(out.vs, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.pg_advantages, expected - data["value"])
    # Without time limits every done is terminal, as in discount_return's original formula.
    plain = vtrace_from_importance_weights(
        log_rhos, data["reward"], data["value"], data["done"], data["bootstrap_value"], 0.9
    )
    expected = discount_return(data["reward"], data["done"], data["bootstrap_value"], 0.9)
    torch.testing.assert_close(plain.vs, expected)


def test_far_off_policy_targets_are_values_and_advantages_zero():
    data = batch_with_episode_ends()
    out = vtrace(torch.full_like(data["reward"], -30.0), data)
    torch.testing.assert_close(out.vs, data["value"], rtol=0, atol=1e-10)
    torch.testing.assert_close(out.pg_advantages, torch.zeros_like(out.vs), rtol=0, atol=1e-10)


@pytest.mark.parametrize("col, t_done", [(0, 2), (1, 1), (1, 4), (2, 0), (2, 5)])
def test_data_after_done_does_not_change_earlier_targets(col, t_done):
    data = batch_with_episode_ends()
    g = torch.Generator().manual_seed(1)
    log_rhos = torch.rand(data["reward"].shape, generator=g, dtype=torch.float64) * 2 - 1
    before = vtrace(log_rhos, data, clip_rho_threshold=2.0, clip_c_threshold=1.5)
    changed = {k: v.clone() for k, v in data.items()}
    for key in ("reward", "value", "timeout_value"):
        changed[key][t_done + 1 :, col] += 10.0
    changed["bootstrap_value"][:, col] += 10.0
    log_rhos_changed = log_rhos.clone()
    log_rhos_changed[t_done + 1 :, col] -= 1.0
    after = vtrace(log_rhos_changed, changed, clip_rho_threshold=2.0, clip_c_threshold=1.5)
    keep = slice(0, t_done + 1)
    torch.testing.assert_close(after.vs[keep, col], before.vs[keep, col], rtol=0, atol=0)
    torch.testing.assert_close(
        after.pg_advantages[keep, col], before.pg_advantages[keep, col], rtol=0, atol=0
    )
    assert not torch.allclose(after.vs[t_done + 1 :, col], before.vs[t_done + 1 :, col])


def test_no_gradient_through_targets_and_float32_agrees():
    data = batch_with_episode_ends()
    log_rhos = torch.linspace(-1.0, 1.0, 28, dtype=torch.float64).reshape(7, 4)
    value = data["value"].clone().requires_grad_(True)
    log_rhos_grad = log_rhos.clone().requires_grad_(True)
    out = vtrace(log_rhos_grad, dict(data, value=value))
    assert not out.vs.requires_grad and not out.pg_advantages.requires_grad
    data32 = {k: v.float() if v.is_floating_point() else v for k, v in data.items()}
    out32 = vtrace(log_rhos.float(), data32)
    assert out32.vs.dtype == torch.float32
    torch.testing.assert_close(out32.vs.double(), out.vs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        out32.pg_advantages.double(), out.pg_advantages, rtol=1e-5, atol=1e-5
    )


def test_from_logits_and_log_probs_equal_importance_weights():
    T, B, A = 7, 4, 5
    g = torch.Generator().manual_seed(0)
    target_logits = torch.randn(T, B, A, generator=g, dtype=torch.float64)
    behaviour_logits = torch.randn(T, B, A, generator=g, dtype=torch.float64)
    action = torch.randint(A, (T, B), generator=g)
    data = batch_with_episode_ends(T, B)
    rest = (data["reward"], data["value"], data["done"], data["bootstrap_value"], 0.95)
    target_lp = torch.log_softmax(target_logits, -1).gather(-1, action[..., None])[..., 0]
    behaviour_lp = torch.log_softmax(behaviour_logits, -1).gather(-1, action[..., None])[..., 0]
    expected = vtrace_from_importance_weights(
        target_lp - behaviour_lp, *rest, clip_rho_threshold=1.5
    )
    from_logits = vtrace_from_logits(
        target_logits + 3.0, behaviour_logits - 1.0, action, *rest, clip_rho_threshold=1.5
    )
    from_log_probs = vtrace_from_log_probs(target_lp, behaviour_lp, *rest, clip_rho_threshold=1.5)
    for out in (from_logits, from_log_probs):
        torch.testing.assert_close(out.vs, expected.vs)
        torch.testing.assert_close(out.pg_advantages, expected.pg_advantages)


def test_trace_lambda_zero_is_one_step_td_target():
    data = batch_with_episode_ends()
    out = vtrace(torch.zeros_like(data["reward"]), data, trace_lambda=0.0)
    next_value = torch.cat([data["value"][1:], data["bootstrap_value"]], dim=0)
    next_value = torch.where(data["done"], torch.zeros_like(next_value), next_value)
    next_value = torch.where(data["timeout"], data["timeout_value"], next_value)
    torch.testing.assert_close(out.vs, data["reward"] + 0.9 * next_value)


def test_expected_operator_converges_to_value_of_truncated_policy():
    """IMPALA Theorem 1: the expected V-trace operator's fixed point is V of pi_rho_bar.

    ``pi_rho_bar(a|x) ∝ min(rho_bar mu(a|x), pi(a|x))``. A 3-state, 2-action MDP with
    deterministic transitions; the expectation over mu is taken exactly by evaluating
    every (state, action) pair as a column of a one-step batch.
    """
    gamma, rho_bar = 0.9, 1.2
    next_state = np.array([[1, 2], [2, 0], [0, 1]])
    reward = np.array([[1.0, 0.0], [0.0, 2.0], [0.5, -1.0]])
    mu = np.array([[0.5, 0.5], [0.8, 0.2], [0.3, 0.7]])
    pi = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    truncated = np.minimum(rho_bar * mu, pi)
    truncated /= truncated.sum(axis=1, keepdims=True)
    P = np.zeros((3, 3))
    for x in range(3):
        for a in range(2):
            P[x, next_state[x, a]] += truncated[x, a]
    expected = np.linalg.solve(np.eye(3) - gamma * P, (truncated * reward).sum(axis=1))
    V = np.zeros(3)
    log_rhos = np.log(pi / mu).reshape(1, -1)
    for _ in range(400):
        out = vtrace_from_importance_weights(
            log_rhos,
            reward.reshape(1, -1),
            np.repeat(V, 2).reshape(1, -1),
            np.zeros((1, 6)),
            V[next_state].reshape(1, -1),
            gamma,
            clip_rho_threshold=rho_bar,
        )
        V = (mu * out.vs.reshape(3, 2)).sum(axis=1)
    np.testing.assert_allclose(V, expected, rtol=1e-8)
    # and not the value of pi itself (the clip binds in every state)
    P_pi = np.zeros((3, 3))
    for x in range(3):
        for a in range(2):
            P_pi[x, next_state[x, a]] += pi[x, a]
    v_pi = np.linalg.solve(np.eye(3) - gamma * P_pi, (pi * reward).sum(axis=1))
    assert not np.allclose(V, v_pi, rtol=1e-3)
