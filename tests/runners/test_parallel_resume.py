"""Exact resume with the parallel samplers: kill -9 between two snapshots, resume, same run.

A training process with a ``CpuSampler`` (or ``GpuSampler``) writes a snapshot at
every iteration and is killed with SIGKILL in the middle of the iteration after
its ``N``-th. Resumed from its run directory, it must log the same progress.csv
rows (timings aside) and end with the same parameters as an uninterrupted run of
the same seed: the snapshots hold the workers' envs, open trajectories, agent
inputs and random generators.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pytest
import torch
from progress_rows import read_rows

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.ppo import PPO
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.parallel.cpu.collectors import CpuWaitResetCollector
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.parallel.gpu.collectors import GpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.sampler import GpuSampler
from rlpyt.utils.checkpoint import load_checkpoint
from rlpyt.utils.logging.context import logger_context

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(os.name != "posix", reason="POSIX")]

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
T, B, N = 16, 4, 2  # killed during iteration N, after the snapshot of iteration N - 1
N_ITR = 5
SAMPLERS = {
    "cpu": (CpuSampler, {}),
    "cpu_wait": (CpuSampler, dict(CollectorCls=CpuWaitResetCollector)),
    "gpu": (GpuSampler, {}),
    "gpu_wait": (GpuSampler, dict(CollectorCls=GpuWaitResetCollector)),
}


def make_runner(kind, resume_from=None, RunnerCls=MinibatchRl, env_id="CartPole-v1"):
    SamplerCls, sampler_kwargs = SAMPLERS[kind]
    sampler = SamplerCls(
        EnvCls=gym_make,
        env_kwargs=dict(id=env_id, max_episode_steps=30),
        batch_T=T,
        batch_B=B,
        max_decorrelation_steps=10,
        **sampler_kwargs,
    )
    return RunnerCls(
        algo=PPO(learning_rate=1e-3, minibatches=2, epochs=2, linear_lr_schedule=True),
        agent=MlpFfAgent(),
        sampler=sampler,
        n_steps=N_ITR * T * B,
        seed=11,
        affinity=dict(workers_cpus=[0, 1], set_affinity=False),  # two workers, two envs each
        log_interval_steps=T * B,
        resume_from=resume_from,
        progress_bar=False,
    )


class HangsMidIteration(MinibatchRl):
    """Announces, then hangs, in the iteration after the snapshot of ``N - 1``."""

    def store_diagnostics(self, itr, traj_infos, opt_info):
        super().store_diagnostics(itr, traj_infos, opt_info)
        if itr == N:
            print("kill me", flush=True)
            time.sleep(3600)


_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}, {tests_root!r}]
    import torch
    from test_parallel_resume import HangsMidIteration, make_runner
    from rlpyt.utils.logging.context import logger_context
    torch.set_num_threads(1)
    runner = make_runner({kind!r}, RunnerCls=HangsMidIteration)
    with logger_context({log_dir!r}, 0, "run", snapshot_mode="all"):
        runner.train()
    """
)


def run_killed(tmp_path, kind):
    """The run, SIGKILLed during iteration N; returns its run directory."""
    log_dir = str(tmp_path / "killed")
    script = _SCRIPT.format(
        tests=TESTS_DIR, tests_root=os.path.dirname(TESTS_DIR), kind=kind, log_dir=log_dir
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out = []
        while not out or out[-1] not in ("kill me\n", ""):  # the logger writes here too
            out.append(proc.stdout.readline())
        if out[-1] == "":  # the run ended or failed before iteration N
            proc.wait(timeout=10)
            pytest.fail(
                f"exit status {proc.returncode}: {''.join(out)}{proc.stderr.read()[-3000:]}"
            )
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return os.path.join(log_dir, "run_0")


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_killed_parallel_run_resumes_exactly(tmp_path, kind):
    torch.set_num_threads(1)
    run_dir = run_killed(tmp_path, kind)
    assert len(read_rows(run_dir)) == N  # rows of iterations 0 .. N - 1

    straight = make_runner(kind)
    with logger_context(str(tmp_path / "straight"), 0, "run", snapshot_mode="last") as lg:
        straight.train()
    rows_a = read_rows(lg.run_dir)

    resumed = make_runner(kind, resume_from=run_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every env was saved: no "restarts" warning
        with logger_context(str(tmp_path / "killed"), 0, "run", snapshot_mode="all", resume=True):
            resumed.train()
    rows_b = read_rows(run_dir)

    assert len(rows_a) == N_ITR
    assert rows_b == rows_a
    for (name, pa), pb in zip(
        straight.agent.model.named_parameters(), resumed.agent.model.parameters()
    ):
        assert torch.equal(pa, pb), name


class UnpicklableEnv:
    """Wraps a gym env; refuses to be pickled (as an env holding a live handle would)."""

    def __init__(self, **kwargs):
        self._env = gym_make(**kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._env, name)

    def step(self, action):
        return self._env.step(action)

    def reset(self):
        return self._env.reset()

    def __reduce__(self):
        raise TypeError("UnpicklableEnv holds a live handle")


def test_unpicklable_env_warns_once_and_restarts_on_resume(tmp_path):
    torch.set_num_threads(1)
    runner = make_runner("cpu")
    runner.sampler.EnvCls = UnpicklableEnv
    with pytest.warns(UserWarning, match="4 env\\(s\\) cannot be saved .*UnpicklableEnv") as rec:
        with logger_context(str(tmp_path), 0, "run", snapshot_mode="last") as lg:
            runner.train()
    assert sum("cannot be saved" in str(w.message) for w in rec) == 1  # once, not per snapshot
    saved = load_checkpoint(os.path.join(lg.run_dir, "params.pkl"))["sampler_state_dict"]
    saved = saved["workers"]
    assert [s["envs"] for s in saved] == [[None, None], [None, None]]

    resumed = make_runner("cpu", resume_from=lg.run_dir)
    resumed.sampler.EnvCls = UnpicklableEnv
    resumed.n_steps += T * B
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with logger_context(str(tmp_path), 0, "run", snapshot_mode="last", resume=True):
            resumed.train()
    restarts = [str(w.message) for w in rec if "had no saved state" in str(w.message)]
    assert len(restarts) == 1, [str(w.message) for w in rec]
    assert restarts[0].startswith("env(s) [0, 1, 2, 3] had no saved state in the snapshot")
    assert len(read_rows(lg.run_dir)) == N_ITR + 1
