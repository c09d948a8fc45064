"""The envpool env backend (rlpyt.envs.envpool) against AtariEnv (the python backend).

With no start no-ops EnvPool's games are AtariEnv's frame for frame (same ALE, same seeds,
sticky actions included) up to the first lost life; the tests compare observations, rewards
and flags exactly there, and check the documented differences (lost lives, start no-ops)
by their flags and frame-stack conventions. Skipped where the ``envpool`` extra is absent
(CI installs it: tests/test_ci_extras.py).
"""

import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("envpool", reason="the 'envpool' extra is not installed")

from rlpyt.agents.pg.atari import AtariFfAgent  # noqa: E402
from rlpyt.cli.build import make_env_factory  # noqa: E402
from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo  # noqa: E402
from rlpyt.envs.envpool import EnvPoolAtariBatch, EnvPoolEnvs  # noqa: E402
from rlpyt.samplers.env_batch import GuardedEnvBatch  # noqa: E402
from rlpyt.samplers.parallel.cpu.collectors import (  # noqa: E402
    CpuResetCollector,
    CpuWaitResetCollector,
)
from rlpyt.samplers.parallel.cpu.sampler import CpuSampler  # noqa: E402
from rlpyt.samplers.serial.sampler import SerialSampler  # noqa: E402
from rlpyt.utils.buffer import buffer_method  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny convnets: more threads only contend (many times slower on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# Exactly AtariEnv's runs: no start no-ops (EnvPool draws them from its own generator).
EXACT = dict(max_start_noops=0, repeat_action_probability=0.25, frame_shape=(42, 42))


def _pair(seeds, **kwargs):
    batch = EnvPoolAtariBatch(seeds, **kwargs)
    envs = [AtariEnv(seed=s, **kwargs) for s in seeds]
    return batch, envs


def _step_both(batch, envs, action):
    step = batch.step(action)
    ref = [env.step(a) for env, a in zip(envs, action)]
    return step, ref


def _assert_same_step(step, ref):
    np.testing.assert_array_equal(step.observation, [r.observation for r in ref])
    assert step.reward.tolist() == [r.reward for r in ref]
    assert step.done.tolist() == [r.done for r in ref]
    for b, r in enumerate(ref):
        assert step.env_info[b] == r.env_info


def test_pong_frames_rewards_and_timeouts_equal_atari_env():
    """Sticky actions and a horizon of 20: both envs cut at step 20 (timeout), reset, go on."""
    batch, envs = _pair([3, 4], game="pong", horizon=20, **EXACT)
    first = batch.reset([1, 0])  # any order: rows follow ``indices``
    assert first.shape == (2, 4, 42, 42) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, [envs[1].reset(), envs[0].reset()])
    assert not first[:, :3].any() and first[:, 3].any()  # older frames zero, as AtariEnv's
    rng = np.random.default_rng(0)
    for t in range(30):
        step, ref = _step_both(batch, envs, rng.integers(6, size=2))
        _assert_same_step(step, ref)
        if t == 19:
            assert step.done.all() and step.env_info.timeout.all() and step.env_info.traj_done.all()
            with pytest.raises(RuntimeError, match=r"env 0 stepped after its trajectory ended"):
                batch.step(np.zeros(2, dtype=np.int64))
            np.testing.assert_array_equal(batch.reset([0, 1]), [e.reset() for e in envs])
        else:
            assert not step.done.any()
    batch.close()


def test_lost_life_is_done_the_game_goes_on_until_game_over():
    """Breakout: a lost life sets done (not traj_done) and clears the older frames; the game
    continues without a reset; game over sets traj_done."""
    batch, (env,) = _pair([5], game="breakout", **EXACT)
    np.testing.assert_array_equal(batch.reset([0]), [env.reset()])
    rng = np.random.default_rng(1)
    lives, n_lost, previous = 5, 0, None
    for _ in range(2000):
        action = rng.integers(4, size=1)
        if n_lost == 0:
            step, ref = _step_both(batch, [env], action)
            _assert_same_step(step, ref)  # exact up to and at the first lost life
        else:
            step = batch.step(action)
            if previous is not None:  # the stack after a lost life: zeros, then its frames
                np.testing.assert_array_equal(step.observation[0, 2], previous)
                assert not step.observation[0, :2].any()
                previous = None
        if step.env_info.traj_done[0]:
            break
        if step.done[0]:
            n_lost += 1
            lives -= 1
            assert not step.env_info.timeout[0]
            assert not step.observation[0, :3].any() and step.observation[0, 3].any()
            previous = step.observation[0, 3].copy()
    assert step.done[0] and not step.env_info.timeout[0]
    assert n_lost == 4  # five lives: four lost, the fifth ends the game
    batch.close()


