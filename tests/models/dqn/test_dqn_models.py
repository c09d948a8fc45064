"""DQN-family models: dueling math, leading dims, distributional outputs, R2D1 recurrence."""

import pytest
import torch

from rlpyt.models.dqn.atari_catdqn_model import AtariCatDqnModel
from rlpyt.models.dqn.atari_dqn_model import AtariDqnModel
from rlpyt.models.dqn.atari_r2d1_model import AtariR2d1Model
from rlpyt.models.dqn.dueling import DistributionalDuelingHeadModel, DuelingHeadModel
from rlpyt.models.dqn.mlp import CatDqnMlpModel, DqnMlpModel, R2d1MlpModel
from rlpyt.models.utils import RnnState

torch.set_num_threads(1)

A = 3
T, B = 3, 2
IMAGE = (4, 84, 84)
OBS = (5,)


def _set_linear(linear, weight, bias):
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        linear.bias.copy_(torch.tensor(bias, dtype=torch.float32))


# -- dueling heads -----------------------------------------------------------------


def _hand_set_dueling_head(grad_scale=2**-0.5):
    head = DuelingHeadModel(2, None, A, grad_scale=grad_scale)
    _set_linear(head.value.model[0], [[1.0, 2.0]], [0.5])
    _set_linear(head.advantage.model[0], [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]], [0.0, 1.0, -1.0])
    return head


def test_dueling_head_is_value_plus_centred_advantage():
    head = _hand_set_dueling_head()
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    # row 0: V = 1 + 4 + 0.5 = 5.5; A = [1, 3, 5], mean 3 -> Q = 5.5 + [-2, 0, 2]
    # row 1: V = 0 - 2 + 0.5 = -1.5; A = [0, 0, -3], mean -1 -> Q = -1.5 + [1, 1, -2]
    expected = torch.tensor([[3.5, 5.5, 7.5], [-0.5, -0.5, -3.5]])
    assert torch.equal(head(x), expected)


def test_dueling_head_scales_the_gradient_into_its_input():
    x1 = torch.tensor([[1.0, 2.0]], requires_grad=True)
    x2 = torch.tensor([[1.0, 2.0]], requires_grad=True)
    _hand_set_dueling_head(grad_scale=0.5)(x1).sum().backward()
    _hand_set_dueling_head(grad_scale=1.0)(x2).sum().backward()
    # d sum(Q) / dx = 3 * w_V + sum_a (w_A[a] - mean w_A) = 3 * [1, 2] = [3, 6]
    assert torch.equal(x2.grad, torch.tensor([[3.0, 6.0]]))
    assert torch.equal(x1.grad, torch.tensor([[1.5, 3.0]]))


def test_distributional_dueling_head_math():
    n_atoms = 2
    head = DistributionalDuelingHeadModel(1, [], 2, n_atoms)
    _set_linear(head.value.model[0], [[1.0], [-1.0]], [0.0, 0.0])  # V = [x, -x]
    # A[a=0] = [x, 0], A[a=1] = [3x, 2]: mean over actions [2x, 1]
    _set_linear(head.advantage.model[0], [[1.0], [0.0], [3.0], [0.0]], [0.0, 0.0, 0.0, 2.0])
    logits = head(torch.tensor([[2.0]]))
    assert logits.shape == (1, 2, n_atoms)
    # V + A - mean: a=0: [2, -2] + [2, 0] - [4, 1] = [0, -3]; a=1: [2, -2] + [6, 2] - [4, 1] = [4, -1]
    assert torch.equal(logits, torch.tensor([[[0.0, -3.0], [4.0, -1.0]]]))


# -- leading dims --------------------------------------------------------------------


def _inputs(obs_shape, dtype, lead):
    g = torch.Generator().manual_seed(0)
    if dtype == torch.uint8:
        obs = torch.randint(0, 256, lead + obs_shape, generator=g, dtype=torch.uint8)
    else:
        obs = torch.randn(lead + obs_shape, generator=g)
    prev_action = torch.nn.functional.one_hot(torch.randint(0, A, lead, generator=g), A).float()
    prev_reward = torch.randn(lead, generator=g)
    return obs, prev_action, prev_reward


FF_MODELS = {
    "atari_dqn": lambda d: AtariDqnModel(IMAGE, A, fc_sizes=16, dueling=d),
    "atari_catdqn": lambda d: AtariCatDqnModel(IMAGE, A, n_atoms=5, fc_sizes=16, dueling=d),
    "mlp_dqn": lambda d: DqnMlpModel(OBS, A, hidden_sizes=(8, 8), dueling=d),
    "mlp_catdqn": lambda d: CatDqnMlpModel(OBS, A, hidden_sizes=(8,), n_atoms=5, dueling=d),
}
RNN_MODELS = {
    "atari_r2d1": lambda d: AtariR2d1Model(
        IMAGE, A, fc_size=16, lstm_size=8, head_size=8, dueling=d
    ),
    "mlp_r2d1": lambda d: R2d1MlpModel(OBS, A, hidden_sizes=(8,), lstm_size=8, dueling=d),
}


def _obs_spec(name):
    return (IMAGE, torch.uint8) if name.startswith("atari") else (OBS, torch.float32)


