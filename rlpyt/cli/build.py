"""Build sampler, agent, algorithm and runner from a config (see :mod:`rlpyt.cli.configs`).

Everything that can be checked without starting envs is checked here, first,
so a bad value fails in a second with a message naming it.

``sampler.kind`` picks the sampler: ``serial`` (:class:`SerialSampler`, the
default), ``cpu`` (:class:`CpuSampler`: workers act with CPU copies of the
agent), ``gpu`` (:class:`GpuSampler`: workers step envs, the training process
picks all actions in one batch) or ``alternating`` (:class:`AlternatingSampler`:
two groups of GPU-sampler workers take turns). ``sampler.workers`` is the number
of worker processes, each pinned to one of the usable CPU cores.

``affinity_code`` (``train --affinity``, given by the launcher) is a slot affinity code
(``rlpyt.utils.launching.affinity``): the run's master process is pinned to the slot's cores,
a parallel sampler's workers to its worker cores (``sampler.workers`` of them at most), its
GPU is the slot's, and ``runner.torch_threads`` is capped at the slot's core count (default:
that count).
"""

import warnings
from functools import partial

from rlpyt.cli.configs import SAMPLER_KINDS, env_kind
from rlpyt.samplers.collections import TrajInfo
from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector, CpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.collectors import GpuResetCollector, GpuWaitResetCollector
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.launching.affinity import usable_cpus
from rlpyt.utils.validation import require_int_at_least

__all__ = [
    "build_experiment",
    "check_env",
    "make_env_factory",
    "usable_cpus",
    "SAMPLER_KINDS",
]

COLLECTORS = {"reset": CpuResetCollector, "wait_reset": CpuWaitResetCollector}
GPU_COLLECTORS = {"reset": GpuResetCollector, "wait_reset": GpuWaitResetCollector}
# Samplers whose workers only step envs (the training process picks the actions).
_AGENT_IN_MASTER = ("gpu", "alternating")


def _sampler_cls(kind: str):
    if kind == "serial":
        return SerialSampler
    if kind == "cpu":
        from rlpyt.samplers.parallel.cpu.sampler import CpuSampler

        return CpuSampler
    if kind == "gpu":
        from rlpyt.samplers.parallel.gpu.sampler import GpuSampler

        return GpuSampler
    try:
        from rlpyt.samplers.parallel.gpu.alternating_sampler import AlternatingSampler
    except ImportError as err:
        raise ValueError(
            f"sampler.kind='alternating' is not available in this installation ({err}); "
            "use 'gpu' or 'cpu'"
        ) from None
    return AlternatingSampler


def _worker_cpus(s: dict, kind: str, slot: dict | None = None) -> list | None:
    """The cores to pin the workers to (one worker each); ``None`` for the serial sampler.

    More workers than usable cores (with ``slot``: than the slot's worker cores), or than
    ``batch_B`` envs, are clamped with a warning.
    """
    workers = s.get("workers")
    if workers is not None:
        require_int_at_least("sampler.workers", workers, 1)
    if kind == "serial":
        if workers is not None:
            warnings.warn(
                f"sampler.workers={workers} has no effect with sampler.kind='serial' "
                "(everything runs in this process); choose --sampler cpu, gpu or alternating "
                "for worker processes",
                stacklevel=3,
            )
        return None
    cpus = usable_cpus() if slot is None else list(slot["workers_cpus"])
    n = len(cpus) if workers is None else workers
    if n > len(cpus):
        where = (
            "usable CPU cores (os.sched_getaffinity)"
            if slot is None
            else f"worker cores {cpus} of the --affinity slot"
        )
        warnings.warn(
            f"sampler.workers={n} is more than the {len(cpus)} {where}: using {len(cpus)} workers",
            stacklevel=3,
        )
        n = len(cpus)
    if n > s["batch_B"]:
        if workers is not None:
            warnings.warn(
                f"sampler.workers={n} is more than sampler.batch_B={s['batch_B']} envs: "
                f"using {s['batch_B']} workers (one env each)",
                stacklevel=3,
            )
        n = s["batch_B"]
    return cpus[:n]


