"""Atari resume: 2N iterations straight == N, kill, resume, N more (serial sampler, AtariEnv).

AtariEnv pickles its emulator state (rlpyt.envs.atari.atari_env.AtariEnv.__getstate__),
so the snapshot holds the envs mid-game and the resumed run continues bit-exactly
instead of resetting them with a warning.
"""

import warnings

import pytest
import torch
from progress_rows import Interrupted, StopAfter, read_rows

from rlpyt.agents.pg.atari import AtariFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

T, B, N = 8, 2, 2


def make_runner(RunnerCls=MinibatchRl, resume_from=None):
    sampler = SerialSampler(
        EnvCls=AtariEnv,
        # Sticky actions: the emulator's RNG must travel in the snapshot too. A short
        # horizon makes the resumed half start a new game (the no-op generator).
        env_kwargs=dict(
            game="breakout",
            frame_shape=(42, 42),
            repeat_action_probability=0.25,
            fire_on_reset=True,
            horizon=20,
        ),
        TrajInfoCls=AtariTrajInfo,
        batch_T=T,
        batch_B=B,
        max_decorrelation_steps=5,
    )
    agent = AtariFfAgent(model_kwargs=dict(fc_sizes=32, channels=[4, 8]))
    return RunnerCls(
        algo=A2C(learning_rate=1e-3),
        agent=agent,
        sampler=sampler,
        n_steps=2 * N * T * B,
        seed=11,
        log_interval_steps=T * B,
        resume_from=resume_from,
        progress_bar=False,
    )


def test_atari_run_resumes_bit_exactly(tmp_path):
    torch.set_num_threads(1)
    straight = make_runner()
    with logger_context(tmp_path / "a", 0, "straight", snapshot_mode="last") as lg:
        straight.train()
    rows_a = read_rows(lg.run_dir)

    first = make_runner(StopAfter)
    first.stop_itr = N - 1
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*cannot be saved in the snapshot.*")
        with pytest.raises(Interrupted):
            with logger_context(tmp_path / "b", 0, "resumed", snapshot_mode="last") as lg_b:
                first.train()
    resumed = make_runner(resume_from=lg_b.run_dir)
    with logger_context(tmp_path / "b", 0, "resumed", snapshot_mode="last", resume=True):
        resumed.train()
    rows_b = read_rows(lg_b.run_dir)

    assert len(rows_a) == 2 * N
    assert rows_b == rows_a
    for (name, pa), pb in zip(
        straight.agent.model.named_parameters(), resumed.agent.model.parameters()
    ):
        assert torch.equal(pa, pb), name
    assert any(row["GameScoreAverage"] not in ("", "nan") for row in rows_a)  # games ended
