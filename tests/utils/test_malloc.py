"""glibc's malloc kept from returning freed memory (rlpyt.utils.malloc), and the runners
that set it up."""

import os
import platform
import subprocess
import sys

import pytest

from rlpyt.utils.malloc import keep_freed_memory, malloc_settings_in_environment

pytestmark = pytest.mark.timeout(60)

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc"
)

# Forty 3 MB tensors made and freed, 10 times: page faults counted after a first round.
# 120 MB freed at once is more than glibc's adaptive trim threshold can grow to (64 MB).
CHURN = """
import resource, sys, torch
from rlpyt.utils.malloc import keep_freed_memory
print(keep_freed_memory() if sys.argv[1] == "keep" else "default")
def churn():
    blocks = [torch.ones(3 << 18) for _ in range(40)]
    del blocks
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def churn_faults(mode, **env):
    out = subprocess.run(
        [sys.executable, "-c", CHURN, mode],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=50,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.fixture
def no_malloc_env(monkeypatch):
    """The process environment without glibc malloc settings of its own."""
    for name in list(os.environ):
        if name.startswith("MALLOC_") or name == "GLIBC_TUNABLES":
            monkeypatch.delenv(name)
    return monkeypatch


@glibc
def test_freed_tensors_are_reused_without_page_faults(no_malloc_env):
    applied, kept = churn_faults("keep")
    default, faults = churn_faults("default")
    assert applied == "True" and default == "default"
    # 1.2 GB made and freed: with the defaults from 30,000 to 300,000 faults here (glibc's
    # adaptive thresholds do not behave the same in every process); kept, about 5,000.
    assert faults > 20_000
    assert kept < min(12_000, faults / 4)


@glibc
def test_the_users_own_malloc_settings_stand():
    applied, faults = churn_faults("keep", MALLOC_TRIM_THRESHOLD_="1000")
    assert applied == "False" and faults > 20_000


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, False),
        ({"MALLOC_MMAP_THRESHOLD_": "65536"}, True),
        ({"MALLOC_TRIM_THRESHOLD_": "0"}, True),
        ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}, True),
        ({"GLIBC_TUNABLES": "glibc.pthread.rseq=0"}, False),
    ],
)
def test_malloc_settings_in_environment(no_malloc_env, env, expected):
    for name, value in env.items():
        no_malloc_env.setenv(name, value)
    assert malloc_settings_in_environment() is expected


def test_thresholds_must_be_positive():
    with pytest.raises(ValueError, match="mmap_threshold_mb=0"):
        keep_freed_memory(mmap_threshold_mb=0)
    with pytest.raises(ValueError, match="trim_threshold_mb=-1"):
        keep_freed_memory(trim_threshold_mb=-1)


@pytest.mark.parametrize("affinity, calls", [(None, 1), (dict(keep_freed_memory=False), 0)])
def test_runner_keeps_freed_memory_unless_told_not_to(monkeypatch, tmp_path, affinity, calls):
    import rlpyt.runners.minibatch_rl as minibatch_rl
    from rlpyt.agents.pg.mlp import MlpFfAgent
    from rlpyt.algos.pg.a2c import A2C
    from rlpyt.envs.gym import gym_make
    from rlpyt.samplers.serial.sampler import SerialSampler
    from rlpyt.utils.logging.context import logger_context

    called = []
    monkeypatch.setattr(minibatch_rl, "keep_freed_memory", lambda: called.append(1))
    runner = minibatch_rl.MinibatchRl(
        algo=A2C(),
        agent=MlpFfAgent(),
        sampler=SerialSampler(
            EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=4, batch_B=2
        ),
        n_steps=16,
        seed=0,
        affinity=affinity,
        log_interval_steps=16,
        progress_bar=False,
    )
    with logger_context(tmp_path, 0, "malloc", snapshot_mode="none"):
        runner.train()
    assert len(called) == calls
