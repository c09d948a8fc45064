"""Diagonal Gaussian over ``dim`` action dimensions, optionally clipped or tanh-squashed.

The standard deviation comes either from the dist info (``DistInfoStd(mean,
log_std)``, a learned std) or is fixed on the distribution (``std=`` or
:meth:`Gaussian.set_std`, used with ``DistInfo(mean)``, e.g. exploration noise
in DDPG/TD3). A fixed std, when set, takes precedence over ``log_std``.

Output transforms (at most one of them):

* ``clip``: samples are clamped to ``[-clip, clip]``;
* ``squash``: samples are ``squash * tanh(u)`` with ``u`` Gaussian (SAC). Log-
  likelihoods then take the *pre-squash* ``u`` and include the change of
  variables, so they are densities of the squashed action.

``noise_clip`` clamps the noise ``std * N(0, 1)`` before it is added (TD3's
target smoothing). ``min_std``/``max_std`` bound a learned std.

Randomness: draws use the ``torch.Generator`` given as ``generator`` or with
:meth:`Gaussian.set_generator` (an agent's exploration stream, seeded from the
run's seed), else the global torch RNG. The generator must live on the device
of the mean.
"""

import math

import torch
import torch.nn.functional as F

from rlpyt.distributions.base import Distribution
from rlpyt.utils.collections import namedarraytuple

__all__ = ["Gaussian", "DistInfo", "DistInfoStd"]

DistInfo = namedarraytuple("DistInfo", ["mean"])  # mean: [..., dim]
DistInfoStd = namedarraytuple("DistInfoStd", ["mean", "log_std"])  # both [..., dim]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG_2 = math.log(2.0)


