"""Scheme runs from the command line: ``python -m rlpyt train --algo impala --runner scheme``.

``--runner scheme`` (``runner.kind="scheme"``) trains IMPALA or APPO with
:class:`~rlpyt.runners.scheme.SchemeRl`: collection workers (Ray actors stepping envs with a
policy copy), gradient workers (Ray actors computing gradients on their collection workers'
rollouts) and an update stage, each link synchronous or asynchronous. The ``scheme`` section
of an IMPALA or APPO config holds every :class:`~rlpyt.runners.scheme_config.SchemeConfig`
setting, with its defaults (``--print-config`` lists them)::

    python -m rlpyt train --algo impala --env CartPole-v1 --runner scheme \\
        --set scheme.collection_workers=4 scheme.gradient_workers=2 \\
              scheme.collection=async scheme.update=async scheme.update_stage=decentralised

The other sections keep their meaning, except:

* ``sampler.batch_T`` is the rollout length ``T`` and ``sampler.batch_B`` the envs of *each*
  collection worker (the run steps ``collection_workers * batch_B`` envs); ``sampler.kind``
  stays ``serial`` and ``sampler.workers`` unset: the collection workers are the scheme's;
* ``runner.n_steps`` counts env steps; one iteration (one progress-table row's ``Iteration``)
  is one update of the weights;
* there is no offline evaluation (``runner.eval``), ``--affinity`` or ``runner.reproducible``:
  Ray places the workers.

``scheme.env_processes=k`` steps each collection worker's envs in k env processes of its own
(the policy still acts once per step for all of them, in the collection worker);
``scheme.remote=False`` runs every worker in the training process, without Ray (debug mode).
With ``remote=True`` and no ``RAY_ADDRESS``, a local Ray instance is started with as many CPUs
as the workers reserve (``scheme.ray_init_kwargs`` replaces those settings); with
``RAY_ADDRESS`` set, the run joins that cluster.

``--resume`` continues from the snapshot's weights, optimizer, schedules and counters with
fresh workers (their envs restart: not bit-for-bit as an uninterrupted run would have gone).
:func:`check_scheme_choice` refuses, before anything starts, every setting the scheme cannot
run.
"""

import dataclasses
import math
import os

__all__ = [
    "SCHEME_ALGOS",
    "scheme_section",
    "check_scheme_choice",
    "scheme_config",
    "scheme_ray_init_kwargs",
    "build_scheme_experiment",
]

SCHEME_ALGOS = ("impala", "appo")
"""The algorithms with IMPALA's ``loss_terms(samples, valid)`` (V-trace corrects the lag)."""


def scheme_section() -> dict:
    """The ``scheme`` section of a config: every :class:`SchemeConfig` field, its default."""
    from rlpyt.runners.scheme_config import SchemeConfig

    return dataclasses.asdict(SchemeConfig())


def scheme_config(config: dict):
    """The :class:`SchemeConfig` of ``config["scheme"]``; a ``ValueError`` naming a bad key."""
    from rlpyt.runners.scheme_config import SchemeConfig

    section = dict(config.get("scheme") or {})
    try:
        scheme = SchemeConfig(**section)
    except TypeError as err:  # an unknown key from a hand-written config file
        raise ValueError(f"scheme section: {err}") from None
    for name in (
        "collection_workers",
        "gradient_workers",
        "max_restarts",
        "gradient_torch_threads",
    ):
        value = getattr(scheme, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (name != "max_restarts")
        ):
            raise ValueError(
                f"scheme.{name} must be an integer >= 1 (max_restarts >= 0), got {value!r}"
            )
    if scheme.nan_check not in ("raise", "warn", "off"):
        raise ValueError(
            f"scheme.nan_check must be 'raise', 'warn' or 'off', got {scheme.nan_check!r}"
        )
    return scheme


def check_scheme_choice(config: dict) -> None:
    """A ``ValueError`` naming the cause and the fix for a scheme run that cannot go."""
    algo = config["algo_name"]
    if algo not in SCHEME_ALGOS:
        raise ValueError(
            f"runner.kind='scheme' trains on rollouts of lagging copies of the policy, which "
            f"algo {algo!r} does not correct for: use --algo impala or appo (V-trace) with "
            f"it, or --runner minibatch or sync for {algo}"
        )
    if "scheme" not in config:
        raise ValueError(
            "runner.kind='scheme' needs the config's scheme section (configs of older "
            "versions lack it): start a new run, or add the section to the config file"
        )
    s, r = config["sampler"], config["runner"]
    if s.get("kind", "serial") != "serial" or s.get("workers") is not None:
        raise ValueError(
            f"runner.kind='scheme' steps its envs in its own collection workers (Ray actors), "
            f"not with sampler.kind={s.get('kind')!r} / sampler.workers={s.get('workers')!r}: "
            "drop --sampler/--workers and set scheme.collection_workers (sampler.batch_B is "
            "the envs of each collection worker)"
        )
    if r.get("eval"):
        raise ValueError(
            "runner.eval=True: the scheme runner has no offline evaluation; set runner.eval=False"
        )
    if r.get("reproducible"):
        raise ValueError(
            "runner.reproducible=True: the scheme's workers are Ray actors whose timing decides "
            "what they collect; set runner.reproducible=False, or use --runner minibatch"
        )
    scheme = scheme_config(config)
    if scheme.env_processes > s["batch_B"]:
        raise ValueError(
            f"scheme.env_processes={scheme.env_processes} exceeds sampler.batch_B="
            f"{s['batch_B']}, the envs of each collection worker: each env process steps at "
            "least one env; lower scheme.env_processes or raise sampler.batch_B"
        )
    _check_minibatches(config, scheme)
    if scheme.remote:
        from rlpyt.cli.runners import require_ray

        require_ray()


