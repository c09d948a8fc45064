"""Exact math of returns, GAE and valid masks, plus schedules and validation helpers.

The expected arrays below were computed by hand (discount 0.5, lambda 0.5), step by
step from the last time step backwards; the comments show the arithmetic.
"""

import math

import numpy as np
import pytest
import torch

from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.pg.ppo import PPO
from rlpyt.algos.utils import discount_return, generalized_advantage_estimation, valid_from_done
from rlpyt.utils.schedules import linear, progress
from rlpyt.utils.validation import (
    require_in_range,
    require_int_at_least,
    require_non_negative,
    require_positive,
)

# T = 4, B = 2. Column 0: a terminal done at t=1. Column 1: a time-limit cut at t=2.
REWARD = torch.tensor([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]])
DONE = torch.tensor([[0, 0], [1, 0], [0, 1], [0, 0]], dtype=torch.bool)
TIMEOUT = torch.tensor([[0, 0], [0, 0], [0, 1], [0, 0]], dtype=torch.bool)
TIMEOUT_VALUE = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 4.0], [0.0, 0.0]])
VALUE = torch.tensor([[1.0, 2.0], [2.0, 0.0], [0.0, 4.0], [4.0, 2.0]])
BOOTSTRAP = torch.tensor([[2.0, -2.0]])  # [1, B], as the sampler stores it
GAMMA, LAMBDA = 0.5, 0.5


def test_discount_return_with_timeout():
    # col 0: y3 = 4 + .5*2 = 5; y2 = 3 + .5*5 = 5.5; y1 = 2 (done); y0 = 1 + .5*2 = 2
    # col 1: y3 = 1 + .5*(-2) = 0; y2 = 0 + .5*4 = 2 (timeout: V(final obs) = 4);
    #        y1 = 1 + .5*2 = 2; y0 = 0 + .5*2 = 1
    expected = torch.tensor([[2.0, 1.0], [2.0, 2.0], [5.5, 2.0], [5.0, 0.0]])
    ret = discount_return(
        REWARD, DONE, BOOTSTRAP, GAMMA, timeout=TIMEOUT, timeout_value=TIMEOUT_VALUE
    )
    torch.testing.assert_close(ret, expected)


def test_discount_return_original_formula_without_timeout():
    # col 1 treats the cut as terminal: y2 = 0, y1 = 1 + .5*0 = 1, y0 = .5*1 = .5
    expected = torch.tensor([[2.0, 0.5], [2.0, 1.0], [5.5, 0.0], [5.0, 0.0]])
    torch.testing.assert_close(discount_return(REWARD, DONE, BOOTSTRAP, GAMMA), expected)


def test_gae_with_timeout():
    # gamma * lambda = 0.25.
    # col 0 (V = 1, 2, 0, 4; bv = 2):
    #   d3 = 4 + .5*2 - 4 = 1            A3 = 1
    #   d2 = 3 + .5*4 - 0 = 5            A2 = 5 + .25*1 = 5.25
    #   d1 = 2 + 0 - 2 = 0 (done)        A1 = 0 (trace cut)
    #   d0 = 1 + .5*2 - 1 = 1            A0 = 1 + .25*0 = 1
    # col 1 (V = 2, 0, 4, 2; bv = -2; timeout at t=2 with V(final) = 4):
    #   d3 = 1 + .5*(-2) - 2 = -2        A3 = -2
    #   d2 = 0 + .5*4 - 4 = -2           A2 = -2 (trace cut)
    #   d1 = 1 + .5*4 - 0 = 3            A1 = 3 + .25*(-2) = 2.5
    #   d0 = 0 + .5*0 - 2 = -2           A0 = -2 + .25*2.5 = -1.375
    adv_expected = torch.tensor([[1.0, -1.375], [0.0, 2.5], [5.25, -2.0], [1.0, -2.0]])
    ret_expected = torch.tensor([[2.0, 0.625], [2.0, 2.5], [5.25, 2.0], [5.0, 0.0]])
    adv, ret = generalized_advantage_estimation(
        REWARD, VALUE, DONE, BOOTSTRAP, GAMMA, LAMBDA, timeout=TIMEOUT, timeout_value=TIMEOUT_VALUE
    )
    torch.testing.assert_close(adv, adv_expected)
    torch.testing.assert_close(ret, ret_expected)