class Gaussian(Distribution):
    """Diagonal Gaussian; see the module docstring for the options."""

    def __init__(
        self,
        dim: int,
        std=None,
        clip=None,
        noise_clip=None,
        min_std=None,
        max_std=None,
        squash=None,
        generator: torch.Generator | None = None,
    ):
        self._dim = int(dim)
        self.generator = generator
        self.clip = None
        self.squash = None
        self.set_std(std)
        self.set_clip(clip)
        self.set_squash(squash)
        self.set_noise_clip(noise_clip)
        if min_std is not None and max_std is not None and min_std > max_std:
            raise ValueError(f"min_std {min_std} exceeds max_std {max_std}")
        self.min_std = min_std
        self.max_std = max_std
        self.min_log_std = None if min_std is None else math.log(min_std)
        self.max_log_std = None if max_std is None else math.log(max_std)

    @property
    def dim(self) -> int:
        return self._dim

    # -- settings -------------------------------------------------------------

    def set_std(self, std):
        """Fix the std (scalar or ``[dim]``); ``None`` to read ``log_std`` from dist infos."""
        if std is not None:
            std = torch.as_tensor(std, dtype=torch.float32)
            if torch.any(std <= 0):
                raise ValueError(f"std must be positive, got {std}")
        self.std = std

    def set_clip(self, clip):
        if clip is not None and self.squash is not None:
            raise ValueError("Gaussian: choose clip or squash, not both")
        self.clip = clip

    def set_squash(self, squash):
        if squash is not None and self.clip is not None:
            raise ValueError("Gaussian: choose clip or squash, not both")
        self.squash = squash

    def set_noise_clip(self, noise_clip):
        self.noise_clip = noise_clip

    def set_generator(self, generator: torch.Generator | None) -> None:
        """The generator of all further draws (``None``: the global torch RNG)."""
        self.generator = generator

    # -- parameters -----------------------------------------------------------

    def _log_std(self, dist_info) -> torch.Tensor:
        """log std broadcast to the mean's shape (fixed std first, else clamped log_std)."""
        mean = dist_info.mean
        if self.std is not None:
            std = self.std.to(device=mean.device, dtype=mean.dtype)
            return torch.log(std).expand_as(mean)
        if "log_std" not in dist_info._fields:
            raise ValueError(
                "Gaussian has no fixed std and the dist info has no log_std: "
                "pass DistInfoStd(mean, log_std) or set std"
            )
        log_std = dist_info.log_std
        if self.min_log_std is not None or self.max_log_std is not None:
            log_std = torch.clamp(log_std, min=self.min_log_std, max=self.max_log_std)
        return log_std if log_std.shape == mean.shape else log_std.expand_as(mean)

    # -- math -----------------------------------------------------------------

    def _raw_sample(self, dist_info, log_std=None) -> torch.Tensor:
        """``mean + std * N(0, 1)`` (reparameterised: gradients reach mean and std)."""
        mean = dist_info.mean
        if log_std is None:
            log_std = self._log_std(dist_info)
        if self.generator is None:
            normal = torch.randn_like(mean)
        else:
            normal = torch.randn(
                mean.shape, generator=self.generator, device=mean.device, dtype=mean.dtype
            )
        noise = torch.exp(log_std) * normal
        if self.noise_clip is not None:
            noise = torch.clamp(noise, -self.noise_clip, self.noise_clip)
        return mean + noise

    def _transform(self, u: torch.Tensor) -> torch.Tensor:
        if self.clip is not None:
            return torch.clamp(u, -self.clip, self.clip)
        if self.squash is not None:
            return torch.tanh(u) if self.squash == 1 else self.squash * torch.tanh(u)
        return u

    def sample(self, dist_info) -> torch.Tensor:
        """One action per leading index, clipped or squashed if so configured."""
        return self._transform(self._raw_sample(dist_info))

    def sample_loglikelihood(self, dist_info):
        """``(action, log_likelihood)`` of one fresh sample (SAC's policy loss).

        The log-likelihood is that of the returned (squashed) action, computed
        from the pre-squash sample, where it is numerically exact.
        """
        log_std = self._log_std(dist_info)  # once for both (SAC calls this twice a step)
        u = self._raw_sample(dist_info, log_std)
        return self._transform(u), self._log_likelihood(u, dist_info.mean, log_std)

    def log_likelihood(self, x, dist_info) -> torch.Tensor:
        """log density summed over the action dims.

        With ``squash``, ``x`` is the *pre-squash* sample ``u`` and the result is
        the density of ``squash * tanh(u)``: the Gaussian term minus
        ``sum(log(squash) + log(1 - tanh(u)^2))``.
        """
        return self._log_likelihood(x, dist_info.mean, self._log_std(dist_info))

    def _log_likelihood(self, x, mean, log_std) -> torch.Tensor:
        z = (x - mean) * torch.exp(-log_std)
        logli = -torch.sum(log_std + 0.5 * z**2 + _HALF_LOG_2PI, dim=-1)
        if self.squash is not None:
            # log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)): no cancellation
            # when |u| is large, where 1 - tanh(u)^2 underflows to 0.
            log_dtanh = 2.0 * (_LOG_2 - x - F.softplus(-2.0 * x))
            if self.squash != 1:  # log(1) = 0: adding it changes nothing
                log_dtanh = log_dtanh + math.log(self.squash)
            logli = logli - torch.sum(log_dtanh, dim=-1)
        return logli

    def kl(self, old_dist_info, new_dist_info) -> torch.Tensor:
        """KL(old || new) = sum[log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2]."""
        # (With squash the same: KL is invariant under the bijection tanh.)
        old_log_std = self._log_std(old_dist_info)
        new_log_std = self._log_std(new_dist_info)
        mean_diff_sq = (old_dist_info.mean - new_dist_info.mean) ** 2
        vals = (
            new_log_std
            - old_log_std
            + (torch.exp(2 * old_log_std) + mean_diff_sq) * torch.exp(-2 * new_log_std) / 2
            - 0.5
        )
        return torch.sum(vals, dim=-1)

    def entropy(self, dist_info) -> torch.Tensor:
        """sum(log std) + dim/2 * log(2 pi e); undefined in closed form when squashed."""
        if self.squash is not None:
            raise NotImplementedError(
                "the entropy of a tanh-squashed Gaussian has no closed form: estimate it "
                "with -sample_loglikelihood(dist_info)[1]"
            )
        log_std = self._log_std(dist_info)
        return torch.sum(log_std + _HALF_LOG_2PI + 0.5, dim=-1)
