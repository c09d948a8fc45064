"""The original rlpyt's example shapes, written in its value style, train at a tiny budget.

``examples/`` here ports each original example as a script (run by ``tests/examples``);
these tests add the original's way of writing counts (``n_steps=1e6``-style floats,
``SacAgent()``/``SAC()`` with the original keywords) in-process, and check the logs.
"""

import csv

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.qpg.sac import SAC
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import MinibatchRl, MinibatchRlEval
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context


def progress_rows(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_example_2_shape_sac_serial_with_evaluation(tmp_path):
    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="Pendulum-v1"),
        eval_env_kwargs=dict(id="Pendulum-v1"),
        batch_T=1,
        batch_B=1,
        max_decorrelation_steps=0,
        eval_n_envs=1,
        eval_max_steps=5e1,
        eval_max_trajectories=1,
    )
    algo = SAC(
        batch_size=16, min_steps_learn=4e1, replay_size=1e3, replay_ratio=16,
        reparameterize=True, bootstrap_timelimit=True,
    )  # fmt: skip
    agent = SacAgent(model_kwargs=None, q_model_kwargs=None, v_model_kwargs=None, pretrain_std=0.0)
    runner = MinibatchRlEval(
        algo=algo, agent=agent, sampler=sampler, n_steps=8e1, log_interval_steps=4e1,
        affinity=dict(cuda_idx=None), progress_bar=False,
    )  # fmt: skip
    with logger_context(tmp_path, 0, "sac_pendulum", dict(env="Pendulum-v1")):
        runner.train()
    rows = progress_rows(tmp_path / "run_0")
    assert [int(r["CumSteps"]) for r in rows] == [0, 40, 80]
    assert float(rows[-1]["qLoss"]) > 0  # learning started at step 40


def test_example_3_shape_cpu_sampler_two_workers(tmp_path):
    sampler = CpuSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id="CartPole-v1"),
        batch_T=2e1,
        batch_B=2,
        max_decorrelation_steps=0,
    )
    agent = MlpFfAgent(model_kwargs=dict(hidden_sizes=[16]))
    runner = MinibatchRl(
        algo=A2C(), agent=agent, sampler=sampler, n_steps=8e1, log_interval_steps=4e1,
        affinity=dict(cuda_idx=None, workers_cpus=[0, 0]), progress_bar=False,
    )  # fmt: skip
    with logger_context(tmp_path, 0, "a2c_cartpole", dict(env="CartPole-v1")):
        runner.train()
    rows = progress_rows(tmp_path / "run_0")
    assert [int(r["CumSteps"]) for r in rows] == [40, 80]
