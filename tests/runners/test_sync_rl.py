"""SyncRl: two gloo learners on the CPU.

The learners are spawned processes; the algorithm below records, on every
rank, each batch it trains on and the agent's state before and after, so the
test can replay the combined batches through a single learner.
"""

import glob
import os
import signal
import time

import psutil
import pytest
import torch

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import Preempted
from rlpyt.runners.sync_rl import LearnerError, SyncRl, SyncRlEval
from rlpyt.samplers.collections import BatchSpec
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler

T, B = 5, 2  # per rank
AFFINITY = [dict(workers_cpus=[0], torch_threads=1), dict(workers_cpus=[1], torch_threads=1)]
MODEL_KWARGS = dict(hidden_sizes=[16], normalize_observation=True)


class RecordingA2C(A2C):
    """A2C that saves its batch and the agent state before/after each step, and may fail.

    ``fail``: ``None``, or ``(rank, itr, how)`` with how ``"raise"``, ``"kill"`` (SIGKILL)
    or ``"sigterm"``.
    """

    def __init__(self, record_dir=None, fail=None, **kwargs):
        super().__init__(**kwargs)
        self.record_dir = record_dir
        self.fail = fail

    def optimize_agent(self, itr, samples):
        if self.fail is not None and self.fail[:2] == (self.rank, itr):
            if self.fail[2] in ("kill", "sigterm"):
                os.kill(
                    os.getpid(), {"kill": signal.SIGKILL, "sigterm": signal.SIGTERM}[self.fail[2]]
                )
            raise ValueError(f"planted failure on rank {self.rank}")
        before = {k: v.clone() for k, v in self.agent.state_dict().items()}
        opt_info = super().optimize_agent(itr, samples)
        if self.record_dir is not None:
            torch.save(
                dict(samples=samples, before=before, after=self.agent.state_dict()),
                os.path.join(self.record_dir, f"rank{self.rank}_itr{itr}.pt"),
            )
        return opt_info


def make_runner(n_itr=3, RunnerCls=SyncRl, SamplerCls=SerialSampler, **algo_kwargs):
    sampler = SamplerCls(
        EnvCls=gym_make,
        env_kwargs=dict(id="CartPole-v1"),
        eval_env_kwargs=dict(id="CartPole-v1"),
        batch_T=T,
        batch_B=B,
        max_decorrelation_steps=0,
        eval_n_envs=1 if RunnerCls is SyncRlEval else 0,
        eval_max_steps=50,
    )
    algo = RecordingA2C(OptimCls=torch.optim.SGD, learning_rate=0.05, **algo_kwargs)
    return RunnerCls(
        algo=algo,
        agent=MlpFfAgent(model_kwargs=MODEL_KWARGS),
        sampler=sampler,
        n_steps=n_itr * T * B * 2,
        seed=3,
        affinity=AFFINITY,
        log_interval_steps=T * B * 2,
        progress_bar=False,
        collective_timeout=60,
    )


