"""progress.csv rows without the clock, and a runner that dies after a snapshot.

Resume and reproducibility tests compare whole progress.csv files of two runs; the time
and speed columns differ between any two runs, everything else must be equal.
"""

import csv
import os

from rlpyt.runners.minibatch_rl import MinibatchRl

TIMING = {"CumTime (s)", "StepsPerSecond", "CumTrainTime", "UpdatesPerSecond"}


def read_rows(run_dir):
    """The rows of ``run_dir``/progress.csv as dicts, timing columns left out."""
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


class Interrupted(Exception):
    pass


class StopAfter(MinibatchRl):
    """Dies right after the snapshot of iteration ``stop_itr`` (like a kill -9 then)."""

    stop_itr = None

    def log_diagnostics(self, itr, *args, **kwargs):
        super().log_diagnostics(itr, *args, **kwargs)
        if itr == self.stop_itr:
            raise Interrupted
