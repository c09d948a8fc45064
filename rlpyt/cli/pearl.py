"""PEARL runs from the command line: ``python -m rlpyt train --algo pearl --env cheetah-vel``.

``--env`` is a task distribution of :data:`rlpyt.envs.meta.META_ENVS` (``point-robot``,
``sparse-point-robot``, ``cheetah-vel``, ``cheetah-dir``, ``ant-dir``, ``ant-goal``,
``humanoid-dir``, ``hopper-rand-params``, ``walker-rand-params``, and Meta-World's ``ml1``
with the optional extra ``rlpyt[metaworld]``). A PEARL config differs
from a model-free one in its sections:

* ``env``: ``id`` (the distribution) and ``kwargs`` (of its env class, plus ``horizon``);
* ``sampler``: :class:`~rlpyt.samplers.meta.MetaSerialSampler` keywords: task counts and
  seeds, the collection schedule, the meta-test; ``kind`` ``serial`` (collection in this
  process) or ``cpu`` (:class:`~rlpyt.samplers.meta.MetaCpuSampler`: the tasks spread over
  ``workers`` processes, default one per usable core, at most ``num_tasks_sample``; the
  same data as serial);
* ``agent``: :class:`~rlpyt.agents.qpg.pearl_agent.PearlAgent` keywords;
* ``algo``: :class:`~rlpyt.algos.qpg.pearl.PEARL` keywords;
* ``runner``: :class:`~rlpyt.runners.meta_rl.MetaRl` counts ``n_itr`` iterations (not env
  steps; ``--steps`` is refused) and meta-tests every ``log_interval_itrs``.

Settings per env are the paper's (``oyster``'s configs, see :data:`PAPER`).
"""

import copy

__all__ = [
    "META_ALGOS",
    "PAPER",
    "is_meta",
    "pearl_default_config",
    "build_pearl_experiment",
    "require_meta_env_id",
    "check_meta_env",
]

META_ALGOS = ("pearl",)

_COMMON_SAMPLER = dict(
    kind="serial", workers=None, num_initial_steps=2000, num_tasks_sample=5, num_steps_prior=400,
    num_steps_posterior=0, num_extra_rl_steps_posterior=600, embedding_batch_size=100,
    num_steps_per_eval=600, num_exp_traj_eval=2, train_task_seed=1337, test_task_seed=7331,
)  # fmt: skip

PAPER = {
    "cheetah-vel": dict(sampler=dict(n_train_tasks=100, n_test_tasks=30), algo=dict(meta_batch=16)),
    "cheetah-dir": dict(
        sampler=dict(n_train_tasks=2, n_test_tasks=2, allow_shared_tasks=True,
                     num_steps_prior=1000, num_extra_rl_steps_posterior=1000,
                     embedding_batch_size=256),
        algo=dict(meta_batch=4, embedding_batch_size=256),
    ),
    "ant-dir": dict(
        env=dict(forward_backward=True),
        sampler=dict(n_train_tasks=2, n_test_tasks=2, allow_shared_tasks=True,
                     embedding_batch_size=256),
        algo=dict(meta_batch=4, num_train_steps_per_itr=4000, embedding_batch_size=256),
    ),
    "ant-goal": dict(
        sampler=dict(n_train_tasks=150, n_test_tasks=30, embedding_batch_size=256),
        algo=dict(meta_batch=10, num_train_steps_per_itr=4000, embedding_batch_size=256,
                  kl_lambda=1.0),
    ),
    "humanoid-dir": dict(
        sampler=dict(n_train_tasks=100, n_test_tasks=30, embedding_batch_size=256),
        algo=dict(meta_batch=16, num_train_steps_per_itr=4000, embedding_batch_size=256),
    ),
    "hopper-rand-params": dict(
        sampler=dict(n_train_tasks=40, n_test_tasks=10),
        agent=dict(use_next_obs_in_context=True),
        algo=dict(meta_batch=10, num_train_steps_per_itr=4000),
    ),
    "walker-rand-params": dict(
        sampler=dict(n_train_tasks=40, n_test_tasks=10),
        agent=dict(use_next_obs_in_context=True),
        algo=dict(meta_batch=10, num_train_steps_per_itr=4000),
    ),
    # Meta-World ML1 (optional extra): no paper settings; the defaults in whole 500-step
    # trajectories, Meta-World's 50 test goals, 10 training goals meta-tested.
    "ml1": dict(
        env=dict(task_name="reach-v3"),
        sampler=dict(n_train_tasks=50, n_test_tasks=50, n_eval_train_tasks=10,
                     num_initial_steps=1000, num_steps_prior=500,
                     num_extra_rl_steps_posterior=1000, num_steps_per_eval=1500,
                     num_exp_traj_eval=1),
        algo=dict(meta_batch=16),
    ),
    "point-robot": dict(
        sampler=dict(n_train_tasks=80, n_test_tasks=20, num_initial_steps=200,
                     num_steps_prior=200, num_extra_rl_steps_posterior=200,
                     embedding_batch_size=64, num_steps_per_eval=60, num_exp_traj_eval=1),
        algo=dict(meta_batch=16, num_train_steps_per_itr=1000, embedding_batch_size=64,
                  reward_scale=100.0),
    ),
    "sparse-point-robot": dict(
        sampler=dict(n_train_tasks=80, n_test_tasks=20, num_initial_steps=200,
                     num_tasks_sample=10, num_steps_prior=100, num_steps_posterior=900,
                     num_extra_rl_steps_posterior=0, embedding_batch_size=1024,
                     num_steps_per_eval=400, num_exp_traj_eval=5),
        agent=dict(sparse_rewards=True),
        algo=dict(meta_batch=16, num_train_steps_per_itr=1000, embedding_batch_size=1024,
                  reward_scale=100.0, discount=0.9, kl_lambda=1.0),
    ),
}  # fmt: skip
"""Per env: what differs from the defaults of the sampler, agent, algorithm (the paper's)."""


