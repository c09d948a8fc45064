"""Models: sizes, leading-dim folding ([], [B], [T, B]) and observation normalisation."""

import pytest
import torch

from rlpyt.models.conv2d import Conv2dHeadModel, Conv2dModel
from rlpyt.models.mlp import MlpModel
from rlpyt.models.pg.atari_ff_model import AtariFfModel
from rlpyt.models.pg.atari_lstm_model import AtariLstmModel
from rlpyt.models.pg.categorical_mlp_model import CategoricalPgLstmModel, CategoricalPgMlpModel
from rlpyt.models.pg.mujoco_ff_model import MujocoFfModel
from rlpyt.models.pg.mujoco_lstm_model import MujocoLstmModel
from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.models.utils import RnnState, update_state_dict

T, B = 3, 2
IMAGE = (4, 84, 84)


def test_mlp_output_size():
    assert MlpModel(5, [8, 7]).output_size == 7
    assert MlpModel(5, 8, output_size=3).output_size == 3
    assert MlpModel(5, None).output_size == 5
    m = MlpModel(5, [8], output_size=2)
    assert m(torch.zeros(4, 5)).shape == (4, 2)
    assert isinstance(m.model[-1], torch.nn.Linear)  # no nonlinearity after the output


@pytest.mark.parametrize("use_maxpool", [False, True])
def test_conv_out_size_matches_forward(use_maxpool):
    conv = Conv2dModel(4, [16, 32], [8, 4], [4, 2], paddings=[0, 1], use_maxpool=use_maxpool)
    out = conv(torch.zeros(1, *IMAGE))
    assert conv.conv_out_size(84, 84) == out.numel()
    head = Conv2dHeadModel(
        IMAGE, [16, 32], [8, 4], [4, 2], hidden_sizes=[24], output_size=5, use_maxpool=use_maxpool
    )
    assert head(torch.zeros(3, *IMAGE)).shape == (3, 5) and head.output_size == 5
    bare = Conv2dHeadModel(IMAGE, [16], [8], [4], hidden_sizes=None)
    assert bare(torch.zeros(2, *IMAGE)).shape == (2, bare.output_size)
    with pytest.raises(ValueError, match="one entry per conv layer"):
        Conv2dModel(4, [16, 32], [8], [4, 2])


def _stack(outs):
    """Stack per-(t, b) outputs (lists of tuples of tensors) into [T, B, ...] tensors."""
    return [
        torch.stack([torch.stack([o[k] for o in row]) for row in outs])
        for k in range(len(outs[0][0]))
    ]


FF_CASES = {
    "atari_ff": lambda: (
        AtariFfModel(IMAGE, output_size=6, fc_sizes=32),
        torch.randint(0, 256, (T, B, *IMAGE), dtype=torch.uint8),
        6,
    ),
    "mujoco_ff": lambda: (MujocoFfModel((5,), action_size=2), torch.randn(T, B, 5), None),
    "categorical_mlp": lambda: (
        CategoricalPgMlpModel((4,), action_size=3),
        torch.randn(T, B, 4),
        3,
    ),
}


@pytest.mark.parametrize("name", list(FF_CASES))
def test_ff_models_fold_leading_dims(name):
    torch.manual_seed(0)
    model, obs, n_actions = FF_CASES[name]()
    prev_action = torch.zeros(T, B, n_actions or 2)
    prev_reward = torch.zeros(T, B)
    full = model(obs, prev_action, prev_reward)
    singles = [
        [model(obs[t, b], prev_action[t, b], prev_reward[t, b]) for b in range(B)] for t in range(T)
    ]
    for got, want in zip(full, _stack(singles)):
        assert got.shape[:2] == (T, B)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    batch = model(obs[1], prev_action[1], prev_reward[1])
    for got, want in zip(batch, full):
        torch.testing.assert_close(got, want[1], atol=1e-5, rtol=1e-5)
    if n_actions:  # categorical: probabilities
        torch.testing.assert_close(full[0].sum(-1), torch.ones(T, B))