def test_gae_original_formula_without_timeout():
    # col 1: d2 = 0 + 0 - 4 = -4, A2 = -4; A1 = 3 + .25*(-4) = 2; A0 = -2 + .25*2 = -1.5
    adv_expected = torch.tensor([[1.0, -1.5], [0.0, 2.0], [5.25, -4.0], [1.0, -2.0]])
    adv, ret = generalized_advantage_estimation(REWARD, VALUE, DONE, BOOTSTRAP, GAMMA, LAMBDA)
    torch.testing.assert_close(adv, adv_expected)
    torch.testing.assert_close(ret, adv_expected + VALUE)


def test_gae_lambda_one_is_discounted_return_minus_value():
    kw = dict(timeout=TIMEOUT, timeout_value=TIMEOUT_VALUE)
    adv, ret = generalized_advantage_estimation(REWARD, VALUE, DONE, BOOTSTRAP, 0.9, 1.0, **kw)
    expected = discount_return(REWARD, DONE, BOOTSTRAP, 0.9, **kw)
    torch.testing.assert_close(ret, expected)
    torch.testing.assert_close(adv, expected - VALUE)


def test_gae_lambda_zero_is_one_step_td():
    adv, _ = generalized_advantage_estimation(REWARD, VALUE, DONE, BOOTSTRAP, GAMMA, 0.0)
    # col 0: deltas 1, 0, 5, 1 (see test_gae_with_timeout); col 1 (no timeout): -2, 3, -4, -2
    torch.testing.assert_close(
        adv, torch.tensor([[1.0, -2.0], [0.0, 3.0], [5.0, -4.0], [1.0, -2.0]])
    )


@pytest.mark.parametrize("gae_lambda", [0.95, 1.0])
def test_timeout_probe_value_fixed_point(gae_lambda):
    """Reward 1 forever, cut only by a time limit: the true value is 1/(1-gamma) everywhere."""
    gamma = 0.9
    v_star = 1.0 / (1.0 - gamma)  # 10
    T, B = 6, 3
    reward = torch.ones(T, B)
    done = torch.zeros(T, B, dtype=torch.bool)
    done[3, 0] = True  # column 0: time limit at t=3, then a new episode
    done[0, 1] = True  # column 1: time limit at the very first step
    done[T - 1, 2] = True  # column 2: time limit at the last step of the batch
    timeout = done.clone()
    timeout_value = torch.where(timeout, v_star, 0.0)
    bootstrap = torch.full((1, B), v_star)
    ret = discount_return(
        reward, done, bootstrap, gamma, timeout=timeout, timeout_value=timeout_value
    )
    torch.testing.assert_close(ret, torch.full((T, B), v_star))
    value = torch.full((T, B), v_star)
    adv, ret = generalized_advantage_estimation(
        reward,
        value,
        done,
        bootstrap,
        gamma,
        gae_lambda,
        timeout=timeout,
        timeout_value=timeout_value,
    )
    torch.testing.assert_close(ret, torch.full((T, B), v_star))
    torch.testing.assert_close(adv, torch.zeros(T, B))
    # Treating the cut as terminal would drag the value at the cut down to the reward.
    wrong = discount_return(reward, done, bootstrap, gamma)
    assert wrong[3, 0] == 1.0


def test_timeout_value_ignored_where_no_timeout():
    timeout_value = TIMEOUT_VALUE.clone()
    timeout_value[0, 0] = float("nan")  # garbage where there is no timeout must not leak
    ret = discount_return(
        REWARD, DONE, BOOTSTRAP, GAMMA, timeout=TIMEOUT, timeout_value=timeout_value
    )
    assert torch.isfinite(ret).all()


