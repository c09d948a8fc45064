"""The network of the planning agents: an MLP trunk with value, policy and Q heads."""

import math

import torch

from rlpyt.models.mlp import MlpModel

__all__ = ["PlanningMlpModel", "HEADS"]

HEADS = ("value", "policy", "q")


class PlanningMlpModel(torch.nn.Module):
    """Observation ``[N, *obs_shape]`` -> dict of the chosen heads.

    ``"value"`` ``[N]``, ``"policy"`` ``[N, A]`` (logits), ``"q"`` ``[N, A]``.

    Args:
        observation_shape, action_size: from the env spaces (the agent fills them).
        hidden_sizes: the shared trunk.
        heads: which outputs to build, a subset of :data:`HEADS`.
    """

    def __init__(self, observation_shape, action_size, hidden_sizes=(64, 64), heads=("value",)):
        super().__init__()
        heads = tuple(heads)
        unknown = [h for h in heads if h not in HEADS]
        if not heads or unknown:
            raise ValueError(
                f"PlanningMlpModel: heads must be a non-empty subset of {HEADS}, got {heads}"
            )
        self.heads = heads
        self._obs_ndim = len(observation_shape)
        self.trunk = MlpModel(int(math.prod(observation_shape)), hidden_sizes)
        size = self.trunk.output_size
        self.value_head = torch.nn.Linear(size, 1) if "value" in heads else None
        self.policy_head = torch.nn.Linear(size, action_size) if "policy" in heads else None
        self.q_head = torch.nn.Linear(size, action_size) if "q" in heads else None

    def forward(self, observation: torch.Tensor) -> dict:
        lead = observation.shape[: observation.dim() - self._obs_ndim]
        features = self.trunk(observation.reshape(*lead, -1).float())
        out = {}
        if self.value_head is not None:
            out["value"] = self.value_head(features).squeeze(-1)
        if self.policy_head is not None:
            out["policy"] = self.policy_head(features)
        if self.q_head is not None:
            out["q"] = self.q_head(features)
        return out
