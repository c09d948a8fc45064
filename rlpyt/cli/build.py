"""Build sampler, agent, algorithm and runner from a config (see :mod:`rlpyt.cli.configs`).

Everything that can be checked without starting envs is checked here, first,
so a bad value fails in a second with a message naming it.

``sampler.kind`` picks the sampler: ``serial`` (:class:`SerialSampler`, the
default), ``cpu`` (:class:`CpuSampler`: workers act with CPU copies of the
agent), ``gpu`` (:class:`GpuSampler`: workers step envs, the training process
picks all actions in one batch), ``alternating`` (:class:`AlternatingSampler`:
two groups of GPU-sampler workers take turns) or ``ray`` (``RaySampler``: Ray actors).
``sampler.workers`` is the number of worker processes, each pinned to one of the usable
CPU cores. ``runner.kind`` picks the runner (``minibatch``, ``async``, ``actor_learner``,
``sync``, ``scheme``): see :mod:`rlpyt.cli.runners`. Planners are built by
:mod:`rlpyt.cli.planning`, PEARL by :mod:`rlpyt.cli.pearl`, scheme runs by :mod:`rlpyt.cli.scheme`.

``affinity_code`` (``train --affinity``, given by the launcher) is a slot affinity code
(``rlpyt.utils.launching.affinity``): the run's master process is pinned to the slot's cores,
a parallel sampler's workers to its worker cores (``sampler.workers`` of them at most), its
GPU is the slot's, and ``runner.torch_threads`` is capped at the slot's core count (default:
that count).
"""

import warnings

from rlpyt.cli.env_backends import make_env_factory
from rlpyt.cli.pearl import build_pearl_experiment, check_meta_env, is_meta
from rlpyt.cli.planning import build_planning_experiment, is_planner
from rlpyt.cli.runners import (
    SAMPLER_KINDS,
    check_runner_choice,
    ray_options,
    runner_class,
    sampler_class,
    split_cores,
)
from rlpyt.cli.scheme import build_scheme_experiment
from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector, CpuWaitResetCollector
from rlpyt.samplers.parallel.gpu.collectors import GpuResetCollector, GpuWaitResetCollector
from rlpyt.utils.launching.affinity import usable_cpus
from rlpyt.utils.validation import require_int_at_least

__all__ = [
    "build_experiment",
    "agent_class",
    "algo_class",
    "run_affinity",
    "check_env",
    "make_env_factory",
    "usable_cpus",
    "SAMPLER_KINDS",
]

COLLECTORS = {"reset": CpuResetCollector, "wait_reset": CpuWaitResetCollector}
GPU_COLLECTORS = {"reset": GpuResetCollector, "wait_reset": GpuWaitResetCollector}
# Samplers whose workers only step envs (the training process picks the actions).
_AGENT_IN_MASTER = ("gpu", "alternating")


def _n_workers(s: dict, kind: str, cpus: list, where: str, envs_key="batch_B") -> int | None:
    """How many workers (or Ray actors) the sampler gets; ``None`` for the serial sampler.

    Default: one per core of ``cpus`` (the cores ``where`` describes). More workers than
    those cores (Ray actors excepted: Ray places them) or than the ``sampler[envs_key]`` envs
    are clamped with a warning.
    """
    workers = s.get("workers")
    if workers is not None:
        workers = require_int_at_least("sampler.workers", workers, 1)
    if kind == "serial":
        if workers is not None:
            warnings.warn(
                f"sampler.workers={workers} has no effect with sampler.kind='serial' "
                "(everything runs in this process); choose --sampler cpu, gpu or alternating "
                "for worker processes",
                stacklevel=4,
            )
        return None
    n = len(cpus) if workers is None else workers
    if n > len(cpus) and kind != "ray":
        warnings.warn(
            f"sampler.workers={n} is more than the {len(cpus)} {where}: using {len(cpus)} workers",
            stacklevel=4,
        )
        n = len(cpus)
    n_envs = s[envs_key]
    if n > n_envs:
        if workers is not None:
            warnings.warn(
                f"sampler.workers={n} is more than sampler.{envs_key}={n_envs} envs: "
                f"using {n_envs} workers (one env each)",
                stacklevel=4,
            )
        n = n_envs
    return n