def _check_minibatches(config: dict, scheme) -> None:
    """APPO's minibatches are whole env columns of one gradient worker's batch."""
    minibatches = config["algo"].get("minibatches")
    if not minibatches:
        return
    per = scheme.collection_workers // scheme.gradient_workers
    columns = per * config["sampler"]["batch_B"]
    if columns % minibatches:
        raise ValueError(
            f"algo.minibatches={minibatches} does not divide the env columns of a gradient "
            f"worker's batch: (collection_workers / gradient_workers) * sampler.batch_B = "
            f"{per} * {config['sampler']['batch_B']} = {columns}; choose minibatches among the "
            f"divisors of {columns}"
        )


def scheme_ray_init_kwargs(scheme) -> dict:
    """``ray.init`` keywords of a scheme run: ``scheme.ray_init_kwargs`` if given; else, to
    start a local Ray instance, as many CPUs as the workers reserve (rounded up, at least
    one) and no dashboard; nothing when joining the cluster of ``RAY_ADDRESS``."""
    if scheme.ray_init_kwargs:
        return dict(scheme.ray_init_kwargs)
    if os.environ.get("RAY_ADDRESS"):
        return {}  # ray.init refuses num_cpus when connecting to a cluster
    per_g = scheme.collection_workers // scheme.gradient_workers
    cpus = scheme.gradient_workers * (scheme.gradient_num_cpus + per_g * scheme.collection_num_cpus)
    return dict(
        num_cpus=max(1, math.ceil(cpus - 1e-9)), include_dashboard=False, log_to_driver=False
    )


def build_scheme_experiment(config: dict, resume_from=None, affinity_code=None):
    """The :class:`~rlpyt.runners.scheme.SchemeRl` of an IMPALA or APPO config; nothing is
    started (Ray neither)."""
    from rlpyt.cli.build import agent_class, algo_class
    from rlpyt.cli.env_backends import make_env_factory
    from rlpyt.runners.scheme import SchemeRl
    from rlpyt.samplers.serial.sampler import SerialSampler
    from rlpyt.utils.validation import require_int_at_least

    if affinity_code is not None:
        raise ValueError(
            f"--affinity {affinity_code!r}: Ray places the scheme's workers; give their "
            "resources with scheme.collection_num_cpus / gradient_num_cpus / gradient_num_gpus"
        )
    check_scheme_choice(config)
    scheme = scheme_config(config)
    scheme = dataclasses.replace(scheme, ray_init_kwargs=scheme_ray_init_kwargs(scheme))
    s, r = config["sampler"], config["runner"]
    require_int_at_least("sampler.batch_T", s["batch_T"], 1)
    require_int_at_least("sampler.batch_B", s["batch_B"], 1)
    algo = algo_class(config["algo_name"])(**config["algo"])  # validates its hyperparameters
    AgentCls = agent_class(config["agent"]["name"])
    EnvCls, env_kwargs, TrajInfoCls = make_env_factory(config["env"])
    # Carries the collection settings only: the collection workers build the envs.
    sampler = SerialSampler(
        EnvCls=EnvCls,
        env_kwargs=env_kwargs,
        batch_T=s["batch_T"],
        batch_B=s["batch_B"],
        max_decorrelation_steps=s["max_decorrelation_steps"],
        TrajInfoCls=TrajInfoCls,
    )
    agent = AgentCls(
        model_kwargs=dict(config["agent"].get("model_kwargs") or {}),
        compile=config["agent"].get("compile", False),
        **dict(config["agent"].get("kwargs") or {}),
    )
    return SchemeRl(
        algo,
        agent,
        sampler,
        r["n_steps"],
        scheme=scheme,
        seed=r.get("seed"),
        log_interval_steps=r["log_interval_steps"],
        resume_from=resume_from,
        affinity=dict(torch_threads=r.get("torch_threads")),
    )