def _agent_cls(name: str):
    from rlpyt.agents.dqn.atari.atari_catdqn_agent import AtariCatDqnAgent
    from rlpyt.agents.dqn.atari.atari_dqn_agent import AtariDqnAgent
    from rlpyt.agents.dqn.atari.atari_r2d1_agent import AtariR2d1Agent
    from rlpyt.agents.dqn.mlp import CatDqnMlpAgent, DqnMlpAgent, R2d1MlpAgent
    from rlpyt.agents.pg.atari import AtariFfAgent, AtariLstmAgent
    from rlpyt.agents.pg.mlp import MlpFfAgent, MlpLstmAgent
    from rlpyt.agents.pg.mujoco import MujocoFfAgent, MujocoLstmAgent
    from rlpyt.agents.qpg.ddpg_agent import DdpgAgent
    from rlpyt.agents.qpg.sac_agent import SacAgent
    from rlpyt.agents.qpg.td3_agent import Td3Agent

    agents = {
        "ddpg": DdpgAgent,
        "td3": Td3Agent,
        "sac": SacAgent,
        "dqn_mlp": DqnMlpAgent,
        "catdqn_mlp": CatDqnMlpAgent,
        "r2d1_mlp": R2d1MlpAgent,
        "atari_dqn": AtariDqnAgent,
        "atari_catdqn": AtariCatDqnAgent,
        "atari_r2d1": AtariR2d1Agent,
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
    if name in ("a2c", "ppo"):
        from rlpyt.algos.pg.a2c import A2C
        from rlpyt.algos.pg.ppo import PPO

        return {"a2c": A2C, "ppo": PPO}[name]
    from rlpyt.algos.dqn.cat_dqn import CategoricalDQN
    from rlpyt.algos.dqn.dqn import DQN
    from rlpyt.algos.dqn.r2d1 import R2D1
    from rlpyt.algos.qpg.ddpg import DDPG
    from rlpyt.algos.qpg.sac import SAC
    from rlpyt.algos.qpg.td3 import TD3

    algos = {
        "dqn": DQN,
        "cat_dqn": CategoricalDQN,
        "r2d1": R2D1,
        "ddpg": DDPG,
        "td3": TD3,
        "sac": SAC,
    }
    if name not in algos:
        raise ValueError(f"algo_name must be one of a2c, ppo, {', '.join(algos)}; got {name!r}")
    return algos[name]


def make_env_factory(env_config: dict):
    """``(EnvCls, env_kwargs, TrajInfoCls)`` for the env section of a config."""
    env_id = env_config["id"]
    kwargs = dict(env_config.get("kwargs") or {})
    if env_kind(env_id) == "atari":
        from rlpyt.envs.atari.atari_env import AtariEnv, AtariTrajInfo

        return AtariEnv, dict(game=env_id, **kwargs), AtariTrajInfo
    from rlpyt.envs.gym import gym_make

    return partial(gym_make, env_id), kwargs, TrajInfo


def _slot_affinity(affinity_code: str) -> dict:
    """The run dict of a slot affinity code (one synchronous run); see the module docstring."""
    from rlpyt.utils.launching.exp_launcher import slot_affinity

    affinity = slot_affinity(affinity_code)
    if isinstance(affinity, list) or "master_cpus" not in affinity:
        layout = (
            "one run dict per GPU (gpu_per_run > 1)"
            if isinstance(affinity, list)
            else "an asynchronous layout (async_sample)"
        )
        raise ValueError(
            f"--affinity {affinity_code!r} gives {layout}, but `train` runs one synchronous "
            "run in one slot: use a code without the gpr and asm tokens"
        )
    return affinity


def _runner_affinity(r: dict, workers_cpus: list | None, slot: dict | None) -> dict:
    """The runner's affinity dict: from the config, or from the ``--affinity`` slot."""
    affinity = dict(cuda_idx=r.get("cuda_idx"), torch_threads=r.get("torch_threads"))
    if slot is not None:
        threads = slot["master_torch_threads"]
        if r.get("torch_threads"):
            threads = min(int(r["torch_threads"]), threads)
        affinity.update(
            cuda_idx=slot["cuda_idx"], torch_threads=threads, set_affinity=slot["set_affinity"]
        )
        if slot["set_affinity"]:
            affinity["master_cpus"] = list(slot["master_cpus"])
    if workers_cpus is not None:
        affinity["workers_cpus"] = workers_cpus
    return affinity


def build_experiment(config: dict, resume_from=None, affinity_code: str | None = None):
    """The runner (with its sampler, agent and algorithm) for ``config``; nothing is started yet.

    ``affinity_code``: a slot affinity code (``train --affinity``) placing the run on its
    slot's cores and GPU. Raises ``ValueError`` (or ``TypeError`` for a value of the wrong
    type) naming the first invalid setting; no env is built here.
    """
    s, r = config["sampler"], config["runner"]
    slot = None if affinity_code is None else _slot_affinity(affinity_code)
    kind = s.get("kind", "serial")  # run directories of older versions have no sampler.kind
    if kind not in SAMPLER_KINDS:
        raise ValueError(f"sampler.kind must be one of {list(SAMPLER_KINDS)}, got {kind!r}")
    collector = s["collector"]
    if collector not in COLLECTORS:
        raise ValueError(
            f"sampler.collector must be one of {sorted(COLLECTORS)}, got {collector!r}"
        )
    require_int_at_least("sampler.batch_T", s["batch_T"], 1)
    require_int_at_least("sampler.batch_B", s["batch_B"], 1)
    workers_cpus = _worker_cpus(s, kind, slot)
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
    if kind == "alternating":
        if AgentCls.recurrent:
            raise ValueError(
                f"sampler.kind='alternating' cannot drive the recurrent agent "
                f"agent.name={config['agent']['name']!r} (AlternatingSampler steps half of "
                "the envs at a time); use sampler.kind='gpu' or 'cpu', or a feed-forward agent"
            )
        if len(workers_cpus) < 2:
            raise ValueError(
                f"sampler.kind='alternating' needs at least 2 workers (two groups that take "
                f"turns), but only {len(workers_cpus)} can run (sampler.workers="
                f"{s.get('workers')}, {len(usable_cpus())} usable CPU cores, sampler.batch_B="
                f"{s['batch_B']}); use sampler.kind='gpu'"
            )
    SamplerCls = _sampler_cls(kind)
    sampler = SamplerCls(
        EnvCls=EnvCls,
        env_kwargs=env_kwargs,
        batch_T=s["batch_T"],
        batch_B=s["batch_B"],
        CollectorCls=(GPU_COLLECTORS if kind in _AGENT_IN_MASTER else COLLECTORS)[collector],
        max_decorrelation_steps=s["max_decorrelation_steps"],
        TrajInfoCls=TrajInfoCls,
        eval_n_envs=eval_n_envs,
        eval_max_steps=s.get("eval_max_steps"),
        eval_max_trajectories=s.get("eval_max_trajectories"),
    )
    agent_kwargs = dict(config["agent"].get("kwargs") or {})
    if "q_model_kwargs" in config["agent"]:
        agent_kwargs["q_model_kwargs"] = dict(config["agent"]["q_model_kwargs"] or {})
    agent = AgentCls(
        model_kwargs=dict(config["agent"].get("model_kwargs") or {}),
        **agent_kwargs,
    )
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
        affinity=_runner_affinity(r, workers_cpus, slot),
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