def is_meta(algo) -> bool:
    return algo in META_ALGOS


def pearl_default_config(algo: str, env_id: str) -> dict:
    """The paper's config of PEARL on task distribution ``env_id``."""
    require_meta_env_id(env_id, "--env")
    from rlpyt.agents.qpg.pearl_agent import PearlAgent
    from rlpyt.algos.qpg.pearl import PEARL
    from rlpyt.samplers.meta import MetaSerialSampler

    paper = copy.deepcopy(PAPER[env_id])
    sampler = {**keyword_defaults(MetaSerialSampler), **_COMMON_SAMPLER, **paper["sampler"]}
    del sampler["env_kwargs"]  # from env.kwargs
    return {
        "algo_name": algo,
        "env": {"id": env_id, "kwargs": paper.get("env", {})},
        "sampler": sampler,
        "agent": {**keyword_defaults(PearlAgent), **paper.get("agent", {})},
        "algo": {**keyword_defaults(PEARL), **paper.get("algo", {})},
        "runner": dict(
            kind="meta",
            n_itr=500,
            log_interval_itrs=1,
            seed=None,
            torch_threads=1,
            reproducible=False,
            eval=False,
            learners=1,
        ),  # fmt: skip
        "logging": {
            "log_dir": "data/local",
            "run_ID": 0,
            "snapshot_mode": "last",
            "use_summary_writer": False,
        },
    }


def keyword_defaults(cls) -> dict:
    """The keywords of ``cls.__init__`` with plain (JSON) defaults: the settable config keys."""
    import inspect

    defaults = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        value = param.default
        if param.kind is not param.KEYWORD_ONLY or value is param.empty:
            continue
        if value is None or isinstance(value, bool | int | float | str):
            defaults[name] = value
        elif isinstance(value, tuple | list) and all(isinstance(v, int) for v in value):
            defaults[name] = list(value)
    return defaults


