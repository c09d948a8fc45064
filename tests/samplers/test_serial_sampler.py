import numpy as np
import pytest
import torch
from probe_envs import ConstantRewardEnv, CountingEnv, RecordingAgent

from rlpyt.samplers.buffer import agent_inputs_from_samples
from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector, CpuWaitResetCollector
from rlpyt.samplers.serial.sampler import SerialSampler


def make_sampler(T=5, B=2, lengths=(3,), collector=CpuResetCollector, time_limit=False, **kw):
    sampler = SerialSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=lengths, time_limit=time_limit),
        batch_T=T,
        batch_B=B,
        CollectorCls=collector,
        max_decorrelation_steps=0,
        **kw,
    )
    agent = RecordingAgent()
    sampler.initialize(agent, seed=0, bootstrap_value=True)
    agent.calls.clear()
    agent.k = 0
    return sampler, agent


def test_prev_action_and_prev_reward_alias_action_and_reward():
    sampler, _ = make_sampler()
    samples, _ = sampler.obtain_samples(0)
    a, pa = sampler.samples_np.agent.action, sampler.samples_np.agent.prev_action
    r, pr = sampler.samples_np.env.reward, sampler.samples_np.env.prev_reward
    assert np.shares_memory(a, pa) and np.shares_memory(r, pr)
    np.testing.assert_array_equal(pa[1:], a[:-1])
    np.testing.assert_array_equal(pr[1:], r[:-1])
    a[2, 1] = 7  # writing action[t] is writing prev_action[t + 1]
    assert pa[3, 1] == 7
    assert torch.equal(samples.agent.prev_action[3], torch.from_numpy(pa[3]))


