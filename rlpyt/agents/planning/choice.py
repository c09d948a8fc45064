"""Choosing actions with an agent's own generator (so that a seeded run repeats)."""

import numpy as np

__all__ = ["argmax_tie_break", "sample_categorical", "softmax"]


def argmax_tie_break(values, rng: np.random.Generator) -> int:
    """The index of the largest of ``values`` (NaN never wins); ties drawn uniformly by ``rng``.

    ``rng`` is drawn from only when there is a tie, so a search without ties uses no
    random numbers here. All NaN: a uniform draw over all indices.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(values)
    if not finite.any():
        return int(rng.integers(len(values)))
    best = np.flatnonzero(finite & (values == np.max(values[finite])))
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


def sample_categorical(probs, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``probs`` ``[n, A]`` (rows sum to 1), drawn with ``rng``.

    One uniform number per row (inverse CDF), so ``n`` draws consume ``n`` numbers.
    """
    probs = np.asarray(probs, dtype=np.float64)
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1]) * cdf[..., -1]
    return np.minimum((u[..., None] >= cdf).sum(-1), probs.shape[-1] - 1)


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` over the last axis, computed stably in float64."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