def test_timeout_needs_timeout_value():
    with pytest.raises(ValueError, match="timeout_value"):
        discount_return(REWARD, DONE, BOOTSTRAP, GAMMA, timeout=TIMEOUT)
    with pytest.raises(ValueError, match="timeout_value"):
        generalized_advantage_estimation(
            REWARD, VALUE, DONE, BOOTSTRAP, GAMMA, LAMBDA, timeout=TIMEOUT
        )


def test_dest_written_inputs_untouched_and_bootstrap_shapes():
    reward = REWARD.clone()
    dest = torch.full_like(reward, -7.0)
    out = discount_return(reward, DONE, BOOTSTRAP[0], GAMMA, return_dest=dest)  # [B] bootstrap
    assert out is dest
    torch.testing.assert_close(dest, discount_return(REWARD, DONE, BOOTSTRAP, GAMMA))
    torch.testing.assert_close(reward, REWARD)
    adv_dest, ret_dest = torch.zeros(4, 2), torch.zeros(4, 2)
    adv, ret = generalized_advantage_estimation(
        REWARD, VALUE, DONE, BOOTSTRAP, GAMMA, LAMBDA, advantage_dest=adv_dest, return_dest=ret_dest
    )
    assert adv is adv_dest and ret is ret_dest
    with pytest.raises(ValueError, match="dest shape"):
        discount_return(REWARD, DONE, BOOTSTRAP, GAMMA, return_dest=torch.zeros(3, 2))


