"""Optimizer set-up and the per-step gradient chores shared by every algorithm.

The gradient steps of small RL networks are short (~2 ms for the CartPole MLPs),
so the fixed costs around them matter: torch's per-parameter CPU Adam, the
device/dtype grouping inside ``clip_grad_norm_`` and the wrappers of
``Optimizer.zero_grad`` were a third of each PPO step here
(``benchmarks/ppo_cartpole.py``). These helpers do the same math without them.
"""

import torch

__all__ = ["make_optimizer", "GradientTools"]


def make_optimizer(OptimCls, params, learning_rate: float, optim_kwargs: dict | None = None):
    """``OptimCls(params, lr=learning_rate, **optim_kwargs)``.

    Adam (and AdamW), unless ``optim_kwargs`` chooses an implementation, use the
    fused kernel: the same update, applied to all parameters in one op.
    Parameters the fused kernel cannot take fall back to the default.
    """
    kwargs = dict(optim_kwargs or {})
    params = list(params)
    if (
        OptimCls in (torch.optim.Adam, torch.optim.AdamW)
        and not {"fused", "foreach"} & kwargs.keys()
    ):
        try:
            return OptimCls(params, lr=learning_rate, fused=True, **kwargs)
        except (RuntimeError, ValueError):
            pass  # e.g. non-float parameters, or a device without the fused kernel
    return OptimCls(params, lr=learning_rate, **kwargs)


class GradientTools:
    """``zero_grad`` and ``clip_grad_norm`` for one optimizer's parameters, gathered once."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self._plain_zero_grad = type(optimizer).zero_grad is torch.optim.Optimizer.zero_grad
        self._foreach_clip = bool(self.params) and all(
            p.device == self.params[0].device
            and p.dtype == self.params[0].dtype
            and p.device.type in ("cpu", "cuda")
            for p in self.params
        )

    def zero_grad(self):
        """``optimizer.zero_grad()`` (gradients set to None) without its wrappers (20 us)."""
        if self._plain_zero_grad:
            for p in self.params:
                p.grad = None
        else:
            self.optimizer.zero_grad()

    def clip_grad_norm(self, max_norm: float) -> torch.Tensor:
        """``torch.nn.utils.clip_grad_norm_(params, max_norm)``; returns the total norm.

        For parameters of one device and dtype (the usual case) the same
        computation as torch's (foreach norms, their norm, one foreach scale by
        ``min(max_norm / (norm + 1e-6), 1)``), without its per-call grouping
        of tensors by device and dtype, which took half its time here. On the
        CPU, where reading the norm costs no device sync, the scaling is skipped
        when the clip does not bind (a coefficient of 1 would change nothing).
        """
        grads = [p.grad for p in self.params if p.grad is not None]
        if not self._foreach_clip or not grads or any(g.is_sparse for g in grads):
            return torch.nn.utils.clip_grad_norm_(self.params, max_norm)
        total_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
        clip_coef = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
        if total_norm.device.type != "cpu" or clip_coef.item() < 1.0:
            torch._foreach_mul_(grads, clip_coef)
        return total_norm