def build_pearl_experiment(config: dict, resume_from=None, affinity_code=None):
    """The :class:`~rlpyt.runners.meta_rl.MetaRl` of a PEARL config; nothing started (the
    components validate their keywords here)."""
    from rlpyt.agents.qpg.pearl_agent import PearlAgent
    from rlpyt.algos.qpg.pearl import PEARL
    from rlpyt.cli.build import run_affinity
    from rlpyt.envs.meta import meta_make
    from rlpyt.runners.meta_rl import MetaRl
    from rlpyt.samplers.meta import MetaCpuSampler, MetaSerialSampler

    sampler_classes = {"serial": MetaSerialSampler, "cpu": MetaCpuSampler}

    env_id = config["env"]["id"]
    require_meta_env_id(env_id, "env.id")
    require_distinct_task_seeds(config["sampler"])
    sampler_kwargs = dict(config["sampler"])
    kind = sampler_kwargs.pop("kind", "serial")
    sampler_kwargs.pop("workers", None)
    if kind not in sampler_classes:
        raise ValueError(
            f"sampler.kind={kind!r}: PEARL collects with the meta samplers, one of "
            f"{list(sampler_classes)} (serial: in this process; cpu: tasks spread over "
            "sampler.workers processes)"
        )
    r = config["runner"]
    # Workers: at most one per task of an iteration (sampler.num_tasks_sample).
    affinity, n_workers = run_affinity(config, kind, affinity_code, n_envs_key="num_tasks_sample")
    affinity["torch_threads"] = affinity.get("torch_threads") or 1
    if kind == "cpu":
        sampler_kwargs["n_workers"] = n_workers
    sampler = sampler_classes[kind](
        EnvCls=meta_make,
        env_kwargs=dict(name=env_id, **(config["env"].get("kwargs") or {})),
        **sampler_kwargs,
    )
    return MetaRl(
        algo=PEARL(**config["algo"]),
        agent=PearlAgent(**config["agent"]),
        sampler=sampler,
        n_itr=r["n_itr"],
        seed=r.get("seed"),
        affinity=affinity,
        log_interval_itrs=r.get("log_interval_itrs", 1),
        resume_from=resume_from,
        reproducible=bool(r.get("reproducible", False)),
    )


def require_meta_env_id(env_id: str, flag: str) -> None:
    """Refuse an ``env_id`` that is not a task distribution of :data:`META_ENVS`, naming the
    methods PEARL needs and the closest known name."""
    from rlpyt.envs.meta import META_ENVS, TASK_METHODS
    from rlpyt.utils.launching.variant import did_you_mean

    if env_id in META_ENVS:
        return
    hint = did_you_mean(env_id, list(META_ENVS), n=1)
    raise ValueError(
        f"{flag} {env_id!r}: PEARL needs a task distribution, an env with "
        f"{' and '.join(f'{m}()' for m in TASK_METHODS)}, and {env_id!r} is none of "
        f"rlpyt.envs.meta.META_ENVS{f' ({hint})' if hint else ''}; one of {', '.join(META_ENVS)}"
    )


def require_distinct_task_seeds(sampler_config: dict) -> None:
    """Refuse equal ``train_task_seed`` and ``test_task_seed`` (the same seed draws the same
    tasks) unless ``allow_shared_tasks``; without building an env."""
    train_seed, test_seed = sampler_config["train_task_seed"], sampler_config["test_task_seed"]
    if int(train_seed) == int(test_seed) and not sampler_config.get("allow_shared_tasks"):
        raise ValueError(
            f"sampler.train_task_seed and sampler.test_task_seed are both {train_seed}: the "
            "same seed draws the same tasks, so the test tasks would be training tasks; set two "
            "different seeds"
        )


def check_meta_env(env_config: dict, sampler_config: dict | None = None) -> None:
    """Build the task env and draw the run's task split (with ``sampler_config``), so bad
    kwargs and train/test tasks that overlap fail before a run starts; then close the env."""
    from rlpyt.envs.meta import make_task_split, meta_make
    from rlpyt.envs.meta.metaworld import MetaWorldUnavailable

    try:
        env = meta_make(env_config["id"], **(env_config.get("kwargs") or {}))
    except MetaWorldUnavailable as err:  # a missing optional extra: a usage error, one line
        raise ValueError(f"env.id {env_config['id']!r}: {err}") from None
    try:
        if sampler_config is not None:
            s = sampler_config
            try:
                make_task_split(
                    env, s["n_train_tasks"], s["n_test_tasks"], s["train_task_seed"],
                    s["test_task_seed"], allow_shared_tasks=bool(s.get("allow_shared_tasks")),
                )  # fmt: skip
            except ValueError as err:
                raise ValueError(f"sampler: {err}") from None
    finally:
        env.close()
