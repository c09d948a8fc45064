"""AsyncRl runs every off-policy algorithm unchanged: prioritized DQN, C51, R2D1, SAC, TD3.

Short runs (tiny networks, 64 env steps per sampler batch, 20 batches, learning
from batch 4) with the serial async sampler. Each checks the exact number of
gradient steps the replay ratio pays for, the logged ``ReplayRatio``, that the
weights moved and reached the sampler process, and that nothing is left behind.
"""

import copy
import csv
import os
import threading

import numpy as np
import pytest
import torch
from faulty_envs import shm_segments, wait_no_worker_children

from rlpyt.agents.dqn.mlp import CatDqnMlpAgent, DqnMlpAgent, R2d1MlpAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.agents.qpg.td3_agent import Td3Agent
from rlpyt.algos.dqn.cat_dqn import CategoricalDQN
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.dqn.r2d1 import R2D1
from rlpyt.algos.pg.ppo import PPO
from rlpyt.algos.qpg.sac import SAC
from rlpyt.algos.qpg.td3 import TD3
from rlpyt.envs.gym import gym_make
from rlpyt.models.running_mean_std import RunningMeanStdModel
from rlpyt.replays.async_ import AsyncReplayBuffer, DeferredUpdate
from rlpyt.replays.non_sequence.prioritized import PrioritizedReplayBuffer
from rlpyt.runners.async_rl import AsyncRl
from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler
from rlpyt.utils.logging.context import logger_context

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(os.name != "posix", reason="POSIX")]

BATCH_T, BATCH_B = 16, 4  # 64 env steps per sampler batch
N_ITR, MIN_ITR_LEARN = 20, 4
N_STEPS, MIN_STEPS_LEARN = N_ITR * 64, MIN_ITR_LEARN * 64
HIDDEN = dict(hidden_sizes=[16])
QPG_HIDDEN = dict(hidden_sizes=[16, 16])
NORM = dict(hidden_sizes=[16, 16], normalize_observation=True)


@pytest.fixture
def clean():
    """As in test_async_rl.py: no worker process and no shared memory left behind."""
    torch.set_num_threads(1)
    before = shm_segments([os.getpid()])
    yield
    assert wait_no_worker_children() == []
    assert shm_segments([os.getpid()]) - before == set()


def dqn_kwargs(**kwargs):
    return dict(
        batch_size=32,
        min_steps_learn=MIN_STEPS_LEARN,
        replay_size=4000,
        replay_ratio=8,  # 16 gradient steps per batch
        target_update_interval=32,
        learning_rate=1e-3,
        eps_steps=500,
        updates_per_sync=4,
        **kwargs,
    )


def qpg_kwargs(**kwargs):
    return dict(
        batch_size=32,
        min_steps_learn=MIN_STEPS_LEARN,
        replay_size=4000,
        replay_ratio=8,  # 16 gradient steps per batch
        updates_per_sync=4,
        **kwargs,
    )


def train(tmp_path, algo, agent, env_id, networks):
    """Run AsyncRl; returns (runner, progress rows, {network: its initial state_dict})."""
    sampler = AsyncSerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id=env_id),
        batch_T=BATCH_T,
        batch_B=BATCH_B,
        max_decorrelation_steps=0,
    )
    runner = AsyncRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=N_STEPS,
        seed=5,
        log_interval_steps=N_STEPS // 2,
        progress_bar=False,
    )
    initial = {}
    algo_initialize = algo.initialize

    def initialize(*args, **kwargs):  # the networks exist once the agent is initialized
        initial.update({n: copy.deepcopy(getattr(agent, n).state_dict()) for n in networks})
        return algo_initialize(*args, **kwargs)

    algo.initialize = initialize
    with logger_context(tmp_path, 0, "algos", snapshot_mode="last") as lg:
        assert runner.train() == N_ITR
    assert os.path.exists(os.path.join(lg.run_dir, "params.pkl"))
    with open(os.path.join(lg.run_dir, "progress.csv")) as f:
        table = list(csv.DictReader(f))
    return runner, table, initial


