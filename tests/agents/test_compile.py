"""The compiled model path (``agent.compile``): equal to eager, eager checkpoints, warm-ups.

The equivalence test is the one slow test: DQN with inductor (``compile=True``: C++ on the
CPU, seconds per graph), SAC and PPO with ``aot_eager`` (dynamo and AOTAutograd trace forward
and backward as inductor gets them, no code generated), within 30 s on a loaded 2-core
machine. (SAC and PPO with inductor pass the same test too: 61 s for all three, fresh cache.)
The other tests use the ``eager`` backend, which traces without generating code.
"""

import pickle

import pytest
import torch

from rlpyt.agents.dqn.mlp import DqnMlpAgent
from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.agents.qpg.sac_agent import SacAgent
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.pg.ppo import PPO
from rlpyt.algos.qpg.sac import SAC
from rlpyt.envs.gym import gym_make
from rlpyt.models.compile import compile_backend, compile_network, input_signature, is_compiled
from rlpyt.runners.minibatch_rl import MinibatchRl
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.logging.context import logger_context

SMALL = dict(hidden_sizes=[16])


def _sac(compile):
    compile = "aot_eager" if compile else False
    algo = SAC(batch_size=16, min_steps_learn=8, replay_size=1000, replay_ratio=16)
    agent = SacAgent(model_kwargs=SMALL, q_model_kwargs=SMALL, compile=compile)
    return algo, agent, "Pendulum-v1"


def _dqn(compile):
    algo = DQN(batch_size=8, min_steps_learn=16, replay_size=1000, replay_ratio=8, eps_steps=16)
    return algo, DqnMlpAgent(model_kwargs=SMALL, compile=compile), "CartPole-v1"


def _ppo(compile):
    compile = "aot_eager" if compile else False
    algo = PPO(minibatches=2, epochs=2)
    return algo, MlpFfAgent(model_kwargs=SMALL, compile=compile), "CartPole-v1"


def _train(tmp_path, make, compile, run_id):
    """Four iterations of 4 x 2 env steps from seed 3; returns ``(agent, sampled actions)``."""
    torch.set_num_threads(1)
    algo, agent, env_id = make(compile)
    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id=env_id),
        batch_T=4,
        batch_B=2,
        max_decorrelation_steps=0,
    )
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=32,
        seed=3,
        log_interval_steps=32,
        progress_bar=False,
    )
    actions = []
    original_obtain = sampler.obtain_samples

    def recording_obtain(itr):
        samples, traj_infos = original_obtain(itr)
        actions.append(samples.agent.action.clone())
        return samples, traj_infos

    sampler.obtain_samples = recording_obtain
    with logger_context(tmp_path, run_id, "compile", snapshot_mode="none"):
        runner.train()
    return agent, torch.stack(actions)


