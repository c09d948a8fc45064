"""Policy lag: how many updates behind the learner the policy that collected a sample was.

Every sample (env step) carries the version of the weights its actor acted with (the
behaviour policy's version: the learner's count of gradient updates, ``algo.update_counter``,
when those weights were published). When the learner takes its first gradient step on the
sample, the lag is ``learner version - behaviour version``: 0 when the learner trains on
what its current weights collected (synchronous sampling, one gradient step per batch),
more when actors run ahead of the learner (the actor-learner runner). Later gradient steps
on the same batch (APPO's epochs and minibatches) add up to ``epochs * minibatches - 1``,
known in advance, and are not counted here.

:class:`PolicyLag` counts the lags of one log interval and logs them as
``PolicyLagMin``, ``PolicyLagMean``, ``PolicyLagMax`` and a histogram: the number of
samples per bucket, ``PolicyLagHist0``, ``PolicyLagHist1``, ``PolicyLagHist2-3``, ...,
``PolicyLagHist64+`` (buckets of doubling width; the same columns in every row), and,
when the run writes TensorBoard, a histogram ``PolicyLag``.
"""

import math

import numpy as np

from rlpyt.utils.logging import logger

__all__ = ["PolicyLag", "LAG_BUCKETS"]

# (first, last) lag of each histogram bucket; the last is open-ended.
LAG_BUCKETS = ((0, 0), (1, 1), (2, 3), (4, 7), (8, 15), (16, 31), (32, 63), (64, None))


def _bucket_name(first: int, last: int | None) -> str:
    if last is None:
        return f"PolicyLagHist{first}+"
    return f"PolicyLagHist{first}" if first == last else f"PolicyLagHist{first}-{last}"


class PolicyLag:
    """Counts of the policy lag of every sample trained on, per log interval."""

    def __init__(self):
        self.counts = np.zeros(0, dtype=np.int64)  # counts[lag]: samples with that lag

    def record(self, learner_version: int, behaviour_versions) -> np.ndarray:
        """Count the lags of a batch; returns them (same shape as ``behaviour_versions``).

        ``learner_version``: the learner's ``update_counter`` before its first gradient step
        on the batch; ``behaviour_versions``: the version every sample was collected with
        (an array or tensor, e.g. ``[T, B]``).
        """
        versions = np.asarray(behaviour_versions, dtype=np.int64)
        lags = int(learner_version) - versions
        if lags.size and lags.min() < 0:
            raise RuntimeError(
                f"policy lag {int(lags.min())} < 0: a sample was collected with weights of "
                f"version {int(versions.max())}, newer than the learner's {learner_version} "
                "(the versions published to the actors must be the learner's update counts)"
            )
        counts = np.bincount(lags.reshape(-1), minlength=len(self.counts))
        counts[: len(self.counts)] += self.counts
        self.counts = counts
        return lags

    def add(self, lag_counts) -> None:
        """Count lags computed elsewhere: ``{lag: number of samples}`` (the Ray scheme's
        gradient workers compute them where the batch is)."""
        if any(lag < 0 for lag in lag_counts):
            raise RuntimeError(f"policy lags {sorted(lag_counts)} include a negative one")
        size = max(len(self.counts), max(lag_counts, default=-1) + 1)
        counts = np.zeros(size, dtype=np.int64)
        counts[: len(self.counts)] = self.counts
        for lag, n in lag_counts.items():
            counts[lag] += n
        self.counts = counts

    @property
    def n_samples(self) -> int:
        return int(self.counts.sum())

    def stats(self) -> dict:
        """``{"min", "mean", "max"}`` of the interval's lags (NaN when none were recorded)."""
        n = self.n_samples
        if n == 0:
            return dict(min=math.nan, mean=math.nan, max=math.nan)
        lags = np.nonzero(self.counts)[0]
        mean = float((np.arange(len(self.counts)) * self.counts).sum() / n)
        return dict(min=int(lags[0]), mean=mean, max=int(lags[-1]))

    def histogram(self) -> dict:
        """Samples per bucket of :data:`LAG_BUCKETS`, by column name."""
        out = {}
        for first, last in LAG_BUCKETS:
            stop = len(self.counts) if last is None else last + 1
            out[_bucket_name(first, last)] = int(self.counts[first:stop].sum())
        return out

    def log(self, step: int | None = None) -> None:
        """Record the interval's columns (and TensorBoard histogram), then start a new interval."""
        stats = self.stats()
        logger.record_tabular("PolicyLagMin", stats["min"])
        logger.record_tabular("PolicyLagMean", stats["mean"])
        logger.record_tabular("PolicyLagMax", stats["max"])
        for name, count in self.histogram().items():
            logger.record_tabular(name, count)
        writer = logger.get_tf_summary_writer()
        if writer is not None and self.n_samples:
            lags = np.repeat(np.arange(len(self.counts)), self.counts)
            writer.add_histogram("PolicyLag", lags, global_step=step)
        self.counts = np.zeros(0, dtype=np.int64)
