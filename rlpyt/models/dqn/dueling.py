"""Dueling Q heads (Wang et al., 2016): a state value stream plus a centred advantage stream."""

import torch

from rlpyt.models.mlp import MlpModel
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = ["DuelingHeadModel", "DistributionalDuelingHeadModel", "scale_grad"]


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``scale`` on the way back."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged, but the gradient flowing back into ``x`` is multiplied by ``scale``."""
    if scale == 1 or not x.requires_grad:
        return x
    return _ScaleGrad.apply(x, scale)


class DuelingHeadModel(torch.nn.Module):
    """``Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a')``.

    Centring the advantages (Wang et al. 2016, eq. 9) makes V and A identifiable.
    Input ``[N, input_size]``; output ``[N, output_size]``. Each stream is an MLP
    with ``hidden_sizes`` (``None``/empty: a single linear layer).

    ``grad_scale``: the gradient entering the shared features below is scaled by
    it (the paper uses 1/sqrt(2), since both streams back-propagate into them).
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes,
        output_size: int,
        grad_scale: float = 2**-0.5,
    ):
        super().__init__()
        output_size = require_int_at_least("output_size", output_size, 1)
        require_positive("grad_scale", grad_scale)
        self.value = MlpModel(input_size, hidden_sizes, output_size=1)
        self.advantage = MlpModel(input_size, hidden_sizes, output_size=output_size)
        self.grad_scale = grad_scale

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x = scale_grad(input, self.grad_scale)
        advantage = self.advantage(x)
        return self.value(x) + (advantage - advantage.mean(dim=-1, keepdim=True))


class DistributionalDuelingHeadModel(torch.nn.Module):
    """Dueling head over value atoms: logits ``[N, output_size, n_atoms]``.

    ``logits[n, a] = V(s)[n] + A(s, a)[n] - mean_a' A(s, a')[n]``, each an
    ``[n_atoms]`` vector; the caller applies the softmax over atoms (C51 with a
    dueling head, as in Rainbow, Hessel et al. 2018).
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes,
        output_size: int,
        n_atoms: int,
        grad_scale: float = 2**-0.5,
    ):
        super().__init__()
        output_size = require_int_at_least("output_size", output_size, 1)
        n_atoms = require_int_at_least("n_atoms", n_atoms, 2)
        require_positive("grad_scale", grad_scale)
        self.value = MlpModel(input_size, hidden_sizes, output_size=n_atoms)
        self.advantage = MlpModel(input_size, hidden_sizes, output_size=output_size * n_atoms)
        self.output_size = output_size
        self.n_atoms = n_atoms
        self.grad_scale = grad_scale

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x = scale_grad(input, self.grad_scale)
        advantage = self.advantage(x).view(-1, self.output_size, self.n_atoms)
        value = self.value(x).view(-1, 1, self.n_atoms)
        return value + (advantage - advantage.mean(dim=1, keepdim=True))