def check_run(runner, table, initial, updates_per_itr):
    agent, algo = runner.agent, runner.algo
    assert [int(r["CumSteps"]) for r in table] == [N_STEPS // 2, N_STEPS]
    # The sync runner's gradient steps exactly: updates_per_itr per batch after MIN_ITR_LEARN.
    assert algo.update_counter == (N_ITR - MIN_ITR_LEARN) * updates_per_itr
    assert int(table[-1]["CumUpdates"]) == algo.update_counter
    target = algo.replay_ratio
    ratios = [float(r["ReplayRatio"]) for r in table]
    assert all(r <= target * (1 + 1e-9) for r in ratios), ratios  # never ahead of the data
    assert abs(ratios[-1] - target) / target <= 0.10, ratios
    assert int(table[-1]["OptimizerItr"]) == N_ITR - MIN_ITR_LEARN
    for name, state in initial.items():
        now = getattr(agent, name).state_dict()
        changed = [k for k, v in state.items() if v.is_floating_point() and k.endswith("weight")]
        assert changed and all(not torch.equal(state[k], now[k]) for k in changed), name
    # updates_per_itr >= updates_per_sync: every optimizer iteration sent the weights.
    assert runner.sampler.weights.version.value == N_ITR - MIN_ITR_LEARN


def test_prioritized_dqn_updates_priorities_under_the_lock(tmp_path, clean, monkeypatch):
    algo = DQN(**dqn_kwargs(prioritized_replay=True, double_dqn=True))
    agent = DqnMlpAgent(model_kwargs=dict(HIDDEN, dueling=True))
    held = []
    update = PrioritizedReplayBuffer.update_batch_priorities

    def recording_update(self, priorities):
        write_lock = algo.replay_buffer.rw_lock._write_lock
        free = write_lock.acquire(block=False)  # fails while this thread's writer holds it
        if free:
            write_lock.release()
        held.append(not free)
        return update(self, priorities)

    monkeypatch.setattr(PrioritizedReplayBuffer, "update_batch_priorities", recording_update)
    runner, table, initial = train(tmp_path, algo, agent, "CartPole-v1", ["model"])
    check_run(runner, table, initial, updates_per_itr=16)
    assert len(held) == algo.update_counter and all(held)
    strategy = runner.algo.replay_buffer.replay_buffer.strategy
    leaves = strategy.tree.values[:N_STEPS]  # replay_size > N_STEPS: no wraparound
    assert leaves.shape == (N_STEPS,)
    # Transitions enter at the running max (1: TD errors are clipped at delta_clip=1);
    # 8192 sampled transitions later many carry their own (unclipped) TD error.
    assert strategy.default_priority == 1.0 and leaves.max() <= 1.0
    assert (leaves < 1.0).mean() > 0.2
    assert len(np.unique(leaves)) > 100


def test_categorical_dqn(tmp_path, clean):
    algo = CategoricalDQN(V_min=0.0, V_max=50.0, **dqn_kwargs())
    agent = CatDqnMlpAgent(n_atoms=11, model_kwargs=HIDDEN)
    runner, table, initial = train(tmp_path, algo, agent, "CartPole-v1", ["model"])
    check_run(runner, table, initial, updates_per_itr=16)
    assert all(np.isfinite(float(r["loss"])) for r in table)


def test_r2d1_sequence_replay(tmp_path, clean):
    algo = R2D1(
        batch_T=8,
        batch_B=4,  # 32 steps per batch: replay_ratio 8 -> 16 gradient steps per batch
        warmup_T=4,
        store_rnn_state_interval=8,
        n_step_return=2,
        min_steps_learn=MIN_STEPS_LEARN,
        replay_size=4000,
        replay_ratio=8,
        target_update_interval=32,
        learning_rate=1e-3,
        eps_steps=500,
        updates_per_sync=4,
    )
    agent = R2d1MlpAgent(model_kwargs=dict(hidden_sizes=[16], lstm_size=16, head_sizes=[16]))
    runner, table, initial = train(tmp_path, algo, agent, "CartPole-v1", ["model"])
    check_run(runner, table, initial, updates_per_itr=16)


def test_td3(tmp_path, clean):
    algo = TD3(**qpg_kwargs())
    agent = Td3Agent(model_kwargs=QPG_HIDDEN, q_model_kwargs=QPG_HIDDEN)
    runner, table, initial = train(tmp_path, algo, agent, "Pendulum-v1", ["model", "q_model"])
    check_run(runner, table, initial, updates_per_itr=16)


def test_sac_folds_observation_statistics_in_the_optimizer_thread(tmp_path, clean, monkeypatch):
    """The copier thread appends batches while the optimizer thread runs forward passes:
    were the statistics folded in there, a forward pass could read a new mean with the old
    variance (and the sampler process could receive such a pair). The runner folds them in
    the optimizer thread, between its iterations, so this records the updating threads."""
    threads = set()
    update = RunningMeanStdModel.update

    def recording_update(self, x):
        threads.add(threading.current_thread().name)
        assert "update_obs_rms" not in vars(agent)  # the agent's own method, never replaced
        return update(self, x)

    monkeypatch.setattr(RunningMeanStdModel, "update", recording_update)
    algo = SAC(**qpg_kwargs())
    agent = SacAgent(model_kwargs=NORM, q_model_kwargs=NORM)
    runner, table, initial = train(tmp_path, algo, agent, "Pendulum-v1", ["model", "q1_model"])
    check_run(runner, table, initial, updates_per_itr=16)
    assert threads == {threading.main_thread().name}
    # Every collected observation folded in once (Pendulum has no mid-batch padding).
    observations = runner.algo.replay_buffer.observations.observation[: N_STEPS // BATCH_B]
    observations = observations.reshape(-1, 3).astype(np.float64)
    for name in agent._state_keys():
        rms = getattr(agent, name).obs_rms
        assert rms.count.item() == N_STEPS, name
        np.testing.assert_allclose(rms.mean.numpy(), observations.mean(0), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(rms.var.numpy(), observations.var(0), rtol=1e-7, atol=1e-9)


def test_the_algorithm_hook_locks_its_replay_and_defers_observation_statistics():
    """What AsyncRl asks of an algorithm (enable_concurrent_append, fold_obs_statistics),
    on SAC with observation normalisation; an on-policy algorithm refuses the hook."""
    sampler = AsyncSerialSampler(
        EnvCls=gym_make, env_kwargs=dict(id="Pendulum-v1"), batch_T=BATCH_T, batch_B=BATCH_B
    )
    algo, agent = SAC(**qpg_kwargs()), SacAgent(model_kwargs=NORM, q_model_kwargs=NORM)
    examples = sampler.async_initialize(agent, seed=1, final_observation=True)
    try:
        algo.initialize(agent, n_itr=N_ITR, batch_spec=sampler.batch_spec, examples=examples)
        plain = algo.replay_buffer
        algo.enable_concurrent_append()
        assert isinstance(algo.replay_buffer, AsyncReplayBuffer)
        assert algo.replay_buffer.replay_buffer is plain
        algo.append_samples(sampler.buffers_pyt[0])
        assert plain.n_sampleable > 0 and agent.model.obs_rms.count.item() == 0
        algo.fold_obs_statistics()
        assert agent.model.obs_rms.count.item() == BATCH_T * BATCH_B
        assert "update_obs_rms" not in vars(agent)
    finally:
        sampler.shutdown()
    with pytest.raises(TypeError, match="PPO does not learn from a replay buffer"):
        PPO().enable_concurrent_append()


def test_deferred_update_copies_then_applies_in_order_in_the_flushing_thread():
    calls = []
    deferred = DeferredUpdate(lambda x: calls.append((threading.current_thread().name, x)))
    source = torch.zeros(2)
    writer = threading.Thread(target=lambda: [deferred(source + k) for k in (1, 2)])
    writer.start()
    writer.join()
    deferred(source)
    source += 7  # the writer's buffer is reused: the queued copy must not change
    assert calls == []
    deferred.flush()
    assert [name for name, _ in calls] == [threading.current_thread().name] * 3
    assert [x.tolist() for _, x in calls] == [[1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]
    deferred.flush()
    assert len(calls) == 3


def test_a_start_up_error_after_the_double_buffer_is_built_leaves_nothing(tmp_path, clean):
    # R2D1 refuses a sampler batch_T (16) that is not a multiple of its stored RNN state
    # interval (6) in algo.initialize: after the sampler allocated its shared buffers.
    before = shm_segments([os.getpid()])
    sampler = AsyncSerialSampler(
        EnvCls=gym_make, env_kwargs=dict(id="CartPole-v1"), batch_T=BATCH_T, batch_B=BATCH_B
    )
    runner = AsyncRl(
        algo=R2D1(batch_T=6, batch_B=2, store_rnn_state_interval=6, min_steps_learn=64),
        agent=R2d1MlpAgent(model_kwargs=dict(hidden_sizes=[8], lstm_size=8, head_sizes=[8])),
        sampler=sampler,
        n_steps=N_STEPS,
        progress_bar=False,
    )
    with logger_context(tmp_path, 0, "startup", snapshot_mode="none"):
        with pytest.raises(ValueError, match="not a multiple of store_rnn_state_interval 6"):
            runner.train()
    assert sampler.buffers_np  # built, and (the sampler still referenced) already freed:
    assert shm_segments([os.getpid()]) - before == set()
