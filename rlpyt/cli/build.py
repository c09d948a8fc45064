"""Build sampler, agent, algorithm and runner from a config (see :mod:`rlpyt.cli.configs`).

Everything that can be checked without starting envs is checked here, first,
so a bad value fails in a second with a message naming it.
"""

from functools import partial

from rlpyt.cli.configs import env_kind
from rlpyt.samplers.collections import TrajInfo
from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector, CpuWaitResetCollector
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.validation import require_int_at_least

__all__ = ["build_experiment", "check_env", "make_env_factory"]

COLLECTORS = {"reset": CpuResetCollector, "wait_reset": CpuWaitResetCollector}


def _agent_cls(name: str):
    from rlpyt.agents.pg.atari import AtariFfAgent, AtariLstmAgent
    from rlpyt.agents.pg.mlp import MlpFfAgent, MlpLstmAgent
    from rlpyt.agents.pg.mujoco import MujocoFfAgent, MujocoLstmAgent

    agents = {
        "atari_ff": AtariFfAgent,
        "atari_lstm": AtariLstmAgent,
        "mlp_ff": MlpFfAgent,
        "mlp_lstm": MlpLstmAgent,
        "mujoco_ff": MujocoFfAgent,
        "mujoco_lstm": MujocoLstmAgent,
    }
    if name not in agents:
        raise ValueError(f"agent.name must be one of {sorted(agents)}, got {name!r}")
    return agents[name]


def _algo_cls(name: str):
    from rlpyt.algos.pg.a2c import A2C
    from rlpyt.algos.pg.ppo import PPO

    return {"a2c": A2C, "ppo": PPO}[name]


def make_env_factory(env_config: dict):
    """``(EnvCls, env_kwargs, TrajInfoCls)`` for the env section of a config."""
    env_id = env_config["id"]
    kwargs = dict(env_config.get("kwargs") or {})
    if env_kind(env_id) == "atari":
        from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo

        return AtariEnv, dict(game=env_id, **kwargs), AtariTrajInfo
    from rlpyt.envs.gym import gym_make

    return partial(gym_make, env_id), kwargs, TrajInfo


def build_experiment(config: dict, resume_from=None):
    """The runner (with its sampler, agent and algorithm) for ``config``; nothing is started yet.

    Raises ``ValueError`` (or ``TypeError`` for a value of the wrong type) naming the first
    invalid setting; no env is built here.
    """
    s, r = config["sampler"], config["runner"]
    collector = s["collector"]
    if collector not in COLLECTORS:
        raise ValueError(
            f"sampler.collector must be one of {sorted(COLLECTORS)}, got {collector!r}"
        )
    require_int_at_least("sampler.batch_T", s["batch_T"], 1)
    require_int_at_least("sampler.batch_B", s["batch_B"], 1)
    algo_kwargs = dict(config["algo"])
    AlgoCls = _algo_cls(config["algo_name"])
    algo = AlgoCls(**algo_kwargs)  # validates its hyperparameters
    AgentCls = _agent_cls(config["agent"]["name"])
    minibatches = algo_kwargs.get("minibatches")
    if minibatches:
        batch = s["batch_T"] * s["batch_B"]
        unit, what = (
            (s["batch_B"], "batch_B (recurrent agents split whole sequences)")
            if AgentCls.recurrent
            else (batch, f"batch_T * batch_B = {s['batch_T']} * {s['batch_B']}")
        )
        if unit % minibatches:
            raise ValueError(
                f"algo.minibatches={minibatches} does not divide {what} = {unit}: "
                f"choose minibatches among the divisors of {unit}"
            )
    EnvCls, env_kwargs, TrajInfoCls = make_env_factory(config["env"])
    eval_n_envs = int(s.get("eval_n_envs") or 0)
    if r.get("eval") and eval_n_envs < 1:
        raise ValueError(
            "runner.eval=True needs sampler.eval_n_envs >= 1 and sampler.eval_max_steps"
        )
    sampler = SerialSampler(
        EnvCls=EnvCls,
        env_kwargs=env_kwargs,
        batch_T=s["batch_T"],
        batch_B=s["batch_B"],
        CollectorCls=COLLECTORS[collector],
        max_decorrelation_steps=s["max_decorrelation_steps"],
        TrajInfoCls=TrajInfoCls,
        eval_n_envs=eval_n_envs,
        eval_max_steps=s.get("eval_max_steps"),
        eval_max_trajectories=s.get("eval_max_trajectories"),
    )
    agent = AgentCls(model_kwargs=dict(config["agent"].get("model_kwargs") or {}))
    from rlpyt.runners.minibatch_rl import MinibatchRl, MinibatchRlEval

    RunnerCls = MinibatchRlEval if r.get("eval") else MinibatchRl
    runner = RunnerCls(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=r["n_steps"],
        seed=r.get("seed"),
        log_interval_steps=r["log_interval_steps"],
        resume_from=resume_from,
        affinity=dict(cuda_idx=r.get("cuda_idx"), torch_threads=r.get("torch_threads")),
    )
    return runner


def check_env(env_config: dict) -> None:
    """Build and close one env, so a bad env id or argument fails before a run starts."""
    EnvCls, env_kwargs, _ = make_env_factory(env_config)
    try:
        env = EnvCls(**env_kwargs)
    except Exception as err:
        raise ValueError(
            f"env {env_config['id']!r} with kwargs {env_kwargs} could not be built: "
            f"{type(err).__name__}: {err} (check env.id and env.kwargs)"
        ) from err
    env.close()
