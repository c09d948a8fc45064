"""Tiny learning tests of the Q-learning family (seeded, serial, CPU).

DQN and CategoricalDQN reach a mean training return (ReturnAverage over one log interval
of 9984 steps) >= 475 on CartPole-v1 within 100k steps with the CLI's default settings;
R2D1 learns a cue-memory task that a feed-forward DQN cannot.

A seeded run repeats exactly on one machine; another CPU follows another trajectory from
the same seed, so the budgets were checked on four floating-point paths and several seeds
(docs/benchmarks.md, "Learning tests on other numeric paths"): DQN crossed 475 between
49,920 and 69,888 steps, so it gets the whole 100k (10 log intervals, 99,840 steps); C51
crossed at 39,936 in every run, so it gets 7 intervals (69,888 steps). CI repeats this tier
on two other paths.

Each test fails when the algorithm cannot learn: ``pytest -m slow tests/learning
--break-loss`` maximises the TD (or distributional) loss instead of minimising it
(tests/learning/conftest.py); then no run gets past a return of ~20 and R2D1's probe stays
near 0 (last run recorded in docs/benchmarks.md).
"""

import csv
import os

import pytest
import torch
from memory_probe import CueMemoryEnv

from rlpyt.agents.dqn.mlp import DqnMlpAgent, R2d1MlpAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.dqn.r2d1 import R2D1
from rlpyt.cli.build import build_experiment
from rlpyt.cli.configs import default_config
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def returns_by_step(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return [(int(r["CumSteps"]), float(r["ReturnAverage"])) for r in csv.DictReader(f)]


@pytest.mark.parametrize("algo, seed, n_steps", [("dqn", 1, 99_840), ("cat_dqn", 1, 69_888)])
def test_cartpole_reaches_475_within_100k_steps(tmp_path, algo, seed, n_steps):
    config = default_config(algo, "CartPole-v1")
    config["runner"].update(seed=seed, n_steps=n_steps)
    runner = build_experiment(config)
    runner.progress_bar = False
    with logger_context(tmp_path, seed, f"{algo}_cartpole") as lg:
        runner.train()
    curve = returns_by_step(lg.run_dir)
    assert max(ret for steps, ret in curve if steps <= 100_000) >= 475, curve


def train_probe(tmp_path, recurrent, seed=1, n_steps=12_800):
    torch.set_num_threads(1)
    sampler = SerialSampler(
        EnvCls=CueMemoryEnv,
        env_kwargs=dict(length=4),
        batch_T=8,
        batch_B=8,
        max_decorrelation_steps=0,
    )
    common = dict(
        discount=0.9,
        min_steps_learn=640,
        replay_size=20_000,
        replay_ratio=8,
        target_update_interval=50,
        learning_rate=1e-3,
        eps_steps=3_200,
    )
    if recurrent:
        algo = R2D1(
            batch_T=8,
            batch_B=16,
            warmup_T=0,
            store_rnn_state_interval=8,
            n_step_return=1,
            **common,
        )
        agent = R2d1MlpAgent(eps_final=0.02)
    else:
        algo = DQN(batch_size=64, **common)
        agent = DqnMlpAgent(eps_final=0.02)
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_steps,
        seed=seed,
        log_interval_steps=1280,
        progress_bar=False,
    )
    with logger_context(tmp_path, int(recurrent), "probe") as lg:
        runner.train()
    return returns_by_step(lg.run_dir)


def test_r2d1_learns_memory_probe_beyond_feedforward_dqn(tmp_path):
    ff = train_probe(tmp_path, recurrent=False)
    rnn = train_probe(tmp_path, recurrent=True)
    ff_final = sum(ret for _, ret in ff[-3:]) / 3
    rnn_final = sum(ret for _, ret in rnn[-3:]) / 3
    # The cue is gone when the action counts: without memory the return stays near 0
    # (a coin flip between +1 and -1); with memory it approaches 1 (epsilon 0.02 aside).
    assert rnn_final >= 0.8, rnn
    assert abs(ff_final) <= 0.3, ff
