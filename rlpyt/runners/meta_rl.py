"""The meta-RL runner (PEARL): MinibatchRl's loop, snapshots, resume and signals, with a
meta-test at every log interval.

Each iteration the meta sampler collects its task data
(:meth:`~rlpyt.samplers.meta.MetaSerialSampler.obtain_samples`) and the algorithm trains
on the per-task replays; at every ``log_interval_itrs`` the agent is meta-tested on the
test tasks and on training tasks and one progress.csv row is written with, besides the
usual columns (training trajectories' ``Return*``, losses, counters):

* ``MetaTest/Return_traj{k}``: the return of the k-th successive trajectory of a
  test task, averaged over test tasks -- the adaptation curve (k = 0 on the prior);
* ``MetaTest/FinalReturn``: the last trajectory's return averaged over test tasks (the
  paper's ``AverageReturn_all_test_tasks``), with ``MetaTest/FinalReturnStd`` over tasks;
* ``MetaTrain/...``: the same on training tasks;
* ``.../FinalSparseReturn``, ``.../SparseReturn_traj{k}``: with sparse rewards, the same
  on the sparse return;
* ``CumEnvSteps``: env steps collected for training (initial steps included).

The adaptation curves of every log are also appended to ``adaptation_curve.csv`` in the
run directory, and plotted to ``adaptation_curve.png`` at the end of training.
"""

import csv
import os

import numpy as np

from rlpyt.runners.minibatch_rl import MinibatchRlBase
from rlpyt.utils.checkpoint import truncate_progress_file
from rlpyt.utils.logging import logger
from rlpyt.utils.validation import require_int_at_least

__all__ = ["MetaRl", "CURVE_FILE"]

CURVE_FILE = "adaptation_curve.csv"
"""The adaptation curves of every meta-test, in the run directory."""


class MetaRl(MinibatchRlBase):
    """Meta-training with meta-tests at each log (module docstring).

    Args:
        algo, agent, sampler: :class:`~rlpyt.algos.qpg.pearl.PEARL`, a
            :class:`~rlpyt.agents.qpg.pearl_agent.PearlAgent` and a meta sampler.
        n_itr: training iterations (the paper: 500).
        log_interval_itrs: iterations between meta-tests, log rows and snapshots.
        eval_train_tasks: meta-test training tasks too.
        Other arguments: see :class:`~rlpyt.runners.minibatch_rl.MinibatchRlBase`.
    """

    def __init__(self, algo, agent, sampler, n_itr, seed=None, affinity=None,
                 log_interval_itrs=1, resume_from=None, progress_bar=True, reproducible=False,
                 eval_train_tasks=True):  # fmt: skip
        self.n_itr = require_int_at_least("n_itr", n_itr, 1)
        self.meta_log_interval_itrs = require_int_at_least(
            "log_interval_itrs", log_interval_itrs, 1
        )
        self.eval_train_tasks = bool(eval_train_tasks)
        self.last_meta_test = None  # {column: value} of the latest meta-test
        super().__init__(algo, agent, sampler, n_steps=n_itr, seed=seed, affinity=affinity,
                         log_interval_steps=1, resume_from=resume_from,
                         progress_bar=progress_bar, reproducible=reproducible)  # fmt: skip

    def get_n_itr(self):
        self.log_interval_itrs = self.meta_log_interval_itrs
        return self.n_itr

    def log_interval(self, itr):
        self.meta_test(itr)
        logger.record_tabular("CumEnvSteps", self.sampler.env_steps)
        self.log_diagnostics(itr)

    def meta_test(self, itr) -> dict:
        """Meta-test the agent on the test (and training) tasks; records the columns."""
        self.agent.eval_mode(itr)
        values = {}
        groups = [("MetaTest", False)] + ([("MetaTrain", True)] if self.eval_train_tasks else [])
        for prefix, train in groups:
            returns, sparse = self.sampler.meta_test(itr, train=train)
            if returns.size == 0:
                continue
            values.update(curve_columns(prefix, "Return", returns))
            if not np.array_equal(returns, sparse):
                values.update(curve_columns(prefix, "SparseReturn", sparse))
        for key, value in values.items():
            logger.record_tabular(key, value)
        self._write_curve(itr, values)
        self.last_meta_test = values
        return values

    def load_snapshot(self, path) -> int:
        """Restore everything from a snapshot (see the base class); the adaptation-curve rows
        logged after it, before a crash, are dropped, as they are redone like the progress rows."""
        itr = super().load_snapshot(path)
        run_dir = logger.get_snapshot_dir()
        if run_dir is not None:
            truncate_progress_file(os.path.join(run_dir, CURVE_FILE), itr)
        return itr

    def _write_curve(self, itr, values) -> None:
        run_dir = logger.get_snapshot_dir()
        if run_dir is None:
            return
        path = os.path.join(run_dir, CURVE_FILE)
        rows = [(itr, key.split("/")[0], key.split("/")[1].split("_traj")[0],
                 int(key.split("_traj")[1]), value)
                for key, value in values.items() if "_traj" in key]  # fmt: skip
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")  # as truncate_progress_file writes
            if new:
                writer.writerow(["Iteration", "Tasks", "Metric", "Trajectory", "MeanReturn"])
            writer.writerows(rows)

    def shutdown(self):
        super().shutdown()
        if self.last_meta_test and logger.get_snapshot_dir() is not None:
            plot_adaptation_curve(self.last_meta_test, os.path.join(
                logger.get_snapshot_dir(), "adaptation_curve.png"))  # fmt: skip


def curve_columns(prefix: str, metric: str, returns: np.ndarray) -> dict:
    """``{prefix/metric_traj{k}: mean over tasks}`` and the final trajectory's mean and std."""
    columns = {f"{prefix}/{metric}_traj{k}": float(v) for k, v in enumerate(returns.mean(0))}
    columns[f"{prefix}/Final{metric}"] = float(returns[:, -1].mean())
    columns[f"{prefix}/Final{metric}Std"] = float(returns[:, -1].std())
    return columns


def plot_adaptation_curve(values: dict, path: str) -> None:
    """Mean return per successive trajectory (one line per task set and metric) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    series = {}
    for key, value in values.items():
        if "_traj" in key:
            name, k = key.split("_traj")
            series.setdefault(name, []).append((int(k), value))
    for name, points in sorted(series.items()):
        points.sort()
        ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=name)
    ax.set_xlabel("trajectory (0: prior)")
    ax.set_ylabel("mean return over tasks")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
