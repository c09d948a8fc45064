"""The training-rate columns every runner logs: CumTrainTime, UpdatesPerSecond,
ReplayRatio (off-policy algorithms) and CumSkippedSteps."""

import csv
import os

import pytest
import torch
from probe_envs import ConstantRewardEnv

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.pg.a2c import A2C
from rlpyt.runners.minibatch_rl import MinibatchRl, MinibatchRlEval
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

pytestmark = pytest.mark.timeout(60)


def run(tmp_path, algo, agent, RunnerCls=MinibatchRl):
    torch.set_num_threads(1)
    sampler = SerialSampler(
        EnvCls=ConstantRewardEnv,
        env_kwargs=dict(horizon=10),
        batch_T=4,
        batch_B=2,
        max_decorrelation_steps=0,
        eval_n_envs=1 if RunnerCls is MinibatchRlEval else 0,
        eval_max_steps=20,
    )
    runner = RunnerCls(
        algo=algo, agent=agent, sampler=sampler, n_steps=256, seed=1, log_interval_steps=64,
        progress_bar=False,
    )  # fmt: skip
    with logger_context(tmp_path, 0, "rates", snapshot_mode="none") as lg:
        runner.train()
    with open(os.path.join(lg.run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))


@pytest.mark.filterwarnings("ignore:evaluation at itr")
@pytest.mark.parametrize("RunnerCls", [MinibatchRl, MinibatchRlEval])
def test_off_policy_rows_log_the_interval_replay_ratio_and_update_rate(tmp_path, RunnerCls):
    algo = DQN(batch_size=16, replay_ratio=4, min_steps_learn=64, replay_size=512)
    rows = run(tmp_path, algo, DqnMlpAgent(model_kwargs=dict(hidden_sizes=[8])), RunnerCls)
    if RunnerCls is MinibatchRlEval:  # the row of the evaluation before training
        first, rows = rows[0], rows[1:]
        assert float(first["CumTrainTime"]) == 0 and int(first["CumSkippedSteps"]) == 0
    assert len(rows) == 4
    # 64 env steps per row, 4 x 8 / 16 = 2 updates per 8-step batch from batch 8 on.
    assert [float(r["ReplayRatio"]) for r in rows] == [0.0, 4.0, 4.0, 4.0]
    assert [int(r["CumUpdates"]) for r in rows] == [0, 16, 32, 48]
    train_times = [float(r["CumTrainTime"]) for r in rows]
    assert all(0 < a < b for a, b in zip(train_times, train_times[1:], strict=False))
    assert all(t <= float(r["CumTime (s)"]) for t, r in zip(train_times, rows, strict=True))
    interval = train_times[2] - train_times[1]
    assert float(rows[2]["UpdatesPerSecond"]) == pytest.approx(16 / interval, rel=1e-6)
    assert float(rows[0]["UpdatesPerSecond"]) == 0.0
    assert all(int(r["CumSkippedSteps"]) == 0 for r in rows)
    assert all(float(r["skipped"]) == 0.0 for r in rows[1:])


def test_on_policy_rows_have_no_replay_ratio(tmp_path):
    rows = run(tmp_path, A2C(), MlpFfAgent(model_kwargs=dict(hidden_sizes=[8])))
    assert "ReplayRatio" not in rows[0]
    # One update per 8-step batch: 8 per row.
    assert [int(r["CumUpdates"]) for r in rows] == [8, 16, 24, 32]
    assert all(float(r["UpdatesPerSecond"]) > 0 for r in rows)
    assert all(float(r["CumTrainTime"]) > 0 for r in rows)
