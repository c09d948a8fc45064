"""APPO: IMPALA with PPO's clipped surrogate on V-trace advantages.

As RLlib's APPO and Sample Factory: the ratio ``r = pi(a|x) / mu(a|x)`` is taken
against the behaviour policy mu that sampled the batch, and the clipped surrogate
``min(r A, clip(r, 1 - eps, 1 + eps) A)`` (Schulman et al. 2017, eq. 7) replaces
IMPALA's ``log pi A``, with ``A`` the V-trace policy-gradient advantage.
"""

import torch

from rlpyt.algos.pg.impala import IMPALA, ImpalaOptInfo, valid_sum
from rlpyt.utils.validation import require_int_at_least, require_positive

__all__ = ["APPO"]


class APPO(IMPALA):
    """``epochs`` passes of ``minibatches`` gradient steps per ``[T, B]`` batch.

    Minibatches are whole env columns (V-trace runs along time), for feed-forward and
    recurrent agents alike; V-trace targets are recomputed with the current policy and
    value in every minibatch, so later epochs are corrected like lagged actors' data.

    Args:
        ratio_clip: epsilon of the clipped ratio ``[1 - eps, 1 + eps]``, > 0 (RLlib: 0.4).
        epochs: passes over the batch (>= 1).
        minibatches: minibatches of env columns per epoch (>= 1); must divide ``batch_B``.
        Others: as for :class:`~rlpyt.algos.pg.impala.IMPALA`.
    """

    def __init__(
        self,
        *,
        ratio_clip: float = 0.4,
        epochs: int = 1,
        minibatches: int = 1,
        **impala_kwargs,
    ):
        # The other keywords and their defaults are IMPALA's (monobeast's), not repeated here.
        super().__init__(**impala_kwargs)
        require_positive("ratio_clip", ratio_clip)
        self.ratio_clip = ratio_clip
        self.epochs = require_int_at_least("epochs", epochs, 1)
        self.minibatches = require_int_at_least("minibatches", minibatches, 1)
        self._generator = None

    def initialize(
        self, agent, n_itr, batch_spec, mid_batch_reset=False, examples=None, world_size=1, rank=0
    ):
        B, m = batch_spec.B, self.minibatches
        if B % m:
            raise ValueError(
                f"APPO splits the batch into minibatches of whole env columns: batch_B = {B} "
                f"is not divisible by minibatches = {m}; choose minibatches dividing {B}"
            )
        super().initialize(agent, n_itr, batch_spec, mid_batch_reset, examples, world_size, rank)
        # Seeded from the run's torch seed (and rank), so runs repeat exactly.
        self._generator = torch.Generator()
        self._generator.manual_seed((torch.initial_seed() + 7919 * rank) % 2**63)

    def optimize_agent(self, itr: int, samples) -> ImpalaOptInfo:
        """``epochs`` x ``minibatches`` gradient steps on one ``[T, B]`` batch."""
        self._apply_lr_schedule(itr)
        self._update_obs_rms_from(samples)
        opt_info = self.empty_opt_info()
        for columns in self.minibatch_columns(samples.env.reward.shape[1]):
            self._step(itr, self.loss_terms(samples[:, columns]), opt_info)
        return opt_info

    def minibatch_columns(self, B: int):
        """``epochs`` passes over ``minibatches`` random groups of whole env columns."""
        mb_size = B // self.minibatches
        for _ in range(self.epochs):
            perm = torch.randperm(B, generator=self._generator)
            for start in range(0, B, mb_size):
                yield perm[start : start + mb_size]

    def policy_loss(self, log_prob, behaviour_log_prob, pg_advantages, valid) -> torch.Tensor:
        """``-sum_t min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t)``, ``r_t = pi/mu``."""
        ratio = torch.exp(log_prob - behaviour_log_prob)
        clipped = torch.clamp(ratio, 1.0 - self.ratio_clip, 1.0 + self.ratio_clip)
        surrogate = torch.min(ratio * pg_advantages, clipped * pg_advantages)
        return -valid_sum(surrogate, valid)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["shuffle_generator"] = self._generator.get_state()
        return state

    def load_state_dict(self, state_dict: dict):
        super().load_state_dict(state_dict)
        self._generator.set_state(state_dict["shuffle_generator"])
