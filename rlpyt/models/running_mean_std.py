"""Running mean and variance of observations, for input normalisation."""

import torch

from rlpyt.utils.tensor import infer_leading_dims

__all__ = ["RunningMeanStdModel"]


class RunningMeanStdModel(torch.nn.Module):
    """Tracks the mean and variance of inputs of data shape ``shape``; normalises by them.

    The statistics are buffers (saved in the ``state_dict``, moved with the
    model) and change only in :meth:`update` -- never in ``forward`` -- so
    sampling and evaluation do not shift them. They accumulate in float64:
    over millions of samples float32 sums drift.

    Args:
        shape: data shape of one input (e.g. the observation shape).
        clip: ``forward`` clamps normalised values to ``[-clip, clip]`` (``None``: no clamp).
        min_var: floor on the variance used by ``forward``, so a constant input
            dimension (zero variance) gives 0, not NaN or inf.
    """

    def __init__(self, shape, clip: float | None = None, min_var: float = 1e-8):
        super().__init__()
        self.shape = tuple(shape)
        self.clip = clip
        self.min_var = min_var
        self.register_buffer("mean", torch.zeros(self.shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(self.shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor):
        """Fold a batch ``[..., *shape]`` (``[]``, ``[B]`` or ``[T, B]`` leading dims) in.

        Chan et al.'s parallel update: exact mean and (population) variance of
        everything seen so far.
        """
        _, T, B, _ = infer_leading_dims(x, len(self.shape))
        x = x.reshape(T * B, *self.shape).to(device=self.mean.device, dtype=torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        batch_mean = x.mean(dim=0)
        batch_var = x.var(dim=0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / sqrt(max(var, min_var))``, clamped to ``clip``; dtype of ``x``."""
        mean = self.mean.to(x.dtype)
        std = torch.sqrt(torch.clamp(self.var, min=self.min_var)).to(x.dtype)
        out = (x - mean) / std
        if self.clip is not None:
            out = torch.clamp(out, -self.clip, self.clip)
        return out
