"""What a runner saves at each log interval, and how it resumes from it.

A snapshot holds everything the next iteration depends on: counters, the
agent (with target networks, normaliser statistics, recurrent sampling state),
the algorithm (optimizer, update counter, schedules), the sampler (envs, their
generators, open trajectories) and the RNG states of python, numpy and torch.
In serial mode a run resumed from the snapshot of iteration ``k`` continues
exactly as the uninterrupted run would have.

Snapshots are written at log intervals, and also after any iteration when the
run is preempted (SIGTERM). A snapshot between log intervals also holds the
diagnostics gathered since the last log (trajectory and optimizer infos, the
time spent), so the next progress row after resuming is the one the
uninterrupted run would have written (except for timings).
"""

import os
import time

from rlpyt.utils.checkpoint import (
    CheckpointError,
    check_compatible,
    find_latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from rlpyt.utils.collections import AttrDict
from rlpyt.utils.logging import logger
from rlpyt.utils.seed import get_rng_state, set_rng_state

__all__ = ["SnapshotMixin"]


class SnapshotMixin:
    """Snapshot methods of the runners (needs ``algo``, ``agent``, ``sampler``)."""

    def compatibility_record(self) -> dict:
        """What a snapshot must match to be resumed by this runner."""
        spaces = self.agent.env_spaces
        return {
            "agent": type(self.agent).__name__,
            "model": type(self.agent.model).__name__,
            "algo": type(self.algo).__name__,
            "observation_space": repr(spaces.observation) if spaces else None,
            "action_space": repr(spaces.action) if spaces else None,
            "batch_spec": tuple(self.sampler.batch_spec),
        }

    def get_itr_snapshot(self, itr) -> dict:
        state = {
            "itr": itr,
            "cum_steps": self.cum_steps(itr),
            # Time up to now: at a log interval _last_time is now; between two, the
            # time since the last log is counted too.
            "cum_time": self._cum_time + (time.time() - self._last_time),
            "cum_completed_trajs": self._cum_completed_trajs,
            "seed": self.seed,
            "agent_state_dict": self.agent.state_dict(),
            "optimizer_state_dict": self.algo.optim_state_dict(),
            "algo_state_dict": self.algo.state_dict(),
            "compat": self.compatibility_record(),
            "rng_state": get_rng_state(),
            # Gathered since the last log (empty at a log interval): restored on resume.
            "diagnostics": {
                "traj_infos": [dict(info) for info in self._traj_infos],
                "opt_infos": {k: list(v) for k, v in self._opt_infos.items()},
                "train_time": (self._cum_train_time, self._interval_train_time),
                "last_update_counter": self._last_update_counter,
                "last_cum_steps": self._last_cum_steps,
            },
        }
        state["agent_sampling_state"] = self.agent.sampling_state_dict()
        sampler_state = self.sampler_state_dict()
        if sampler_state is not None:
            state["sampler_state_dict"] = sampler_state
        return state

    def sampler_state_dict(self) -> dict | None:
        """Hook: the sampler's state for the snapshot (None: the envs restart on resume)."""
        return self.sampler.state_dict()

    def load_runner_state(self, snapshot: dict) -> None:
        """Hook: restore what a runner added to :meth:`get_itr_snapshot` (the async counters)."""

    def save_snapshot(self, itr, force=False) -> list:
        """Write the snapshot of iteration ``itr`` as the snapshot mode says; returns the paths.

        ``force`` (used on preemption): under ``snapshot_mode="gap"``, whose rule may
        skip ``itr``, write ``itr_{itr}.pkl`` anyway. Nothing is written under ``"none"``.
        """
        if itr < 0 or logger.get_snapshot_mode() == "none":
            return []
        snapshot = self.get_itr_snapshot(itr)
        paths = logger.save_itr_params(itr, snapshot)
        snapshot_dir = logger.get_snapshot_dir()
        if force and not paths and snapshot_dir is not None:
            paths = [save_checkpoint(os.path.join(snapshot_dir, f"itr_{itr}.pkl"), snapshot)]
        if paths:
            self._saved_itr = itr
        return paths

    def load_snapshot(self, path) -> int:
        """Restore everything from a snapshot file or run directory; returns its itr."""
        if os.path.isdir(path):
            found = find_latest_checkpoint(path)
            if found is None:
                raise FileNotFoundError(f"no valid snapshot (params.pkl or itr_*.pkl) in {path}")
            path, snapshot = found.path, found.checkpoint
        else:
            snapshot = load_checkpoint(path)
        try:
            check_compatible(
                snapshot, {f"compat.{k}": v for k, v in self.compatibility_record().items()}
            )
        except CheckpointError as err:
            raise CheckpointError(f"cannot resume from {path}: {err}") from None
        itr = snapshot["itr"]
        self.agent.load_state_dict(snapshot["agent_state_dict"])
        self.algo.load_optim_state_dict(snapshot["optimizer_state_dict"])
        self.algo.load_state_dict(snapshot["algo_state_dict"])
        if "agent_sampling_state" in snapshot:
            self.agent.load_sampling_state_dict(snapshot["agent_sampling_state"])
        if "sampler_state_dict" in snapshot:
            self.sampler.load_state_dict(snapshot["sampler_state_dict"])
        self._cum_time = snapshot["cum_time"]
        self._cum_completed_trajs = snapshot["cum_completed_trajs"]
        diagnostics = snapshot.get("diagnostics")  # absent from snapshots of older versions
        if diagnostics is not None:
            self._traj_infos = [AttrDict(info) for info in diagnostics["traj_infos"]]
            for k, values in self._opt_infos.items():
                values[:] = diagnostics["opt_infos"].get(k, [])
            if "train_time" in diagnostics:  # (added with CumTrainTime)
                self._cum_train_time, self._interval_train_time = diagnostics["train_time"]
                self._last_update_counter = diagnostics["last_update_counter"]
        self.load_runner_state(snapshot)
        # The steps of the next row (ReplayRatio) count from the last row, as they would
        # have without the interruption (snapshots of older versions: from this one).
        self._last_cum_steps = self.cum_steps(itr)
        if diagnostics is not None and "last_cum_steps" in diagnostics:
            self._last_cum_steps = diagnostics["last_cum_steps"]
        set_rng_state(snapshot["rng_state"])
        current = logger.current_logger()
        if current is not None and hasattr(current, "truncate_progress"):
            # Rows logged after this snapshot (before a crash) are redone.
            current.truncate_progress(itr)
        logger.log(f"Resumed from {path} at iteration {itr}.")
        return itr