def test_reward_clipping_keeps_the_game_score():
    """Space Invaders scores 5-30 points: clipped rewards are their sign (as AtariEnv's),
    unclipped ones the score; ``game_score`` is the score either way."""
    kwargs = dict(game="space_invaders", **EXACT)
    clipped, (env,) = _pair([2], **kwargs)
    unclipped = EnvPoolAtariBatch([2], clip_reward=False, **kwargs)
    np.testing.assert_array_equal(clipped.reset([0]), [env.reset()])
    unclipped.reset([0])
    rng = np.random.default_rng(0)
    scores = []
    while max(scores, default=0) <= 1 and len(scores) < 400:
        action = rng.integers(6, size=1)
        step, ref = _step_both(clipped, [env], action)
        _assert_same_step(step, ref)
        scores.append(float(step.env_info.game_score[0]))
        assert step.reward[0] == np.sign(scores[-1])
        raw = unclipped.step(action)
        assert raw.reward[0] == raw.env_info.game_score[0] == scores[-1]
    assert max(scores) > 1  # a score the clipping changes
    clipped.close()
    unclipped.close()


def test_seeding_is_per_env_and_start_noops_vary():
    """Env b's game depends only on its seed (not the batch it is in, nor the seed in
    ``env_kwargs``); two seeds start their games after different numbers of no-ops."""
    kwargs = dict(game="pong", frame_shape=(42, 42), repeat_action_probability=0.25)
    pair = EnvPoolAtariBatch([7, 8], **kwargs)
    alone = EnvPoolAtariBatch([8], seed=123, **kwargs)
    np.testing.assert_array_equal(pair.reset([0, 1])[1], alone.reset([0])[0])
    rng = np.random.default_rng(0)
    for _ in range(12):
        action = rng.integers(6, size=2)
        step = pair.step(action)
        np.testing.assert_array_equal(step.observation[1], alone.step(action[1:]).observation[0])
    # Pong's ball is in play by now, where each game's start no-ops left it.
    assert not np.array_equal(step.observation[0, 3], step.observation[1, 3])
    pair.close()
    alone.close()


def _sampler(EnvCls, Cls=SerialSampler, collector=CpuResetCollector, **kw):
    return Cls(
        EnvCls=EnvCls,
        env_kwargs=dict(game="pong", horizon=12, **EXACT),
        TrajInfoCls=AtariTrajInfo,
        batch_T=8,
        batch_B=2,
        CollectorCls=collector,
        max_decorrelation_steps=6,
        **kw,
    )


def _run(sampler, n_itr, **init):
    torch.manual_seed(0)
    agent = AtariFfAgent(model_kwargs=dict(fc_sizes=32, channels=[4, 8]))
    sampler.initialize(agent, seed=3, bootstrap_value=True, **init)
    batches, trajs = [], []
    for itr in range(n_itr):
        samples, completed = sampler.obtain_samples(itr)
        batches.append(buffer_method(samples, "clone"))
        trajs += [(t.Length, t.Return, t.GameScore) for t in completed]
    return batches, trajs


def _leaves(tree):
    for leaf in tree:
        if isinstance(leaf, tuple):
            yield from _leaves(leaf)
        else:
            yield leaf


def _assert_identical(batches_a, batches_b):
    for a, b in zip(batches_a, batches_b, strict=True):
        for part_a, part_b in ((a.env, b.env), (a.agent, b.agent)):
            for field, x, y in zip(part_a._fields, part_a, part_b):
                for u, v in zip(_leaves([x]), _leaves([y]), strict=True):
                    assert torch.equal(u, v), field


