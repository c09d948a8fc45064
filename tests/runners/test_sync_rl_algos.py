"""SyncRl with replay (DQN, SAC) and multi-epoch (PPO) algorithms, observation
normalisation and resuming: two gloo learners on the CPU.

Every rank saves its batch and its agent and optimizer state after each
iteration (``Recording``); the test compares the ranks' files. The ranks stay
bitwise identical: the all-reduce of two gradients is one float addition whose
result both ranks receive, so both take the same optimizer step from the same
state.
"""

import csv
import os

import pytest
import torch
from test_sync_rl import AFFINITY, assert_nothing_left

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.pg.ppo import PPO
from rlpyt.algos.qpg.sac import SAC
from rlpyt.envs.gym import gym_make
from rlpyt.runners.sync_rl import SyncRl
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

T, B = 8, 2  # per rank
NORM = dict(hidden_sizes=[16], normalize_observation=True)


class Recording:
    """Algorithm mixin: after each ``optimize_agent`` saves ``rank{r}_itr{i}.pt`` with the
    batch and the agent, optimizer and update-counter state before and after."""

    def __init__(self, *, record_dir, **kwargs):
        super().__init__(**kwargs)
        self.record_dir = record_dir

    def _state(self):
        state = dict(
            agent=self.agent.state_dict(),
            optim=self.optim_state_dict(),
            update_counter=self.update_counter,
        )
        if getattr(self, "log_alpha", None) is not None:  # SAC's learned temperature
            state["log_alpha"] = self.log_alpha
        return clone(state)

    def optimize_agent(self, itr, samples):
        before = self._state()
        opt_info = super().optimize_agent(itr, samples)
        path = os.path.join(self.record_dir, f"rank{self.rank}_itr{itr}.pt")
        torch.save(dict(samples=samples, before=before, after=self._state()), path)
        return opt_info


class RecordingDQN(Recording, DQN):
    pass


class RecordingSAC(Recording, SAC):
    pass


class RecordingPPO(Recording, PPO):
    pass


