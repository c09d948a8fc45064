"""Optimizer set-up and the guarded gradient step shared by every algorithm.

The gradient steps of small RL networks are short (~2 ms for the CartPole MLPs),
so the fixed costs around them matter: torch's per-parameter CPU Adam, the
device/dtype grouping inside ``clip_grad_norm_`` and the wrappers of
``Optimizer.zero_grad`` were a third of each PPO step here
(``benchmarks/ppo_cartpole.py``). These helpers do the same math without them.
"""

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch

__all__ = [
    "make_optimizer",
    "GradientTools",
    "Optimizer",
    "build_optimizer",
    "GuardedStep",
    "MAX_NONFINITE_STEPS",
]


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


# -- the guarded step (FAULTS.md E1) ---------------------------------------------------

# Consecutive skipped (non-finite) gradient steps tolerated before training stops.
MAX_NONFINITE_STEPS = 3


class Optimizer(NamedTuple):
    """An optimizer with its parameter list and its :class:`GradientTools`."""

    optimizer: torch.optim.Optimizer
    tools: GradientTools
    params: list


def build_optimizer(OptimCls, params, learning_rate: float, optim_kwargs: dict | None = None):
    """:func:`make_optimizer` as an :class:`Optimizer` record (for :class:`GuardedStep`)."""
    params = list(params)
    optimizer = make_optimizer(OptimCls, params, learning_rate, optim_kwargs)
    return Optimizer(optimizer, GradientTools(optimizer), params)


def _all_finite(values: list) -> bool:
    """Whether every scalar tensor of ``values`` is finite.

    On the CPU each is read as a float (no device to sync with; one read is cheaper than
    ``isfinite``'s five operators); elsewhere they are combined on the device and read
    once, the one host sync of the step.
    """
    if all(value.device.type == "cpu" for value in values):
        return all(math.isfinite(value.item()) for value in values)
    finite = torch.isfinite(values[0].detach())
    for value in values[1:]:
        finite = finite & torch.isfinite(value.detach())
    return bool(finite)


