"""Schedules as pure functions of training progress.

A schedule holds no state: its value at iteration ``itr`` follows from
``itr`` (and fixed settings) alone, so a resumed run sees exactly the values
the uninterrupted run would have seen. ``progress`` runs from 0 (start of
training) to 1 (end) and is clamped to that range.
"""

__all__ = ["progress", "linear"]


def progress(itr: int, n_itr: int) -> float:
    """Fraction of training done before iteration ``itr``: ``itr / n_itr`` in [0, 1]."""
    if n_itr <= 0:
        raise ValueError(f"n_itr must be > 0 to measure progress, got {n_itr}")
    return min(max(itr / n_itr, 0.0), 1.0)


def linear(start: float, end: float, progress: float) -> float:
    """Interpolate from ``start`` (progress 0) to ``end`` (progress 1).

    ``progress`` outside [0, 1] is clamped, so the schedule holds ``end``
    after it finishes (e.g. epsilon stays at its final value).
    """
    p = min(max(float(progress), 0.0), 1.0)
    # This form hits both end points exactly (start + (end - start) * p may not).
    return start * (1.0 - p) + end * p