def test_exact_samples_mid_batch_reset_and_null_inputs_after_reset():
    # Episodes of length 3; B=1; the agent acts k % 3 at its k-th call; reward = action + 1.
    sampler, agent = make_sampler(T=5, B=1, lengths=(3,))
    samples, completed = sampler.obtain_samples(0)
    s = sampler.samples_np
    np.testing.assert_array_equal(s.env.observation[:, 0, 0], [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(s.agent.action[:, 0], [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(s.env.reward[:, 0], [1, 2, 3, 1, 2])
    np.testing.assert_array_equal(s.env.done[:, 0], [False, False, True, False, False])
    assert [info.Return for info in completed] == [6.0] and completed[0].Length == 3
    # What the agent saw: the previous action/reward, null (0) right after the reset.
    seen_prev_action = [int(c[1][0]) for c in agent.calls]
    seen_prev_reward = [float(c[2][0]) for c in agent.calls]
    assert seen_prev_action == [0, 0, 1, 0, 0]
    assert seen_prev_reward == [0.0, 1.0, 2.0, 0.0, 1.0]
    # The training inputs rebuilt from the samples match what the agent saw.
    inputs = agent_inputs_from_samples(samples)
    assert inputs.prev_action[:, 0].tolist() == seen_prev_action
    assert inputs.prev_reward[:, 0].tolist() == seen_prev_reward
    assert agent.resets.count(0) == 1  # reset_one for the env that finished
    # The next batch continues from the carried inputs.
    sampler.obtain_samples(1)
    np.testing.assert_array_equal(s.env.observation[:, 0, 0], [2, 0, 1, 2, 0])
    assert s.agent.prev_action[0, 0] == 1 and s.env.prev_reward[0, 0] == 2


def test_bootstrap_value_is_value_of_next_observation():
    sampler, _ = make_sampler(T=5, B=1, lengths=(3,))
    samples, _ = sampler.obtain_samples(0)
    # After the batch the env is at t=2 of its second episode: V = 10 * 2.
    assert samples.agent.bootstrap_value.tolist() == [[20.0]]
    assert not samples.agent.timeout_value.any()


def test_timeout_value_holds_value_of_final_observation():
    sampler, _ = make_sampler(T=5, B=1, lengths=(3,), time_limit=True)
    samples, _ = sampler.obtain_samples(0)
    # The episode is cut at t=2 by the time limit; its final observation is 3.
    assert samples.agent.timeout_value[:, 0].tolist() == [0, 0, 30.0, 0, 0]
    assert samples.env.env_info.timeout[:, 0].tolist() == [False, False, True, False, False]


def test_wait_reset_finished_envs_wait_zero_filled():
    sampler, agent = make_sampler(T=5, B=2, lengths=(2, 4), collector=CpuWaitResetCollector)
    assert not sampler.mid_batch_reset
    samples, completed = sampler.obtain_samples(0)
    s = sampler.samples_np
    # Both envs run episode 0 of length 2, then wait (zeros, done) to the end of the batch.
    np.testing.assert_array_equal(s.env.done[:, 0], [False, True, True, True, True])
    np.testing.assert_array_equal(s.env.reward[2:, 0], [0, 0, 0])
    np.testing.assert_array_equal(s.env.observation[2:, 0, 0], [0, 0, 0])
    np.testing.assert_array_equal(s.agent.action[2:, 0], [0, 0, 0])
    assert len(completed) == 2
    # Next batch: envs were reset between batches; episode 1 has length 4.
    sampler.obtain_samples(1)
    np.testing.assert_array_equal(s.env.observation[:, 0, 0], [0, 1, 2, 3, 0])
    np.testing.assert_array_equal(s.env.done[:, 0], [False, False, False, True, True])
    assert s.agent.prev_action[0, 0] == 0 and s.env.prev_reward[0, 0] == 0


def test_decorrelation_and_seeding_reproducible():
    def first_batch(seed):
        sampler = SerialSampler(
            EnvCls=CountingEnv,
            env_kwargs=dict(lengths=(50,)),
            batch_T=4,
            batch_B=3,
            max_decorrelation_steps=40,
        )
        sampler.initialize(RecordingAgent(), seed=seed)
        sampler.obtain_samples(0)
        return sampler.samples_np.env.observation.copy()

    a, b, c = first_batch(3), first_batch(3), first_batch(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(set(a[0, :, 0].tolist())) > 1  # envs start at different steps


def test_eval_is_not_biased_toward_short_episodes():
    # Episode lengths alternate 2 and 20 in every env; each return is 1 * length (action 0 -> r=1).
    class ZeroAgent(RecordingAgent):
        def step(self, observation, prev_action, prev_reward):
            out = super().step(observation, prev_action, prev_reward)
            return out._replace(action=torch.zeros_like(out.action))

    sampler = SerialSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(2, 20)),
        batch_T=2,
        batch_B=1,
        max_decorrelation_steps=0,
        eval_n_envs=2,
        eval_max_steps=200,
        eval_max_trajectories=4,
    )
    sampler.initialize(ZeroAgent(), seed=0)
    infos = sampler.evaluate_agent(0)
    # 4 episodes started (2 per env: lengths 2 then 20): all must be reported.
    assert sorted(info.Return for info in infos) == [2.0, 2.0, 20.0, 20.0]


def test_eval_unfinished_episodes_are_not_reported_and_warned():
    sampler = SerialSampler(
        EnvCls=CountingEnv,
        env_kwargs=dict(lengths=(3, 100)),
        batch_T=2,
        batch_B=1,
        max_decorrelation_steps=0,
        eval_n_envs=1,
        eval_max_steps=10,
    )
    sampler.initialize(RecordingAgent(), seed=0)
    with pytest.warns(UserWarning, match="1 episode"):
        infos = sampler.evaluate_agent(0)
    assert [info.Length for info in infos] == [3]


def test_constant_reward_env_timeout_probe_inputs():
    sampler = SerialSampler(
        EnvCls=ConstantRewardEnv,
        env_kwargs=dict(horizon=4),
        batch_T=8,
        batch_B=1,
        max_decorrelation_steps=0,
    )
    sampler.initialize(RecordingAgent(), seed=0, bootstrap_value=True)
    samples, completed = sampler.obtain_samples(0)
    assert samples.env.done[:, 0].tolist() == [False, False, False, True] * 2
    assert samples.env.env_info.timeout[:, 0].tolist() == [False, False, False, True] * 2
    assert len(completed) == 2


def test_bad_settings_and_use_after_shutdown():
    with pytest.raises(ValueError, match="batch_T must be >= 1, got 0"):
        SerialSampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=0, batch_B=1)
    with pytest.raises(ValueError, match="eval_max_steps"):
        SerialSampler(EnvCls=CountingEnv, env_kwargs={}, batch_T=1, batch_B=1, eval_n_envs=2)
    sampler, _ = make_sampler()
    sampler.shutdown()
    sampler.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        sampler.obtain_samples(0)