LSTM_CASES = {
    "atari_lstm": lambda: (
        AtariLstmModel(IMAGE, output_size=6, fc_sizes=32, lstm_size=16),
        torch.randint(0, 256, (T, B, *IMAGE), dtype=torch.uint8),
        6,
    ),
    "mujoco_lstm": lambda: (
        MujocoLstmModel((5,), action_size=2, hidden_sizes=[16], lstm_size=8),
        torch.randn(T, B, 5),
        2,
    ),
    "categorical_lstm": lambda: (
        CategoricalPgLstmModel((4,), action_size=3),
        torch.randn(T, B, 4),
        3,
    ),
}


@pytest.mark.parametrize("name", list(LSTM_CASES))
def test_lstm_models_fold_leading_dims_and_thread_state(name):
    torch.manual_seed(0)
    model, obs, n_act = LSTM_CASES[name]()
    prev_action = torch.randn(T, B, n_act)
    prev_reward = torch.randn(T, B)
    *full, next_state = model(obs, prev_action, prev_reward, None)
    H = model.lstm.hidden_size
    assert isinstance(next_state, RnnState)
    assert next_state.h.shape == (B, 1, H) and next_state.c.shape == (B, 1, H)
    # T single-step [B] calls, threading the state, equal the [T, B] call.
    state, steps = None, []
    for t in range(T):
        *out, state = model(obs[t], prev_action[t], prev_reward[t], state)
        steps.append(out)
    for k, got in enumerate(full):
        torch.testing.assert_close(got, torch.stack([s[k] for s in steps]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state.h, next_state.h, atol=1e-5, rtol=1e-5)
    # An unbatched call ([] leading dims) equals env b of the batch; the state keeps B = 1.
    *one, one_state = model(obs[0, 1], prev_action[0, 1], prev_reward[0, 1], None)
    for k, got in enumerate(one):
        torch.testing.assert_close(got, steps[0][k][1], atol=1e-5, rtol=1e-5)
    assert one_state.h.shape == (1, 1, H)
    # A nonzero initial state [B, N, H] is honoured (per env, batch first).
    init = RnnState(h=torch.randn(B, 1, H), c=torch.randn(B, 1, H))
    *from_init, _ = model(obs, prev_action, prev_reward, init)
    *env1, _ = model(obs[:, 1:], prev_action[:, 1:], prev_reward[:, 1:], init[1:])
    for got, want in zip(from_init, env1):
        torch.testing.assert_close(got[:, 1:], want, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(from_init[0], full[0])


def test_categorical_mlp_model_init():
    model = CategoricalPgMlpModel((4,), action_size=2)
    w = model.pi.model[0].weight  # [64, 4]: orthonormal columns scaled by sqrt(2)
    torch.testing.assert_close(w.T @ w, 2 * torch.eye(4), atol=1e-5, rtol=0)
    pi, _ = model(torch.randn(100, 4))
    assert (pi - 0.5).abs().max() < 0.05  # near-uniform first policy (0.01 head gain)
    assert model.value.model[-1].weight.norm().item() == pytest.approx(1.0, abs=1e-5)


# -- running mean/std -----------------------------------------------------------


def test_running_mean_std_exact():
    rms = RunningMeanStdModel((3,))
    g = torch.Generator().manual_seed(0)
    batches = [
        torch.randn(5, 4, 3, generator=g) * 3 + 1,
        torch.randn(7, 3, generator=g),
        torch.randn(3, generator=g),
    ]
    for x in batches:
        rms.update(x)
    data = torch.cat([x.reshape(-1, 3) for x in batches]).double()
    assert rms.count.item() == data.shape[0]
    torch.testing.assert_close(rms.mean, data.mean(0))
    torch.testing.assert_close(rms.var, data.var(0, unbiased=False))
    x = torch.randn(2, 3)
    expected = ((x.double() - data.mean(0)) / data.std(0, unbiased=False)).float()
    torch.testing.assert_close(rms(x), expected)
    # The statistics travel in the state dict.
    other = RunningMeanStdModel((3,))
    other.load_state_dict(rms.state_dict())
    torch.testing.assert_close(other(x), rms(x))


def test_running_mean_std_zero_variance_and_clip():
    rms = RunningMeanStdModel((2,), clip=5.0)
    out = rms(torch.tensor([3.0, -100.0]))  # before any update: identity, then clip
    assert torch.equal(out, torch.tensor([3.0, -5.0]))
    rms.update(torch.tensor([[1.0, 2.0], [1.0, 4.0]]))  # first dim constant
    out = rms(torch.tensor([[1.0, 3.0], [1.5, 3.0]]))
    assert torch.isfinite(out).all()
    assert out[0, 0] == 0 and out[1, 0] == 5.0 and out[0, 1] == 0
    before = rms.state_dict()["mean"].clone()
    rms(torch.randn(10, 2))  # forward never updates
    assert torch.equal(rms.mean, before)


def test_mujoco_obs_normalisation_updates_only_on_request():
    model = MujocoFfModel((3,), action_size=1, normalize_observation=True)
    assert "obs_rms.mean" in model.state_dict()
    obs = torch.randn(4, 5, 3) * 10 + 5
    model(obs)
    assert model.obs_rms.count.item() == 0
    model.update_obs_rms(obs)
    assert model.obs_rms.count.item() == 20
    torch.testing.assert_close(model.obs_rms.mean, obs.reshape(-1, 3).double().mean(0))
    mu, log_std, v = model(obs)
    assert torch.isfinite(mu).all() and torch.isfinite(v).all()
    assert "obs_rms.mean" not in MujocoFfModel((3,), action_size=1).state_dict()
    MujocoFfModel((3,), action_size=1).update_obs_rms(obs)  # no-op without normalisation


def test_mujoco_ff_log_std_is_learned_parameter():
    model = MujocoFfModel((3,), action_size=2, init_log_std=-0.5)
    mu, log_std, _ = model(torch.randn(4, 3))
    assert torch.equal(log_std, torch.full((4, 2), -0.5))
    assert mu.abs().max() <= 1  # tanh on the mean by default
    log_std.sum().backward()
    assert torch.equal(model.log_std.grad, torch.full((2,), 4.0))


def test_update_state_dict_soft_and_hard():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    w_a, w_b = a.weight.detach().clone(), b.weight.detach().clone()
    update_state_dict(a, b.state_dict(), tau=0.25)
    torch.testing.assert_close(a.weight.detach(), 0.75 * w_a + 0.25 * w_b)
    update_state_dict(a, b.state_dict())
    assert torch.equal(a.weight, b.weight)


def test_conv_stack_with_gradients_runs_channels_last_and_returns_the_same():
    """A differentiated CPU pass takes the channels-last layout (faster backward); the output
    is contiguous in the default layout and equals the default layout's (and the gradients
    too) up to float rounding; forward-only passes keep the default layout."""
    torch.manual_seed(0)
    model = Conv2dModel(4, [8, 16], [5, 3], [2, 1])
    x = torch.rand(3, 4, 21, 21)
    seen = []
    model.conv[0].register_forward_pre_hook(
        lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    out = model(x)
    assert seen == [True] and out.is_contiguous()
    out.square().sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    with torch.no_grad():
        plain = model(x)
    assert seen == [True, False] and plain.is_contiguous()
    torch.testing.assert_close(out.detach(), plain, rtol=1e-5, atol=1e-6)
    model.zero_grad()
    model.conv(x).square().sum().backward()  # the stack itself, default layout
    for got, expected in zip(grads, (p.grad for p in model.parameters())):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
