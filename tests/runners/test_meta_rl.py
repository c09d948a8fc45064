"""MetaRl: meta-test columns in progress.csv, and exact resume from a snapshot."""

import csv

import pytest
import torch

from rlpyt.agents.qpg.pearl_agent import PearlAgent
from rlpyt.algos.qpg.pearl import PEARL
from rlpyt.envs.meta import meta_make
from rlpyt.runners.meta_rl import MetaRl
from rlpyt.samplers.meta import MetaCpuSampler, MetaSerialSampler
from rlpyt.utils.logging.context import logger_context


def _runner(n_itr, resume_from=None, SamplerCls=MetaSerialSampler, **sampler_kwargs):
    sampler = SamplerCls(
        **sampler_kwargs, EnvCls=meta_make, env_kwargs=dict(name="point-robot"), n_train_tasks=3, n_test_tasks=2,
        num_initial_steps=20, num_tasks_sample=2, num_steps_prior=20,
        num_extra_rl_steps_posterior=20, embedding_batch_size=8, num_steps_per_eval=60,
        num_exp_traj_eval=1,
    )  # fmt: skip
    agent = PearlAgent(hidden_sizes=[16], encoder_hidden_sizes=[16], latent_size=2)
    algo = PEARL(num_train_steps_per_itr=3, meta_batch=2, batch_size=8, embedding_batch_size=6)
    return MetaRl(algo=algo, agent=agent, sampler=sampler, n_itr=n_itr, seed=4,
                  resume_from=resume_from, progress_bar=False,
                  affinity=dict(torch_threads=1))  # fmt: skip


def _train(tmp_path, run_ID, n_itr, resume_from=None, **sampler):
    runner = _runner(n_itr, resume_from, **sampler)
    with logger_context(str(tmp_path), run_ID, "pearl", snapshot_mode="all",
                        resume=resume_from is not None, exist_ok=True):  # fmt: skip
        runner.train()
    return runner


@pytest.mark.slow
def test_progress_columns_and_exact_resume(tmp_path):
    full = _train(tmp_path, 0, 3)
    with open(tmp_path / "run_0" / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for key in ("MetaTest/FinalReturn", "MetaTest/Return_traj0", "MetaTest/Return_traj2",
                "MetaTrain/FinalReturn", "CumEnvSteps"):  # fmt: skip
        assert key in rows[0]
    assert float(rows[0]["MetaTest/FinalReturn"]) == float(rows[0]["MetaTest/Return_traj2"])
    # Run 1: two iterations, then resumed from its iteration-1 snapshot for the third.
    _train(tmp_path, 1, 2)
    resumed = _train(tmp_path, 1, 3, resume_from=str(tmp_path / "run_1" / "itr_1.pkl"))
    for key, value in full.agent.state_dict().items():
        for name, tensor in value.items():
            assert torch.equal(tensor, resumed.agent.state_dict()[key][name]), (key, name)
    assert full.last_meta_test == resumed.last_meta_test


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_parallel_sampler_trains_as_serial_and_resumes_exactly(tmp_path):
    # Serial for 2 iterations; the worker processes for 2 iterations, then resumed from their
    # iteration-0 snapshot for the second: the same agent and meta-test at the end.
    serial = _train(tmp_path, 0, 2)
    parallel = dict(SamplerCls=MetaCpuSampler, n_workers=2)
    _train(tmp_path, 1, 1, **parallel)
    resumed = _train(tmp_path, 1, 2, resume_from=str(tmp_path / "run_1" / "itr_0.pkl"), **parallel)
    for key, value in serial.agent.state_dict().items():
        for name, tensor in value.items():
            assert torch.equal(tensor, resumed.agent.state_dict()[key][name]), (key, name)
    assert serial.last_meta_test == resumed.last_meta_test
    assert resumed.sampler.env_steps == serial.sampler.env_steps == 3 * 20 + 2 * 2 * 40
    assert resumed.sampler.workers and not any(p.is_alive() for p in resumed.sampler.workers)


def test_resume_drops_adaptation_curve_rows_after_the_snapshot(tmp_path, monkeypatch):
    """Rows of meta-tests logged after the snapshot resumed from (before a crash) are redone,
    so they are dropped, like progress.csv's."""
    from rlpyt.runners.minibatch_rl import MinibatchRlBase

    monkeypatch.setattr(MinibatchRlBase, "load_snapshot", lambda self, path: 1)
    runner = _runner(3)
    with logger_context(str(tmp_path), 0, "pearl"):
        for itr in range(4):
            runner._write_curve(itr, {"MetaTest/Return_traj0": float(itr), "MetaTest/Final": 0.0})
        assert runner.load_snapshot("unused") == 1
    assert (tmp_path / "run_0" / "adaptation_curve.csv").read_text() == (
        "Iteration,Tasks,Metric,Trajectory,MeanReturn\n"
        "0,MetaTest,Return,0,0.0\n"
        "1,MetaTest,Return,0,1.0\n"
    )