def our_children():
    """Child processes, but multiprocessing's resource tracker (one per interpreter, kept)."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(p.cmdline())
    ]


def assert_nothing_left(runner):
    """No process of ours alive, no shared memory of any rank left, no process group."""
    assert our_children() == []
    assert runner.worker_pids
    for pid in [os.getpid(), *runner.worker_pids]:
        if pid != os.getpid():
            assert (
                not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            )
        assert glob.glob(f"/dev/shm/rlpyt_{pid}_*") == []
    assert not torch.distributed.is_initialized()
    # The group's threads (gloo's, the TCPStore server's) ended with it: a process
    # forked later (a CpuSampler's workers) would inherit them mid-way and could hang.
    assert [name for name in native_threads() if "gloo" in name or "tcpstore" in name] == []


def native_threads():
    task_dir = "/proc/self/task"
    if not os.path.isdir(task_dir):  # not Linux
        return []
    names = []
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "comm")) as f:
                names.append(f.read().strip())
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return names


def concat_b(a, b):
    """Join two ``[T, B]`` sample trees along B."""
    if isinstance(a, torch.Tensor):
        return torch.cat([a, b], dim=1)
    return type(a)(*(concat_b(x, y) for x, y in zip(a, b, strict=True)))


def test_two_ranks_stay_identical_and_match_a_single_learner_on_the_combined_batch(tmp_path):
    n_itr = 3
    runner = make_runner(n_itr=n_itr, record_dir=str(tmp_path))
    assert runner.train() == n_itr
    assert_nothing_left(runner)
    records = [
        [torch.load(tmp_path / f"rank{r}_itr{i}.pt", weights_only=False) for i in range(n_itr)]
        for r in range(2)
    ]
    for i in range(n_itr):
        for key, value in records[0][i]["after"].items():
            assert torch.equal(value, records[1][i]["after"][key]), (i, key)
    # The ranks stepped different envs.
    assert not torch.equal(
        records[0][0]["samples"].env.observation, records[1][0]["samples"].env.observation
    )
    # One learner on the combined [T, 2B] batches, from the same initial state.
    agent = MlpFfAgent(model_kwargs=MODEL_KWARGS)
    env = gym_make(id="CartPole-v1")
    agent.initialize(env.spaces)
    agent.load_state_dict(records[0][0]["before"])
    algo = A2C(OptimCls=torch.optim.SGD, learning_rate=0.05)
    algo.initialize(agent, n_itr=n_itr, batch_spec=BatchSpec(T, 2 * B), mid_batch_reset=True)
    for i in range(n_itr):
        samples = concat_b(records[0][i]["samples"], records[1][i]["samples"])
        agent.train_mode(i)
        algo.optimize_agent(i, samples)
        for key, value in agent.state_dict().items():
            torch.testing.assert_close(
                value, records[0][i]["after"][key], rtol=1e-5, atol=1e-6, msg=f"{i} {key}"
            )
    # Observation statistics of all 2 * T * B * n_itr steps, the same on both ranks.
    assert records[1][-1]["after"]["obs_rms.count"].item() == 2 * T * B * n_itr
    # The run's final parameters are those of the last iteration.
    for key, value in runner.agent.state_dict().items():
        assert torch.equal(value, records[0][-1]["after"][key])


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_failing_worker_stops_every_rank_with_an_error_naming_it(how):
    # CpuSampler: the worker's sampler holds shared memory. Raising, the worker frees it;
    # killed, it cannot: rank 0 sweeps it.
    runner = make_runner(n_itr=6, SamplerCls=CpuSampler, fail=(1, 2, how))
    start = time.monotonic()
    with pytest.raises(LearnerError) as info:
        runner.train()
    assert time.monotonic() - start < 30
    assert info.value.rank == 1
    message = str(info.value)
    assert "learner rank 1" in message
    if how == "raise":
        assert "ValueError during itr 2: planted failure on rank 1" in message
    else:
        assert "died with signal SIGKILL" in message
    assert_nothing_left(runner)


@pytest.mark.parametrize(
    "how, error, match",
    [("raise", ValueError, "planted failure on rank 0"), ("sigterm", Preempted, "SIGTERM")],
)
def test_exception_or_sigterm_in_rank_0_surfaces_unchanged_and_stops_every_rank(how, error, match):
    # CpuSampler: a worker stops (its sampler too) while its collective fails.
    runner = make_runner(n_itr=6, SamplerCls=CpuSampler, fail=(0, 1, how))
    with pytest.raises(error, match=match):
        runner.train()
    assert_nothing_left(runner)


def test_bad_affinity_is_rejected_before_any_process_starts():
    kwargs = dict(algo=A2C(), agent=MlpFfAgent(), sampler=None, n_steps=10)
    with pytest.raises(TypeError, match="list of per-learner dicts"):
        SyncRl(**kwargs, affinity=dict(workers_cpus=[0]))
    with pytest.raises(ValueError, match="world_size=3 but the affinity list has 2"):
        SyncRl(**kwargs, affinity=AFFINITY, world_size=3)
    with pytest.raises(ValueError, match="either every learner has a GPU"):
        SyncRl(**kwargs, affinity=[dict(cuda_idx=0), dict()])
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            SyncRl(**kwargs, affinity=[dict(cuda_idx=0), dict(cuda_idx=1)])
    assert our_children() == []