class GuardedStep:
    """The one gradient step of every algorithm: backward, clip, and step -- or skip.

    :meth:`step` zeroes the gradients, runs one backward pass, clips each optimizer's
    gradient norm, and then, with one host sync, checks every loss and norm: when all are
    finite the optimizers step, exactly as an unguarded step would; when one is not (NaN or
    inf), no optimizer steps -- parameters and optimizer state stay as they were -- the
    gradients are dropped and the skip is counted (:attr:`skipped_steps`). After
    ``max_consecutive`` skipped steps in a row training stops with a ``FloatingPointError``
    naming the algorithm, the iteration and the loss terms with their values. Algorithms
    with several steps per update (a critic step, then a policy step) name them: skips
    in a row are counted per name, so a policy loss that stays NaN stops training even
    while the critic steps succeed.

    The check comes after the backward pass (a non-finite loss gets a backward pass whose
    gradients are then dropped), so every learner of a data-parallel run
    (:class:`~rlpyt.runners.sync_rl.SyncRl`) runs the same collectives and, seeing the same
    averaged gradients, skips the same steps.

    Args:
        algo_name: named in the error (e.g. ``"SAC"``).
        max_consecutive: skipped steps in a row that stop training (>= 1).
    """

    def __init__(self, algo_name: str, *, max_consecutive: int = MAX_NONFINITE_STEPS):
        if max_consecutive < 1:
            raise ValueError(f"max_consecutive must be >= 1, got {max_consecutive}")
        self.algo_name = algo_name
        self.max_consecutive = max_consecutive
        self.skipped_steps = 0  # in all
        self.streaks = {}  # step name -> skipped steps of that name in a row, up to the last

    def step(
        self,
        itr: int,
        pairs: Sequence[tuple[Optimizer, torch.Tensor]],
        max_grad_norm: float,
        terms: Mapping[str, torch.Tensor] | None = None,
        norm_names: Sequence[str] = ("gradNorm",),
        own_params_only: bool = False,
        name: str = "",
    ) -> tuple[list, bool]:
        """One guarded step of ``(optimizer, loss)`` pairs; returns ``(grad norms, applied)``.

        Args:
            itr: the training iteration (for the error).
            pairs: each optimizer with the loss it minimises; one backward pass for all
                (each loss should reach only its own optimizer's parameters).
            max_grad_norm: the clip of each optimizer's gradient norm.
            terms: the loss terms to name in the error (default: the losses, named
                ``loss``, ``loss1``, ...); they are read only when a step is skipped.
            norm_names: names of the gradient norms in the error, one per pair.
            own_params_only: backward only into the optimizers' parameters (their
                ``requires_grad`` ones), not every leaf of the graph: saves e.g. the
                critic's weight gradients of SAC's policy loss.
            name: which step of an update this is (e.g. ``"q"``, ``"pi"``), for the
                count of skips in a row.
        """
        params = [] if own_params_only else None
        for opt, _loss in pairs:
            opt.tools.zero_grad()
            if own_params_only:
                params.extend(p for p in opt.params if p.requires_grad)
        losses = [loss for _opt, loss in pairs]
        torch.autograd.backward(losses, inputs=params or None)
        norms = [opt.tools.clip_grad_norm(max_grad_norm) for opt, _loss in pairs]
        if _all_finite(losses + norms):
            for opt, _loss in pairs:
                opt.optimizer.step()
            self.streaks[name] = 0
            return norms, True
        self._skip(itr, [opt for opt, _loss in pairs], losses, norms, terms, norm_names, name)
        return norms, False

    def apply(
        self, itr: int, opt: Optimizer, max_grad_norm: float, name: str = ""
    ) -> tuple[torch.Tensor, bool]:
        """The guarded step on gradients already in ``opt``'s parameters' ``.grad``.

        For gradients computed elsewhere (the Ray scheme's gradient workers): clip,
        check the norm, step or skip, exactly as :meth:`step` after its backward pass.
        Returns ``(grad norm, applied)``.
        """
        norm = opt.tools.clip_grad_norm(max_grad_norm)
        if bool(torch.isfinite(norm)):
            opt.optimizer.step()
            self.streaks[name] = 0
            return norm, True
        self._skip(itr, [opt], [], [norm], None, ("gradNorm",), name)
        return norm, False

    def _skip(self, itr, opts, losses, norms, terms, norm_names, name):
        """Drop the gradients, count the skip; raise after ``max_consecutive`` in a row."""
        for opt in opts:
            opt.tools.zero_grad()  # leave no non-finite gradient behind
        self.skipped_steps += 1
        streak = self.streaks[name] = self.streaks.get(name, 0) + 1
        if streak >= self.max_consecutive:
            if terms is None:
                terms = {f"loss{i or ''}": loss for i, loss in enumerate(losses)}
            which = f"{name} " if name else ""
            raise FloatingPointError(
                f"{self.algo_name}: {streak} non-finite {which}gradient steps in a row, the "
                f"last at itr {itr}: {describe(terms, dict(zip(norm_names, norms)))}. Each "
                f"was skipped ({self.skipped_steps} in all). Check observations and rewards "
                "for NaN/inf, or lower the learning rate."
            )

    def state_dict(self) -> dict:
        return dict(skipped_steps=self.skipped_steps, nonfinite_streaks=dict(self.streaks))

    def load_state_dict(self, state_dict: dict):
        self.skipped_steps = state_dict["skipped_steps"]
        self.streaks = dict(state_dict["nonfinite_streaks"])


def describe(terms: Mapping[str, torch.Tensor], norms: Mapping[str, torch.Tensor]) -> str:
    """``"non-finite pi_loss=nan, gradNorm=nan (finite: value_loss=0.52)"``."""
    values = {name: float(value.detach()) for name, value in {**terms, **norms}.items()}
    bad = [f"{k}={v}" for k, v in values.items() if not math.isfinite(v)]
    good = [f"{k}={v:.4g}" for k, v in values.items() if math.isfinite(v)]
    return f"non-finite {', '.join(bad)}" + (f" (finite: {', '.join(good)})" if good else "")
