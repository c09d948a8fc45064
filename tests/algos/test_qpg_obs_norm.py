"""Observation normalisation of the DDPG/TD3/SAC models and agents, and target updates."""

import numpy as np
import pytest
import torch
from probe_envs import ConstantRewardBoxEnv

from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.agents.qpg.td3_agent import Td3Agent
from rlpyt.algos.qpg.sac import SAC
from rlpyt.algos.qpg.td3 import TD3
from rlpyt.models.qpg.mlp import MuMlpModel, PiMlpModel, QofMuMlpModel
from rlpyt.models.utils import polyak_update_
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

NORM = dict(hidden_sizes=[16], normalize_observation=True)


def test_models_normalise_with_running_statistics_clamped():
    torch.manual_seed(0)
    data = torch.randn(500, 3, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1]) + 2.0
    for model in (
        MuMlpModel((3,), [16], action_size=2, normalize_observation=True),
        PiMlpModel((3,), [16], action_size=2, normalize_observation=True, norm_obs_clip=1.5),
        QofMuMlpModel((3,), [16], action_size=2, normalize_observation=True),
    ):
        model.update_obs_rms(data.float().view(50, 10, 3))  # [T, B] leading dims
        rms = model.obs_rms
        assert rms.count.item() == 500
        torch.testing.assert_close(rms.mean, data.float().double().mean(0), rtol=0, atol=1e-12)
        obs = torch.randn(7, 3) * 4
        clip = rms.clip
        z = (obs - rms.mean.float()) / torch.sqrt(rms.var).float()
        expected_in = torch.clamp(z, -clip, clip)
        args = (torch.zeros(7, 2), torch.zeros(7))
        if isinstance(model, QofMuMlpModel):
            act = torch.rand(7, 2) * 2 - 1
            out = model(obs, *args, act)
            expected = model.mlp(torch.cat([expected_in, act], -1)).squeeze(-1)
            out_tb = model(
                obs.view(7, 1, 3), *(a.view(7, 1, *a.shape[1:]) for a in args), act.view(7, 1, 2)
            )
        else:
            out = model(obs, *args)
            raw = model.mlp(expected_in)
            expected = (
                torch.tanh(raw) if isinstance(model, MuMlpModel) else tuple(raw.split(2, dim=-1))
            )
            out_tb = model(obs.view(7, 1, 3))
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
        # The [T, B] path gives the same values as the flat batch path.
        flat = out_tb if isinstance(out_tb, tuple) else (out_tb,)
        ref = out if isinstance(out, tuple) else (out,)
        for a, b in zip(flat, ref, strict=True):
            torch.testing.assert_close(a.reshape(b.shape), b, rtol=0, atol=0)


def test_models_without_normalisation_have_no_statistics():
    model = PiMlpModel((3,), [8], action_size=1)
    assert model.obs_rms is None
    model.update_obs_rms(torch.ones(4, 3))  # a no-op
    assert not any("obs_rms" in k for k in model.state_dict())


def test_polyak_update_averages_parameters_and_copies_buffers():
    torch.manual_seed(1)
    target = QofMuMlpModel((2,), [4], action_size=1, normalize_observation=True)
    source = QofMuMlpModel((2,), [4], action_size=1, normalize_observation=True)
    source.update_obs_rms(torch.randn(10, 2) + 3)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    polyak_update_(target, source, tau=0.25)
    params = dict(source.named_parameters())
    for name, value in target.state_dict().items():
        if name in params:
            expected = 0.75 * before[name] + 0.25 * params[name].detach()
            torch.testing.assert_close(value, expected, rtol=0, atol=1e-7)
        else:  # the running statistics follow the online network exactly
            assert torch.equal(value, source.state_dict()[name]), name
    polyak_update_(target, source, tau=1)
    for name, value in target.state_dict().items():
        assert torch.equal(value, source.state_dict()[name]), name


def _episode_observations(horizon=20):
    """What the sampler stores of one ConstantRewardBoxEnv episode: the reset obs, then t=1.."""
    t = np.arange(1, horizon)
    return np.concatenate([np.zeros((1, 2)), np.stack([np.sin(t), np.cos(t)], 1)]).astype(
        np.float32
    )


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", ["sac", "td3"])
def test_agents_fold_each_collected_observation_into_every_network_once(tmp_path, name):
    torch.set_num_threads(1)
    common = dict(
        discount=0.9, batch_size=32, replay_ratio=32, min_steps_learn=200, replay_size=2000
    )
    if name == "sac":
        algo = SAC(**common)
        agent = SacAgent(model_kwargs=NORM, q_model_kwargs=NORM)
    else:
        algo = TD3(**common)
        agent = Td3Agent(model_kwargs=NORM, q_model_kwargs=NORM)
    sampler = SerialSampler(
        EnvCls=ConstantRewardBoxEnv,
        env_kwargs=dict(horizon=20),
        batch_T=20,
        batch_B=2,
        max_decorrelation_steps=0,
    )
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=400,
        seed=3,
        log_interval_steps=400,
        progress_bar=False,
    )
    with logger_context(tmp_path, 0, "obs_norm"):
        runner.train()
    episode = _episode_observations().astype(np.float64)
    names = agent._state_keys()
    assert len(names) >= 4
    for net_name in names:
        rms = getattr(agent, net_name).obs_rms
        assert rms.count.item() == 400, net_name  # every transition once, no replay re-counts
        np.testing.assert_allclose(rms.mean.numpy(), episode.mean(0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(rms.var.numpy(), episode.var(0), rtol=0, atol=1e-12)
    # The statistics are saved with the agent (snapshots) and restored.
    state = agent.state_dict()
    fresh = type(agent)(model_kwargs=NORM, q_model_kwargs=NORM)
    fresh.initialize(agent.env_spaces)
    fresh.load_state_dict(state)
    for net_name in names:
        assert torch.equal(
            getattr(fresh, net_name).obs_rms.mean, getattr(agent, net_name).obs_rms.mean
        )
