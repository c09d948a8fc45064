"""Planning runs from the command line: ``python -m rlpyt train --algo mcts --env rlpyt/Hanoi-v0``.

The planners of :mod:`rlpyt.agents.planning` train through the same ``train`` command, config
files, ``--set`` overrides, ``--resume``, ``launch`` grids, ``plot`` and ``summary`` as the
model-free algorithms. A planning config differs in three sections:

* ``agent``: ``kwargs`` of the planner (e.g. ``n_passes``), ``network`` (whether it has one)
  and ``model_kwargs`` of the network (:class:`~rlpyt.models.planning.PlanningMlpModel`:
  ``hidden_sizes``, ``heads``);
* ``sampler``: an episode sampler (:mod:`rlpyt.samplers.episodes`): ``kind`` ``serial``,
  ``cpu`` (worker processes) or ``ray`` (Ray actors), ``workers``, ``n_envs`` (episodes per
  epoch, searched in lockstep with one network call per search step),
  ``episode_time_limit``;
* ``runner``: :class:`~rlpyt.runners.episodes.EpisodeRunner` counts ``n_epochs`` (not env steps;
  ``--steps`` is refused) and logs every ``log_interval_epochs``;
* ``algo``: :class:`~rlpyt.algos.planning.SupervisedFromSearch` settings, which train the
  network from the search's results; ``algo.train: false`` (the default for planners without a
  network) plans with the agent as it is (:class:`~rlpyt.algos.planning.NoTraining`, which
  reads only ``algo.discount``).

:data:`PLANNERS` maps ``--algo`` names to agents. Shipped configs: ``examples/planning/``.
"""

import importlib

__all__ = ["PLANNERS", "EPISODE_SAMPLER_KINDS", "is_planner", "planning_default_config"]

PLANNERS = {
    "random": "RandomAgent",
    "shooting": "ShootingAgent",
    "mcts": "DeterministicMctsAgent",
    "stochastic_mcts": "StochasticMctsAgent",
    "bfs": "BestFirstSearchAgent",
    "softmax": "SoftmaxAgent",
    "epsilon_greedy": "EpsilonGreedyAgent",
}
"""``--algo`` name -> class in :mod:`rlpyt.agents.planning`."""

EPISODE_SAMPLER_KINDS = {
    "serial": "SerialEpisodeSampler",
    "cpu": "CpuEpisodeSampler",
    "ray": "RayEpisodeSampler",
}
"""``sampler.kind`` of a planning run -> class in :mod:`rlpyt.samplers.episodes`."""

# The network each planner reads by default (None: no network, nothing to train), and the
# targets it is trained on.
_NETWORK = {
    "random": None,
    "shooting": None,
    "mcts": dict(heads=["value"]),
    "stochastic_mcts": None,
    "bfs": dict(heads=["value"]),
    "softmax": dict(heads=["q"]),
    "epsilon_greedy": dict(heads=["q"]),
}
_TARGETS = {
    "value": dict(value_target="discounted_return", policy_target=None, q_target=None),
    "q": dict(value_target=None, policy_target=None, q_target="qualities"),
}
# SupervisedFromSearch's keywords and defaults (its targets come from the network's heads):
# listed here so that --set and config files may change each one (this module imports no
# torch; a test checks the list against the signature).
_TRAINING = dict(
    discount=0.99,
    learning_rate=1e-3,
    batch_size=64,
    n_updates_per_epoch=100,
    n_precollect_epochs=0,
    replay_capacity=30000,
    replay_hierarchy=["solved"],
    n_step=10,
    value_loss_coeff=1.0,
    policy_loss_coeff=1.0,
    q_loss_coeff=1.0,
    clip_grad_norm=None,
)


def is_planner(algo) -> bool:
    """Whether ``algo`` names a planner (a planning run) rather than a model-free algorithm."""
    return algo in PLANNERS


def planning_default_config(algo: str, env_id: str) -> dict:
    """The default config of planner ``algo`` on ``env_id`` (see the module docstring)."""
    network = _NETWORK[algo]
    model_kwargs = dict(hidden_sizes=[64, 64], **(network or dict(heads=["value"])))
    algo_kwargs = dict(train=network is not None, **_TRAINING)
    algo_kwargs.update(_TARGETS[model_kwargs["heads"][0]])
    return {
        "algo_name": algo,
        "env": {"id": env_id, "kwargs": {}},
        "agent": {"kwargs": {}, "network": network is not None, "model_kwargs": model_kwargs},
        "sampler": dict(kind="serial", workers=None, n_envs=16, episode_time_limit=None),
        "algo": algo_kwargs,
        # learners and eval are the model-free runners' (kept so every config has them).
        "runner": dict(
            kind="episodes",
            n_epochs=20,
            log_interval_epochs=1,
            seed=None,
            torch_threads=1,
            reproducible=False,
            learners=2,
            eval=False,
        ),
        "logging": {
            "log_dir": "data/local",
            "run_ID": 0,
            "snapshot_mode": "last",
            "use_summary_writer": False,
        },
    }