@pytest.mark.parametrize("dueling", [False, True])
@pytest.mark.parametrize("name", sorted(FF_MODELS))
def test_ff_models_accept_every_leading_dims(name, dueling):
    torch.manual_seed(0)
    model = FF_MODELS[name](dueling)
    out_shape = (A, 5) if "cat" in name else (A,)
    obs, pa, pr = _inputs(*_obs_spec(name), (T, B))
    out_tb = model(obs, pa, pr)
    assert out_tb.shape == (T, B) + out_shape
    out_b = model(obs[1], pa[1], pr[1])
    assert out_b.shape == (B,) + out_shape
    out_0 = model(obs[1, 0], pa[1, 0], pr[1, 0])
    assert out_0.shape == out_shape
    assert torch.allclose(out_tb[1], out_b, atol=1e-6)
    assert torch.allclose(out_b[0], out_0, atol=1e-6)
    if "cat" in name:  # probabilities over atoms
        assert torch.allclose(out_tb.sum(-1), torch.ones(T, B, A), atol=1e-6)
        assert bool((out_tb >= 0).all())


@pytest.mark.parametrize("dueling", [False, True])
@pytest.mark.parametrize("name", sorted(RNN_MODELS))
def test_rnn_models_leading_dims_and_state_shapes(name, dueling):
    torch.manual_seed(0)
    model = RNN_MODELS[name](dueling)
    obs, pa, pr = _inputs(*_obs_spec(name), (T, B))
    q, state = model(obs, pa, pr, None)
    assert q.shape == (T, B, A)
    assert isinstance(state, RnnState)
    assert state.h.shape == state.c.shape == (B, 1, 8)
    q_b, state_b = model(obs[0], pa[0], pr[0], None)
    assert q_b.shape == (B, A) and state_b.h.shape == (B, 1, 8)
    assert torch.allclose(q_b, q[0], atol=1e-6)
    q_0, state_0 = model(obs[0, 1], pa[0, 1], pr[0, 1], None)
    assert q_0.shape == (A,) and state_0.h.shape == (1, 1, 8)  # the state keeps B = 1
    assert torch.allclose(q_0, q[0, 1], atol=1e-6)


@pytest.mark.parametrize("name", sorted(RNN_MODELS))
def test_rnn_sequence_at_once_equals_step_by_step(name):
    torch.manual_seed(0)
    model = RNN_MODELS[name](False)
    obs, pa, pr = _inputs(*_obs_spec(name), (T, B))
    init = RnnState(h=torch.randn(B, 1, 8), c=torch.randn(B, 1, 8))
    q_seq, state_seq = model(obs, pa, pr, init)
    state, qs = init, []
    for t in range(T):
        q_t, state = model(obs[t], pa[t], pr[t], state)
        qs.append(q_t)
    assert torch.allclose(torch.stack(qs), q_seq, atol=1e-6)
    assert torch.allclose(state.h, state_seq.h, atol=1e-6)
    assert torch.allclose(state.c, state_seq.c, atol=1e-6)


@pytest.mark.parametrize("name", sorted(RNN_MODELS))
def test_rnn_models_read_prev_action_and_prev_reward(name):
    torch.manual_seed(0)
    model = RNN_MODELS[name](False)
    obs, pa, pr = _inputs(*_obs_spec(name), (B,))
    q = model(obs, pa, pr)[0]
    assert not torch.allclose(model(obs, pa, pr + 1.0)[0], q)
    assert not torch.allclose(model(obs, pa.roll(1, dims=-1), pr)[0], q)


def test_atari_models_default_to_the_nature_network():
    model = AtariDqnModel(IMAGE, 6)
    # 84 -> 20 -> 9 -> 7: 7 * 7 * 64 = 3136 features into a 512 unit layer.
    assert model.head.model[0].in_features == 3136
    assert model.head.model[0].out_features == 512
    n_params = sum(p.numel() for p in model.parameters())
    conv = (4 * 32 * 64 + 32) + (32 * 64 * 16 + 64) + (64 * 64 * 9 + 64)
    assert n_params == conv + (3136 * 512 + 512) + (512 * 6 + 6)
    r2d1 = AtariR2d1Model(IMAGE, 6)
    assert r2d1.lstm.input_size == 512 + 6 + 1 and r2d1.lstm.hidden_size == 512
    cat = AtariCatDqnModel(IMAGE, 6)
    assert cat.head.model[-1].out_features == 6 * 51


def test_atari_models_scale_uint8_frames():
    torch.manual_seed(0)
    model = AtariDqnModel(IMAGE, A, fc_sizes=8)
    frames = torch.randint(0, 256, (2,) + IMAGE, dtype=torch.uint8)
    assert torch.equal(model(frames), model(frames.float()))  # both scaled by 1/255


def test_dueling_mlp_splits_only_the_last_hidden_layer():
    model = DqnMlpModel(OBS, A, hidden_sizes=(8, 6), dueling=True)
    assert model.body.output_size == 8
    assert model.head.value.model[0].in_features == 8
    assert model.head.value.model[0].out_features == 6


def test_bad_sizes_rejected():
    with pytest.raises(ValueError, match="n_atoms"):
        CatDqnMlpModel(OBS, A, n_atoms=1)
    with pytest.raises(ValueError, match="n_atoms"):
        AtariCatDqnModel(IMAGE, A, n_atoms=0)
    with pytest.raises(ValueError, match="output_size"):
        DuelingHeadModel(4, None, 0)