def _run_affinity(config: dict, runner_kind: str, kind: str, slot: dict | None, envs_key="batch_B"):
    """``(affinity, n_workers)``: the runner's affinity (for the sync runner, a list of one
    dict per learner) and the number of sampler workers (per learner); ``envs_key``: the
    sampler setting that counts its envs."""
    s, r = config["sampler"], config["runner"]
    cpus = usable_cpus() if slot is None else list(slot["workers_cpus"])
    if runner_kind == "sync":
        return _learner_affinities(s, r, kind, cpus, slot)
    where = (
        "usable CPU cores (os.sched_getaffinity)"
        if slot is None
        else f"worker cores {cpus} of the --affinity slot"
    )
    n = _n_workers(s, kind, cpus, where, envs_key)
    workers_cpus = None if n is None or kind == "ray" else cpus[:n]
    return _runner_affinity(r, workers_cpus, slot), n


def _learner_affinities(s: dict, r: dict, kind: str, cpus: list, slot: dict | None):
    """One affinity dict per learner of the sync runner: ``cpus`` split among them, each
    learner pinned to its cores with its sampler's workers; CPU learners (gloo)."""
    if slot is not None and slot.get("cuda_idx") is not None:
        raise ValueError(
            f"runner.kind='sync' from the command line trains on CPU learners, but the "
            f"--affinity slot gives GPU {slot['cuda_idx']}: use a slot code without GPUs "
            "(0gpu), or runner.kind='minibatch' to train on the GPU"
        )
    learners = r["learners"]
    per_learner = split_cores(cpus, learners)
    n = _n_workers(s, kind, per_learner[0], f"cores of each of the {learners} learners")
    threads = len(per_learner[0])
    if r.get("torch_threads"):
        threads = min(int(r["torch_threads"]), threads)
    affinities = []
    for mine in per_learner:
        affinity = dict(cuda_idx=None, master_cpus=mine, torch_threads=threads)
        if slot is not None:
            affinity["set_affinity"] = slot["set_affinity"]
        if n is not None:
            affinity["workers_cpus"] = mine[:n]
        affinities.append(affinity)
    return affinities, n


def agent_class(name: str):
    """The agent class of ``agent.name``."""
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


def algo_class(name: str):
    """The algorithm class of ``algo_name`` (model-free algorithms)."""
    if name in ("a2c", "ppo"):
        from rlpyt.algos.pg.a2c import A2C
        from rlpyt.algos.pg.ppo import PPO

        return {"a2c": A2C, "ppo": PPO}[name]
    if name in ("impala", "appo"):
        from rlpyt.algos.pg.appo import APPO
        from rlpyt.algos.pg.impala import IMPALA

        return {"impala": IMPALA, "appo": APPO}[name]
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
        raise ValueError(
            f"algo_name must be one of a2c, ppo, impala, appo, {', '.join(algos)}; got {name!r}"
        )
    return algos[name]


