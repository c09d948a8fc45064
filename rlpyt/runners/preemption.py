"""SIGTERM handling of the runners: :class:`Preempted` and :class:`PreemptionMixin`.

A runner's ``train`` runs inside :meth:`PreemptionMixin._signal_handlers`. A SIGTERM
lets the current iteration finish, then :meth:`PreemptionMixin._preempt` writes a
snapshot of it (unless the latest snapshot already holds it) and raises
:class:`Preempted`; with nothing new to save, or at a second SIGTERM, ``Preempted`` is
raised at once (the behaviour the runners' docstrings describe, e.g.
:mod:`rlpyt.runners.minibatch_rl`).

The mixin reads the runner's ``completed_itr`` (last finished iteration) and
``_saved_itr`` (iteration of the latest snapshot), sets ``_preempt_requested`` and reads
``_in_shutdown``, and calls ``save_snapshot`` (:class:`~rlpyt.runners.snapshot.SnapshotMixin`).
"""

import contextlib
import signal
import threading

from rlpyt.utils.logging import logger

__all__ = ["Preempted", "PreemptionMixin"]


class Preempted(BaseException):  # noqa: N818 - named like KeyboardInterrupt
    """Training stopped by SIGTERM (e.g. a cluster preempting the job).

    A ``BaseException``, like ``KeyboardInterrupt``, so that ``except Exception``
    does not swallow it. ``itr`` is the last completed iteration (``None`` when
    none completed in this process) and ``snapshot_paths`` the snapshot files
    written for it on the way out (empty when the latest snapshot already held
    it, or none could be written).
    """

    def __init__(self, message="stopped by SIGTERM", itr=None, snapshot_paths=()):
        super().__init__(message)
        self.itr = itr
        self.snapshot_paths = list(snapshot_paths)


class PreemptionMixin:
    """SIGTERM -> a snapshot of the finished iteration, then :class:`Preempted`."""

    @contextlib.contextmanager
    def _signal_handlers(self):
        """SIGTERM -> :class:`Preempted` (main thread only); the previous handler restored."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        self._handles_sigterm = True
        try:
            yield
        finally:
            self._handles_sigterm = False
            signal.signal(signal.SIGTERM, previous)

    def _reclaim_sigterm(self):
        """Put this runner's SIGTERM handler back where starting the sampler replaced it.

        ``ray.init`` (the Ray samplers start Ray in ``initialize``) installs a handler of its
        own that exits at once, which would lose the preemption snapshot.
        """
        if not getattr(self, "_handles_sigterm", False):
            return  # not inside train() (or not the main thread): nothing of ours to restore
        if signal.getsignal(signal.SIGTERM) != self._on_sigterm:
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):
        if self._in_shutdown:  # already on the way out: let the shutdown finish
            self._preempt_requested = True
            return
        if self._preempt_requested or not self._has_unsaved_progress():
            raise self._preempted_now(
                "stopped by a second SIGTERM" if self._preempt_requested else "stopped by SIGTERM"
            )
        # Acted on at the end of the current iteration. (Nothing is logged here: the
        # handler may run in the middle of a write to the same stream.)
        self._preempt_requested = True

    def _has_unsaved_progress(self) -> bool:
        """Whether an iteration completed since the last snapshot, and one can be written."""
        return (
            self.completed_itr is not None
            and self.completed_itr != self._saved_itr
            and logger.get_snapshot_mode() != "none"
            and logger.get_snapshot_dir() is not None
        )

    def _preempted_now(self, message):
        """Preempted at once: the latest snapshot (if any) is what there is to resume from."""
        self._preempt_requested = True
        saved = self._saved_itr if self._saved_itr is not None and self._saved_itr >= 0 else None
        where = f"; the latest snapshot is of iteration {saved}" if saved is not None else ""
        itr = self.completed_itr
        return Preempted(f"{message}{where}", itr=itr if itr is not None and itr >= 0 else None)

    def _preempt(self, itr):
        """End of iteration ``itr`` after a SIGTERM: snapshot it (unless saved), then stop."""
        paths = []
        if self._saved_itr != itr:
            paths = self.save_snapshot(itr, force=True)
        where = f": snapshot {', '.join(paths)}" if paths else ""
        logger.log(f"Preempted (SIGTERM) after iteration {itr}{where}.")
        raise Preempted(
            f"stopped by SIGTERM after iteration {itr}{where}", itr=itr, snapshot_paths=paths
        )