def test_serial_sampler_gives_atari_env_samples():
    """No start no-ops, no lost lives (Pong): the python backend's samples, exactly, with
    timeouts and decorrelation."""
    per_env, pooled = _sampler(AtariEnv), _sampler(EnvPoolEnvs())
    a, trajs_a = _run(per_env, 2)
    b, trajs_b = _run(pooled, 2)
    assert isinstance(pooled.collector.envs, GuardedEnvBatch)
    _assert_identical(a, b)
    assert trajs_a == trajs_b and len(trajs_a) >= 2
    assert sum(int(x.env.env_info.timeout.sum()) for x in a) >= 2
    with pytest.warns(UserWarning, match="cannot be pickled"):
        pooled.state_dict()  # a snapshot without the envs: a resumed run resets them
    per_env.shutdown()
    pooled.shutdown()


@pytest.mark.slow
def test_cpu_sampler_wait_reset_and_evaluation_like_atari_env(leaks):
    """Each worker's env batch, with the wait-reset collector (envs that ended wait unstepped),
    and the workers' evaluation envs."""
    kw = dict(
        Cls=CpuSampler,
        collector=CpuWaitResetCollector,
        eval_n_envs=2,
        eval_max_steps=40,
        eval_max_trajectories=2,
    )
    per_env = leaks.track(_sampler(AtariEnv, **kw))
    pooled = leaks.track(_sampler(EnvPoolEnvs(), **kw))
    affinity = dict(workers_cpus=[0, 1])
    a, trajs_a = _run(per_env, 3, affinity=affinity)
    b, trajs_b = _run(pooled, 3, affinity=affinity)
    _assert_identical(a, b)
    assert trajs_a == trajs_b and trajs_a
    assert sum(int(x.env.env_info.timeout.sum()) for x in a) >= 2
    torch.manual_seed(1)
    eval_a = [(t.Length, t.Return) for t in per_env.evaluate_agent(0)]
    torch.manual_seed(1)
    eval_b = [(t.Length, t.Return) for t in pooled.evaluate_agent(0)]
    assert eval_a == eval_b and [length for length, _ in eval_a] == [12, 12]
    per_env.shutdown()
    pooled.shutdown()


def test_cli_backend_and_refusals(monkeypatch):
    EnvCls, kwargs, TrajInfoCls = make_env_factory({"id": "pong", "backend": "envpool"})
    assert isinstance(EnvCls, EnvPoolEnvs) and kwargs == {"game": "pong"}
    assert TrajInfoCls is AtariTrajInfo
    assert isinstance(EnvCls(**kwargs), AtariEnv)  # one env (the example env): AtariEnv
    assert pickle.loads(pickle.dumps(EnvCls)).num_threads is None  # spawned workers get it
    refusals = [
        ({"id": "joust"}, r"EnvPool has no Atari game 'joust'"),
        ({"id": "pong", "kwargs": {"fire_on_reset": True}}, r"fire_on_reset=True"),
        ({"id": "CartPole-v1"}, r"supports Atari games \(AtariEnv\) and gymnasium"),
    ]
    for config, message in refusals:
        with pytest.raises(ValueError, match=message):
            make_env_factory(dict(config, backend="envpool"))
    monkeypatch.setattr("rlpyt.envs.envpool.envpool_available", lambda: False)
    with pytest.raises(ValueError, match=r"needs EnvPool: pip install 'rlpyt\[envpool\]'"):
        make_env_factory({"id": "pong", "backend": "envpool"})


def test_batch_does_not_pickle_and_validates_like_atari_env():
    with pytest.raises(ValueError, match="AtariEnv: frame_skip"):
        EnvPoolAtariBatch([1], game="pong", frame_skip=0)
    batch = EnvPoolAtariBatch([1], game="pong", frame_shape=(42, 42))
    with pytest.raises(TypeError, match=r"EnvPool\(Pong-v5\): EnvPool's envs cannot be pickled"):
        pickle.dumps(batch)
    batch.close()
