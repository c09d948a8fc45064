"""What needs a GPU: agents on CUDA, a CUDA checkpoint resumed on the CPU, NCCL SyncRl over
the GPUs present, AsyncRl with a CUDA learner, the compiled path's CUDA graphs.

Every test skips without CUDA; ``benchmarks/gpu_check.sh`` runs them (with the other CUDA
tests of the suite) on a GPU machine. Small CartPole/Pendulum runs, seconds each.
"""

import os

import pytest
import torch

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.qpg.sac import SAC
from rlpyt.envs.gym import gym_make
from rlpyt.runners.async_rl import AsyncRl
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.runners.sync_rl import SyncRl
from rlpyt.samplers.async_.serial_sampler import AsyncSerialSampler
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.checkpoint import load_checkpoint
from rlpyt.utils.logging.context import logger_context

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
    pytest.mark.timeout(180),
]
SMALL = dict(hidden_sizes=[16])


def _sampler(env_id, SamplerCls=SerialSampler, T=4, B=2):
    return SamplerCls(
        EnvCls=gym_make, env_kwargs=dict(id=env_id), batch_T=T, batch_B=B, max_decorrelation_steps=0
    )


def _sac(compile=False):
    algo = SAC(batch_size=16, min_steps_learn=8, replay_size=1000, replay_ratio=16)
    return algo, SacAgent(model_kwargs=SMALL, q_model_kwargs=SMALL, compile=compile)


def _dqn(compile=False):
    algo = DQN(batch_size=8, min_steps_learn=16, replay_size=1000, replay_ratio=8, eps_steps=16)
    return algo, DqnMlpAgent(model_kwargs=SMALL, compile=compile)


def _train(tmp_path, make, env_id, run_id, affinity, compile=False, n_steps=32, **runner_kwargs):
    algo, agent = make(compile)
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=_sampler(env_id),
        n_steps=n_steps,
        seed=3,
        log_interval_steps=n_steps,
        affinity=affinity,
        progress_bar=False,
        **runner_kwargs,
    )
    resume = runner_kwargs.get("resume_from") is not None
    with logger_context(tmp_path, run_id, "cuda", snapshot_mode="last", resume=resume) as lg:
        runner.train()
    return agent, lg.run_dir


@pytest.mark.parametrize("make, env_id", [(_sac, "Pendulum-v1"), (_dqn, "CartPole-v1")])
def test_agents_train_on_cuda_and_act_on_the_cpu(tmp_path, make, env_id):
    agent, _ = _train(tmp_path, make, env_id, 0, dict(cuda_idx=0))
    assert agent.device == torch.device("cuda", 0)
    assert all(p.is_cuda for net in agent.networks().values() for p in net.parameters())
    env = gym_make(id=env_id)
    obs = torch.as_tensor(env.spaces.observation.sample()).expand(2, -1)
    prev_action = torch.as_tensor(env.spaces.action.sample()).expand(2, *env.spaces.action.shape)
    agent.sample_mode(0)
    step = agent.step(obs, prev_action.clone(), torch.zeros(2))
    assert step.action.device.type == "cpu"


def test_pg_agent_on_cuda_returns_cpu_outputs():
    env = gym_make(id="CartPole-v1")
    agent = MlpFfAgent(model_kwargs=SMALL)
    agent.initialize(env.spaces, share_memory=True)
    agent.to_device(0)
    assert next(agent.model.parameters()).is_cuda
    assert not next(agent.shared_model.parameters()).is_cuda  # the workers' copy
    obs = torch.zeros(3, 4)
    dist_info, value = agent(obs, torch.zeros(3, dtype=torch.long), torch.zeros(3))
    assert dist_info.prob.device.type == "cpu" and value.device.type == "cpu"


def test_cuda_checkpoint_resumes_on_the_cpu(tmp_path):
    """C7: a snapshot written by a CUDA learner loads on the CPU and the run continues."""
    agent, run_dir = _train(tmp_path, _sac, "Pendulum-v1", 0, dict(cuda_idx=0))
    (snapshot,) = [f for f in os.listdir(run_dir) if f.endswith(".pkl")]
    state = load_checkpoint(os.path.join(run_dir, snapshot))  # map_location="cpu"
    weights = state["agent_state_dict"]["model"]
    assert all(v.device.type == "cpu" for v in weights.values())
    for key, value in agent.state_dict()["model"].items():
        assert torch.equal(weights[key], value.cpu())
    resumed, _ = _train(tmp_path, _sac, "Pendulum-v1", 0, dict(), n_steps=64, resume_from=run_dir)
    assert resumed.device.type == "cpu"


def test_sync_rl_over_nccl_with_the_gpus_present(tmp_path):
    n_gpu = torch.cuda.device_count()
    runner = SyncRl(
        algo=A2C(learning_rate=0.01),
        agent=MlpFfAgent(model_kwargs=SMALL),
        sampler=_sampler("CartPole-v1", T=5, B=2),
        n_steps=3 * 10 * n_gpu,
        seed=3,
        affinity=[dict(cuda_idx=i, workers_cpus=[i % os.cpu_count()]) for i in range(n_gpu)],
        log_interval_steps=10 * n_gpu,
        progress_bar=False,
        collective_timeout=60,
    )
    assert runner.backend == "nccl"
    with logger_context(tmp_path, 0, "nccl", snapshot_mode="none"):
        runner.train()
    assert runner.algo.update_counter == 3


def test_async_rl_with_a_cuda_learner(tmp_path):
    algo = DQN(batch_size=32, min_steps_learn=256, replay_size=10_000, replay_ratio=8)
    runner = AsyncRl(
        algo=algo,
        agent=DqnMlpAgent(model_kwargs=SMALL),
        sampler=_sampler("CartPole-v1", AsyncSerialSampler, T=16, B=4),
        n_steps=1280,
        seed=3,
        log_interval_steps=640,
        affinity=dict(cuda_idx=0),
        progress_bar=False,
    )
    with logger_context(tmp_path, 0, "async", snapshot_mode="none"):
        runner.train()
    assert runner.agent.device.type == "cuda"
    assert runner.algo.update_counter > 0


@pytest.mark.parametrize("make, env_id", [(_sac, "Pendulum-v1"), (_dqn, "CartPole-v1")])
def test_compiled_agent_on_cuda_matches_eager(tmp_path, make, env_id):
    """compile=True on CUDA: inductor with CUDA graphs (reduce-overhead); same seed, the
    weights after a few updates equal the eager run's within float tolerance."""
    eager, _ = _train(tmp_path, make, env_id, 0, dict(cuda_idx=0))
    compiled, _ = _train(tmp_path, make, env_id, 1, dict(cuda_idx=0), compile=True)
    assert compiled.compile_warmups
    for name, state in eager.state_dict().items():
        for key, value in state.items():
            torch.testing.assert_close(
                compiled.state_dict()[name][key], value, rtol=1e-4, atol=1e-5
            )