def _assert_states_close(a, b):
    """Dicts (state dicts) and tuples (namedarraytuples) compared leaf by leaf."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_states_close(a[key], b[key])
    elif isinstance(a, tuple):
        assert type(a) is type(b)
        for x, y in zip(a, b, strict=True):
            _assert_states_close(x, y)
    else:
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_compiled_training_equals_eager_and_checkpoints_are_eager(tmp_path):
    """Same seed: compiled SAC, DQN and PPO act and learn as eager ones (float tolerance);
    their checkpoints load into eager agents and back (no ``_orig_mod.``)."""
    for i, make in enumerate((_sac, _dqn, _ppo)):
        eager, eager_actions = _train(tmp_path, make, False, 2 * i)
        compiled, compiled_actions = _train(tmp_path, make, True, 2 * i + 1)
        assert all(is_compiled(net) for net in compiled.networks().values())
        # Acting and training both ran compiled graphs (warm-ups with and without grad).
        assert {grad for _n, d, _s in compiled.compile_warmups for grad in [", grad," in d]} == {
            True,
            False,
        }
        torch.testing.assert_close(compiled_actions, eager_actions, rtol=1e-5, atol=1e-6)
        _assert_states_close(compiled.state_dict(), eager.state_dict())
        # Checkpoints both ways: the compiled agent's state loads into a fresh eager agent,
        # the eager one's into the compiled agent (which then acts like the eager one).
        fresh = make(False)[1]
        fresh.initialize(eager.env_spaces)
        fresh.load_state_dict(compiled.state_dict())
        _assert_states_close(fresh.state_dict(), compiled.state_dict())
        compiled.load_state_dict(pickle.loads(pickle.dumps(eager.state_dict())))
        obs = torch.as_tensor(eager.env_spaces.observation.sample()).expand(2, -1)
        inputs = (obs, torch.zeros_like(eager_actions[0, 0]), torch.zeros(2))
        steps = []
        for agent in (eager, compiled):
            agent.eval_mode(0)
            torch.manual_seed(0)  # PPO samples from the global generator
            steps.append(agent.step(*inputs))
        _assert_states_close(steps[1], steps[0])
        assert all(
            "_orig_mod" not in key
            for state in compiled.state_dict().values()
            for key in (state if isinstance(state, dict) else {})
        )


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x, scale):
        return self.linear(x) * scale


def test_compile_network_in_place_keeps_weights_and_times_each_signature_once():
    net = _Net()
    keys = list(net.state_dict())
    warmups = []
    compile_network(
        net,
        name="net",
        device=torch.device("cpu"),
        on_warmup=lambda *w: warmups.append(w),
        backend="eager",
    )
    assert is_compiled(net)
    x = torch.randn(4, 3)
    expected = net.linear(x) * 2.0  # the submodule is not compiled: the eager reference
    torch.testing.assert_close(net(x, 2.0), expected)
    net(x, 2.0)
    with torch.no_grad():
        net(x, 2.0)
    net(torch.randn(5, 3), 2.0)
    assert [(name, description) for name, description, _s in warmups] == [
        ("net", "inputs [4, 3], grad, train"),
        ("net", "inputs [4, 3], no_grad, train"),
        ("net", "inputs [5, 3], grad, train"),
    ]
    assert list(net.state_dict()) == keys  # no _orig_mod. prefix
    assert not is_compiled(pickle.loads(pickle.dumps(net)))  # spawned workers get eager nets


def test_input_signature_sees_shapes_dtypes_modes_and_nested_tuples():
    net = _Net()
    a = input_signature(net, ((torch.zeros(2, 3), (torch.zeros(2),)), 1.0), {})
    assert a == (
        True,
        True,
        (((2, 3), torch.float32, "cpu", False), ((2,), torch.float32, "cpu", False), 1.0),
    )
    net.eval()
    assert input_signature(net, ((torch.zeros(2, 3), (torch.zeros(2),)), 1.0), {})[1] is False
    assert input_signature(net, (torch.zeros(2, 3, dtype=torch.float64),), {}) != a
    # An input that requires grad (SAC's critics on the policy's action) is another graph.
    grad_input = torch.zeros(2, 3, requires_grad=True)
    assert input_signature(net, (grad_input,), {}) != input_signature(
        net, (grad_input.detach(),), {}
    )


def test_compile_setting_to_backend():
    assert compile_backend(False) is None and compile_backend(None) is None
    assert compile_backend(True) == "inductor"
    assert compile_backend("aot_eager") == "aot_eager"
    with pytest.raises(ValueError, match="'inductr' is not a torch.compile backend rlpyt runs"):
        compile_backend("inductr")
    with pytest.raises(TypeError, match="True, False or a torch.compile backend name"):
        compile_backend(1)


def test_compile_refuses_a_module_whose_forward_is_torchs_own():
    with pytest.raises(ValueError, match="'model' is a Sequential.*Wrap it in a model class"):
        compile_network(
            torch.nn.Sequential(torch.nn.Linear(2, 2)), name="model", device=torch.device("cpu")
        )


def test_agent_networks_and_compile_at_the_first_mode(tmp_path):
    """``networks()`` lists every network (targets included); the modes compile them once;
    without ``compile`` nothing is compiled."""
    env = gym_make(id="CartPole-v1")
    dqn = DqnMlpAgent(model_kwargs=SMALL, compile="eager")
    dqn.initialize(env.spaces)
    assert list(dqn.networks()) == ["model", "target_model"]
    assert not any(is_compiled(n) for n in dqn.networks().values())
    dqn.sample_mode(0)
    assert all(is_compiled(n) for n in dqn.networks().values())
    eager = DqnMlpAgent(model_kwargs=SMALL)
    eager.initialize(env.spaces)
    eager.train_mode(0)
    assert not any(is_compiled(n) for n in eager.networks().values())
    sac = SacAgent(model_kwargs=SMALL, q_model_kwargs=SMALL)
    sac.initialize(gym_make(id="Pendulum-v1").spaces)
    assert list(sac.networks()) == [
        "model",
        "q1_model",
        "q2_model",
        "target_q1_model",
        "target_q2_model",
    ]