def planner_class(algo: str):
    """The agent class of planner ``algo``."""
    return getattr(importlib.import_module("rlpyt.agents.planning"), PLANNERS[algo])


def episode_sampler_class(kind: str):
    """The episode sampler of ``sampler.kind``; a ``ValueError`` for kinds it does not have."""
    if kind not in EPISODE_SAMPLER_KINDS:
        raise ValueError(
            f"sampler.kind={kind!r}: planning runs sample whole episodes with one of "
            f"{', '.join(EPISODE_SAMPLER_KINDS)} (--sampler serial, cpu or ray)"
        )
    if kind == "ray":
        from rlpyt.cli.runners import require_ray

        require_ray()
    module = importlib.import_module("rlpyt.samplers.episodes")
    return getattr(module, EPISODE_SAMPLER_KINDS[kind])


def build_planning_experiment(config: dict, resume_from=None, affinity_code=None):
    """The :class:`~rlpyt.runners.episodes.EpisodeRunner` of a planning config; nothing started.

    Raises ``ValueError``/``TypeError`` naming the first invalid setting (the planner and the
    algorithm validate their own keywords).
    """
    from rlpyt.algos.planning import NoTraining, SupervisedFromSearch
    from rlpyt.cli.build import run_affinity
    from rlpyt.envs.gym import gym_make
    from rlpyt.models.planning import PlanningMlpModel
    from rlpyt.runners.episodes import EpisodeRunner
    from rlpyt.utils.validation import require_int_at_least

    s, r, a = config["sampler"], config["runner"], config["agent"]
    n_envs = require_int_at_least("sampler.n_envs", s["n_envs"], 1)
    if s.get("episode_time_limit") is not None:
        require_int_at_least("sampler.episode_time_limit", s["episode_time_limit"], 1)
    n_epochs = require_int_at_least("runner.n_epochs", r["n_epochs"], 1)
    log_interval = require_int_at_least("runner.log_interval_epochs", r["log_interval_epochs"], 1)
    SamplerCls = episode_sampler_class(s["kind"])  # first: a missing Ray is refused at once
    affinity, n_workers = run_affinity(config, s["kind"], affinity_code, n_envs_key="n_envs")
    algo_kwargs = dict(config["algo"])
    train = algo_kwargs.pop("train", True)
    network = bool(a.get("network", True))
    if train and not network:
        raise ValueError(
            f"algo.train=True trains the planner's network, but agent.network is False for "
            f"{config['algo_name']!r}: set agent.network=True (and agent.model_kwargs) or "
            "algo.train=False"
        )
    agent_kwargs = dict(a.get("kwargs") or {})
    if network:  # (a planner without a network takes no ModelCls: RandomAgent)
        agent_kwargs.update(
            ModelCls=PlanningMlpModel, model_kwargs=dict(a.get("model_kwargs") or {})
        )
    agent = planner_class(config["algo_name"])(**agent_kwargs)
    if train:
        if "replay_hierarchy" in algo_kwargs:  # a list in config files
            algo_kwargs["replay_hierarchy"] = tuple(algo_kwargs["replay_hierarchy"] or ())
        algo = SupervisedFromSearch(**algo_kwargs)
    else:  # the other settings of the section are SupervisedFromSearch's: unused
        algo = NoTraining(discount=algo_kwargs["discount"])
    sampler_kwargs = {} if n_workers is None else dict(n_workers=n_workers)
    sampler = SamplerCls(
        EnvCls=gym_make,
        env_kwargs=dict(id=config["env"]["id"], **(config["env"].get("kwargs") or {})),
        n_envs=n_envs,
        episode_time_limit=s.get("episode_time_limit"),
        **sampler_kwargs,
    )
    return EpisodeRunner(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_epochs=n_epochs,
        seed=r.get("seed"),
        affinity=affinity,
        log_interval_epochs=log_interval,
        resume_from=resume_from,
    )