def clone(tree):
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, dict):
        return {k: clone(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(clone(v) for v in tree)
    return tree


def assert_identical(a, b, where=""):
    """Nested dicts/lists of tensors and numbers, bitwise equal."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_identical(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def load(record_dir, rank, itr):
    return torch.load(os.path.join(record_dir, f"rank{rank}_itr{itr}.pt"), weights_only=False)


def make_runner(algo, agent, env_id, n_itr, SamplerCls=SerialSampler, resume_from=None):
    sampler = SamplerCls(
        EnvCls=gym_make,
        env_kwargs=dict(id=env_id, max_episode_steps=20),
        batch_T=T,
        batch_B=B,
        max_decorrelation_steps=0,
    )
    return SyncRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=n_itr * T * B * 2,
        seed=5,
        affinity=AFFINITY,
        log_interval_steps=T * B * 2,
        resume_from=resume_from,
        progress_bar=False,
        collective_timeout=60,
    )


def train_and_compare(runner, record_dir, n_itr):
    """Train; the ranks stepped different envs and their states agree after every
    iteration; returns rank 0's record of the last one."""
    assert runner.train() == n_itr
    assert_nothing_left(runner)
    for itr in range(n_itr):
        r0, r1 = load(record_dir, 0, itr), load(record_dir, 1, itr)
        assert not torch.equal(r0["samples"].env.observation, r1["samples"].env.observation)
        assert_identical(r0["after"], r1["after"], f"itr {itr}")
    return load(record_dir, 0, n_itr - 1)


def test_dqn_ranks_stay_identical(tmp_path):
    n_itr = 4
    algo = RecordingDQN(
        record_dir=str(tmp_path),
        min_steps_learn=T * B,  # per rank: each rank counts its own replay
        replay_size=500,
        batch_size=16,
        replay_ratio=8,
        target_update_interval=2,
        eps_steps=100,
        learning_rate=1e-2,
    )
    agent = DqnMlpAgent(model_kwargs=dict(hidden_sizes=[16]))
    last = train_and_compare(make_runner(algo, agent, "CartPole-v1", n_itr), tmp_path, n_itr)
    assert last["after"]["update_counter"] > 0
    assert_trained(load(tmp_path, 0, 0)["before"]["agent"], last["after"]["agent"])


def assert_trained(before, after):
    """Some parameter changed (the comparison of the ranks is not vacuous)."""
    flat_before, flat_after = flatten(before), flatten(after)
    assert any(not torch.equal(flat_before[k], flat_after[k]) for k in flat_before)


def flatten(tree, prefix=""):
    if isinstance(tree, dict):
        return {k2: v2 for k, v in tree.items() for k2, v2 in flatten(v, f"{prefix}{k}.").items()}
    return {prefix: tree}


def test_sac_ranks_stay_identical_temperature_included(tmp_path):
    n_itr = 3
    algo = RecordingSAC(
        record_dir=str(tmp_path),
        min_steps_learn=T * B,
        replay_size=500,
        batch_size=16,
        replay_ratio=16,
        learning_rate=1e-2,
    )
    # Five normalisers (pi, q1, q2 and the targets), each all-gathered on its own.
    agent = SacAgent(model_kwargs=NORM, q_model_kwargs=NORM)
    last = train_and_compare(make_runner(algo, agent, "Pendulum-v1", n_itr), tmp_path, n_itr)
    assert last["after"]["update_counter"] > 0
    # The learned temperature is the algorithm's, not the agent's: all-reduced too.
    assert last["after"]["log_alpha"] != 0
    assert_trained(load(tmp_path, 0, 0)["before"]["agent"], last["after"]["agent"])
    counts = {k: v.item() for k, v in flatten(last["after"]["agent"]).items() if "count" in k}
    assert len(counts) == 5 and set(counts.values()) == {2 * T * B * n_itr}, counts


def make_ppo_runner(record_dir, n_itr, resume_from=None, SamplerCls=SerialSampler):
    algo = RecordingPPO(record_dir=str(record_dir), epochs=2, minibatches=2, learning_rate=1e-2)
    agent = MlpFfAgent(model_kwargs=NORM)
    return make_runner(algo, agent, "CartPole-v1", n_itr, SamplerCls, resume_from)


@pytest.mark.parametrize("SamplerCls", [SerialSampler, CpuSampler])
def test_ppo_ranks_stay_identical_and_share_observation_statistics(tmp_path, SamplerCls):
    n_itr = 3
    runner = make_ppo_runner(tmp_path, n_itr, SamplerCls=SamplerCls)
    last = train_and_compare(runner, tmp_path, n_itr)
    # 2 epochs x 2 minibatches per iteration.
    assert last["after"]["update_counter"] == 4 * n_itr
    assert_trained(load(tmp_path, 0, 0)["before"]["agent"], last["after"]["agent"])
    # The statistics are those of the union of both ranks' observations (all valid:
    # the envs reset mid-batch), on both ranks.
    obs = torch.cat(
        [
            load(tmp_path, r, i)["samples"].env.observation.reshape(-1, 4)
            for r in (0, 1)
            for i in range(n_itr)
        ]
    ).double()
    for rank in (0, 1):
        stats = load(tmp_path, rank, n_itr - 1)["after"]["agent"]
        assert stats["obs_rms.count"].item() == 2 * T * B * n_itr == len(obs)
        torch.testing.assert_close(stats["obs_rms.mean"], obs.mean(0), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(
            stats["obs_rms.var"], obs.var(0, unbiased=False), rtol=1e-10, atol=1e-12
        )


def read_progress(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))


def test_resume_continues_iterations_and_state_on_every_rank(tmp_path):
    first_dir, second_dir = tmp_path / "rec1", tmp_path / "rec2"
    first_dir.mkdir()
    second_dir.mkdir()
    with logger_context(tmp_path / "log", 0, "sync", snapshot_mode="last") as lg:
        make_ppo_runner(first_dir, n_itr=2).train()
    saved = load(first_dir, 0, 1)["after"]
    resumed = make_ppo_runner(second_dir, n_itr=4, resume_from=lg.run_dir)
    with logger_context(tmp_path / "log", 0, "sync", snapshot_mode="last", resume=True):
        assert resumed.train() == 4
    assert_nothing_left(resumed)
    assert sorted(os.listdir(second_dir)) == [f"rank{r}_itr{i}.pt" for r in (0, 1) for i in (2, 3)]
    for rank in (0, 1):
        # Agent, optimizer (Adam's moments and step counts) and update counter loaded.
        assert_identical(load(second_dir, rank, 2)["before"], saved, f"rank {rank}")
    assert_identical(load(second_dir, 0, 3)["after"], load(second_dir, 1, 3)["after"])
    rows = read_progress(lg.run_dir)
    assert [int(r["CumSteps"]) for r in rows] == [T * B * 2 * (i + 1) for i in range(4)]
    assert [int(r["CumUpdates"]) for r in rows] == [4 * (i + 1) for i in range(4)]