def test_single_column_and_numpy():
    # [T] only: column 0 of the arrays above, scalar bootstrap.
    ret = discount_return(REWARD[:, 0], DONE[:, 0], 2.0, GAMMA)
    torch.testing.assert_close(ret, torch.tensor([2.0, 2.0, 5.5, 5.0]))
    ret_np = discount_return(
        REWARD.numpy(),
        DONE.numpy(),
        BOOTSTRAP.numpy(),
        GAMMA,
        timeout=TIMEOUT.numpy(),
        timeout_value=TIMEOUT_VALUE.numpy(),
    )
    assert isinstance(ret_np, np.ndarray)
    np.testing.assert_allclose(ret_np, [[2.0, 1.0], [2.0, 2.0], [5.5, 2.0], [5.0, 0.0]])
    adv_np, _ = generalized_advantage_estimation(
        REWARD.numpy(), VALUE.numpy(), DONE.numpy(), BOOTSTRAP.numpy(), GAMMA, LAMBDA
    )
    np.testing.assert_allclose(adv_np[:, 0], [1.0, 0.0, 5.25, 1.0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_numpy_loops_equal_the_torch_loops(monkeypatch, dtype):
    """CPU [T, B] batches loop over T in numpy (less dispatch per op): the results are
    the torch loop's, bit for bit, with time-limit cuts and episode ends."""
    import rlpyt.algos.utils as algo_utils

    g = torch.Generator().manual_seed(0)
    T, B = 32, 8
    reward, value, timeout_value = (torch.randn(T, B, generator=g, dtype=dtype) for _ in range(3))
    done = torch.rand(T, B, generator=g) < 0.15
    timeout = done & (torch.rand(T, B, generator=g) < 0.5)
    bootstrap = torch.randn(1, B, generator=g, dtype=dtype)

    def run():
        gae = generalized_advantage_estimation(
            reward, value, done, bootstrap, 0.98, 0.8, timeout=timeout, timeout_value=timeout_value
        )
        ret = discount_return(
            reward, done, bootstrap, 0.99, timeout=timeout, timeout_value=timeout_value
        )
        return (*gae, ret, discount_return(reward, done, 0.5, 0.9))

    assert algo_utils._loop_arrays(reward, done)[0] is np
    in_numpy = run()
    monkeypatch.setattr(algo_utils, "_loop_arrays", lambda *tensors: (torch, list(tensors)))
    for got, expected in zip(in_numpy, run()):
        assert got.dtype == dtype
        assert torch.equal(got, expected)


def test_valid_from_done_exact():
    done = torch.tensor([[0, 0, 1], [1, 0, 0], [0, 1, 1], [1, 0, 0]], dtype=torch.bool)
    expected = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    valid = valid_from_done(done)
    assert valid.dtype == torch.float32
    torch.testing.assert_close(valid, expected)
    torch.testing.assert_close(valid_from_done(done[:, 0].double()), expected[:, 0].double())
    np.testing.assert_array_equal(valid_from_done(done.numpy()), expected.numpy())


def test_linear_schedule_and_progress():
    assert progress(0, 10) == 0.0
    assert progress(5, 10) == 0.5
    assert progress(10, 10) == 1.0
    assert progress(12, 10) == 1.0  # clamped
    assert linear(1.0, 0.0, 0.0) == 1.0
    assert linear(1.0, 0.0, 0.5) == 0.5
    assert linear(1.0, 0.0, 1.0) == 0.0
    assert linear(0.5, 0.1, 2.0) == 0.1  # holds the end value past the end
    assert math.isclose(linear(1e-3, 1e-4, 0.25), 1e-3 - 0.25 * 9e-4)
    with pytest.raises(ValueError, match="n_itr"):
        progress(1, 0)


def test_validation_helpers():
    with pytest.raises(ValueError, match=r"^learning_rate must be > 0, got -0\.001$"):
        require_positive("learning_rate", -0.001)
    with pytest.raises(ValueError, match=r"^discount must be in \[0, 1\], got 1\.5$"):
        require_in_range("discount", 1.5, 0, 1)
    with pytest.raises(ValueError, match=r"must be in \(0, 1\], got 0"):
        require_in_range("p", 0, 0, 1, low_inclusive=False)
    with pytest.raises(ValueError, match="must be >= 0, got -1"):
        require_non_negative("coeff", -1)
    with pytest.raises(ValueError, match="minibatches must be >= 1, got 0"):
        require_int_at_least("minibatches", 0, 1)
    with pytest.raises(TypeError, match="epochs must be an integer, got 2.5"):
        require_int_at_least("epochs", 2.5, 1)
    with pytest.raises(ValueError, match="nan"):
        require_positive("learning_rate", float("nan"))
    with pytest.raises(TypeError, match="must be a number"):
        require_positive("learning_rate", "0.1")
    require_positive("x", 1e-9)
    require_in_range("discount", 1.0, 0.0, 1.0)
    require_int_at_least("epochs", np.int64(3), 1)


# -- A2C / PPO constructor validation ------------------------------------------------


@pytest.mark.parametrize(
    "Cls, kwargs, message",
    [
        (A2C, dict(learning_rate=-0.001), r"learning_rate must be > 0, got -0\.001"),
        (PPO, dict(learning_rate=0), r"learning_rate must be > 0, got 0"),
        (A2C, dict(discount=1.5), r"discount must be in \[0\.0, 1\.0\], got 1\.5"),
        (PPO, dict(discount=-0.1), r"discount must be in \[0\.0, 1\.0\], got -0\.1"),
        (PPO, dict(gae_lambda=1.2), r"gae_lambda must be in \[0\.0, 1\.0\], got 1\.2"),
        (A2C, dict(clip_grad_norm=0.0), r"clip_grad_norm must be > 0, got 0\.0"),
        (A2C, dict(value_loss_coeff=-1.0), r"value_loss_coeff must be >= 0, got -1\.0"),
        (PPO, dict(minibatches=0), r"minibatches must be >= 1, got 0"),
        (PPO, dict(epochs=0), r"epochs must be >= 1, got 0"),
        (PPO, dict(ratio_clip=-0.2), r"ratio_clip must be > 0, got -0\.2"),
    ],
)
def test_hyperparameter_validation(Cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Cls(**kwargs)
