"""Agents: a model plus a distribution, acting in the sampler and trained by an algorithm."""
