import pytest
import torch

from rlpyt.utils.tensor import (
    from_onehot,
    infer_leading_dims,
    restore_leading_dims,
    select_at_indexes,
    to_onehot,
    valid_mean,
)


@pytest.mark.parametrize(
    "shape, expected",
    [((4,), (0, 1, 1, (4,))), ((3, 4), (1, 1, 3, (4,))), ((2, 3, 4), (2, 2, 3, (4,)))],
)
def test_infer_leading_dims(shape, expected):
    assert infer_leading_dims(torch.zeros(shape), 1) == expected


def test_infer_leading_dims_image_and_errors():
    assert infer_leading_dims(torch.zeros(5, 4, 84, 84), 3) == (1, 1, 5, (4, 84, 84))
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 4\)"):
        infer_leading_dims(torch.zeros(1, 2, 3, 4), 1)


def test_fold_and_restore_roundtrip():
    x = torch.arange(24.0).reshape(2, 3, 4)
    lead_dim, T, B, shape = infer_leading_dims(x, 1)
    flat = x.view(T * B, *shape)
    out = flat.sum(-1, keepdim=True)
    restored = restore_leading_dims(out, lead_dim, T, B)
    assert restored.shape == (2, 3, 1)
    assert torch.equal(restored[..., 0], x.sum(-1))
    a, b, none = restore_leading_dims((flat, flat[:, :2], None), lead_dim, T, B)
    assert a.shape == (2, 3, 4) and b.shape == (2, 3, 2) and none is None
    single = restore_leading_dims(torch.zeros(1, 4), 0)
    assert single.shape == (4,)
    assert restore_leading_dims([torch.zeros(5, 2)], 1, 1, 5)[0].shape == (5, 2)
    with pytest.raises(ValueError, match="lead_dim 0"):
        restore_leading_dims(torch.zeros(3, 4), 0)


def test_valid_mean_exact():
    x = torch.tensor([[1.0, 2.0], [3.0, 10.0]])
    valid = torch.tensor([[1, 1], [1, 0]])
    assert valid_mean(x, valid).item() == pytest.approx(2.0)
    assert valid_mean(x).item() == pytest.approx(4.0)
    assert torch.allclose(valid_mean(x, valid, dim=0), torch.tensor([2.0, 2.0]))
    # Trailing dims broadcast; no valid entry gives 0, not NaN.
    y = torch.ones(2, 2, 3)
    assert valid_mean(y, valid).item() == pytest.approx(1.0)
    assert valid_mean(x, torch.zeros(2, 2)).item() == 0.0


def test_select_at_indexes_exact():
    q = torch.arange(24.0).reshape(2, 3, 4)
    idx = torch.tensor([[0, 3, 1], [2, 2, 0]])
    expected = torch.tensor([[0.0, 7.0, 9.0], [14.0, 18.0, 20.0]])
    assert torch.equal(select_at_indexes(idx, q), expected)
    # Extra trailing dims (e.g. C51 atoms) are kept.
    z = torch.arange(12.0).reshape(3, 2, 2)
    assert torch.equal(
        select_at_indexes(torch.tensor([1, 0, 1]), z),
        torch.tensor([[2.0, 3.0], [4.0, 5.0], [10.0, 11.0]]),
    )
    with pytest.raises(ValueError, match="leading dims"):
        select_at_indexes(torch.tensor([0, 1, 2]), q)


def test_onehot_roundtrip():
    idx = torch.tensor([[0, 2], [1, 3]])
    oh = to_onehot(idx, 4, dtype=torch.float32)
    assert oh.shape == (2, 2, 4) and oh.dtype == torch.float32
    assert torch.equal(oh[0, 1], torch.tensor([0.0, 0.0, 1.0, 0.0]))
    assert oh.sum().item() == 4
    assert torch.equal(from_onehot(oh), idx)
    assert from_onehot(oh, dtype=torch.int32).dtype == torch.int32