def run_affinity(config: dict, kind: str, affinity_code: str | None, n_envs_key: str):
    """``(affinity, n_workers)`` of a one-process runner with a ``kind`` sampler whose envs
    ``config["sampler"][n_envs_key]`` counts (the planning runs' episode samplers)."""
    slot = None if affinity_code is None else _slot_affinity(affinity_code)
    return _run_affinity(config, "episodes", kind, slot, envs_key=n_envs_key)


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
    runner_kind, kind = check_runner_choice(config)
    if is_planner(config["algo_name"]):
        return build_planning_experiment(config, resume_from, affinity_code)
    if is_meta(config["algo_name"]):
        return build_pearl_experiment(config, resume_from, affinity_code)
    if runner_kind == "scheme":
        return build_scheme_experiment(config, resume_from, affinity_code)
    s, r = config["sampler"], config["runner"]
    slot = None if affinity_code is None else _slot_affinity(affinity_code)
    collector = s["collector"]
    if collector not in COLLECTORS:
        raise ValueError(
            f"sampler.collector must be one of {sorted(COLLECTORS)}, got {collector!r}"
        )
    require_int_at_least("sampler.batch_T", s["batch_T"], 1)
    require_int_at_least("sampler.batch_B", s["batch_B"], 1)
    SamplerCls = sampler_class(kind, runner_kind)  # first: a missing Ray is refused at once
    affinity, n_workers = _run_affinity(config, runner_kind, kind, slot)
    algo_kwargs = dict(config["algo"])
    AlgoCls = algo_class(config["algo_name"])
    algo = AlgoCls(**algo_kwargs)  # validates its hyperparameters
    AgentCls = agent_class(config["agent"]["name"])
    # APPO's minibatches are whole env columns, as recurrent PPO's.
    whole_columns = AgentCls.recurrent or config["algo_name"] == "appo"
    _check_minibatches(algo_kwargs.get("minibatches"), s, whole_columns)
    EnvCls, env_kwargs, TrajInfoCls = make_env_factory(config["env"])
    eval_n_envs = int(s.get("eval_n_envs") or 0)
    if r.get("eval") and eval_n_envs < 1:
        raise ValueError(
            "runner.eval=True needs sampler.eval_n_envs >= 1 and sampler.eval_max_steps"
        )
    if kind == "alternating":
        _check_alternating(config, AgentCls.recurrent, n_workers)
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
        **(ray_options(n_workers) if kind == "ray" else {}),
    )
    agent_kwargs = dict(config["agent"].get("kwargs") or {})
    if "q_model_kwargs" in config["agent"]:
        agent_kwargs["q_model_kwargs"] = dict(config["agent"]["q_model_kwargs"] or {})
    agent = AgentCls(
        model_kwargs=dict(config["agent"].get("model_kwargs") or {}),
        compile=config["agent"].get("compile", False),
        **agent_kwargs,
    )
    RunnerCls = runner_class(runner_kind, evaluate=bool(r.get("eval")))
    return RunnerCls(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=r["n_steps"],
        seed=r.get("seed"),
        log_interval_steps=r["log_interval_steps"],
        resume_from=resume_from,
        affinity=affinity,
        reproducible=bool(r.get("reproducible")),
    )


def _check_minibatches(minibatches, s: dict, recurrent: bool) -> None:
    if not minibatches:
        return
    batch = s["batch_T"] * s["batch_B"]
    unit, what = (
        (s["batch_B"], "batch_B (recurrent agents and APPO split whole env columns)")
        if recurrent
        else (batch, f"batch_T * batch_B = {s['batch_T']} * {s['batch_B']}")
    )
    if unit % minibatches:
        raise ValueError(
            f"algo.minibatches={minibatches} does not divide {what} = {unit}: "
            f"choose minibatches among the divisors of {unit}"
        )


def _check_alternating(config: dict, recurrent: bool, n_workers: int) -> None:
    s = config["sampler"]
    if recurrent:
        raise ValueError(
            f"sampler.kind='alternating' cannot drive the recurrent agent "
            f"agent.name={config['agent']['name']!r} (AlternatingSampler steps half of "
            "the envs at a time); use sampler.kind='gpu' or 'cpu', or a feed-forward agent"
        )
    if n_workers < 2:
        per = " per learner" if config["runner"].get("kind") == "sync" else ""
        raise ValueError(
            f"sampler.kind='alternating' needs at least 2 workers{per} (two groups that take "
            f"turns), but only {n_workers} can run (sampler.workers={s.get('workers')}, "
            f"{len(usable_cpus())} usable CPU cores, sampler.batch_B={s['batch_B']}); use "
            "sampler.kind='gpu'"
        )


def check_env(env_config: dict, sampler_config: dict | None = None) -> None:
    """Build and close one env, so a bad env id or argument fails before a run starts (for a
    task distribution, also its train/test task split of ``sampler_config``)."""
    from rlpyt.envs.meta import META_ENVS

    if env_config["id"] in META_ENVS:
        check_meta_env(env_config, sampler_config)
        return
    EnvCls, env_kwargs, _ = make_env_factory(env_config)
    try:
        env = EnvCls(**env_kwargs)
    except Exception as err:
        raise ValueError(
            f"env {env_config['id']!r} with kwargs {env_kwargs} could not be built: "
            f"{type(err).__name__}: {err} (check env.id and env.kwargs)"
        ) from err
    env.close()
