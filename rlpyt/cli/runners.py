"""Which runner and which sampler ``python -m rlpyt train`` builds.

``runner.kind`` (``--runner``):

* ``minibatch`` (default): :class:`~rlpyt.runners.minibatch_rl.MinibatchRl` (``MinibatchRlEval``
  with ``runner.eval``): sample a batch, optimize on it, in turn.
* ``async``: :class:`~rlpyt.runners.async_rl.AsyncRl` (``AsyncRlEval``): a sampler process
  fills the replay buffer while this process optimizes. The sampler is the asynchronous
  counterpart of ``sampler.kind`` (``AsyncSerialSampler``, ``AsyncCpuSampler``,
  ``AsyncGpuSampler``, ``AsyncAlternatingSampler``). Off-policy algorithms only (they learn
  from a replay buffer). ``--resume`` continues an async run with a fresh sampler process
  (from the snapshot's counters, weights, optimizer and replay; not bit-for-bit as an
  uninterrupted run would have gone), or with ``--runner minibatch``.
* ``actor_learner``: :class:`~rlpyt.runners.actor_learner.ActorLearnerRl`
  (``ActorLearnerRlEval``): the asynchronous sampler of ``sampler.kind`` (as for ``async``)
  collects rollouts with lagging copies of the policy while this process trains on each
  rollout as it arrives; the policy lag is logged. IMPALA and APPO only (V-trace corrects
  for the lag).
* ``sync``: :class:`~rlpyt.runners.sync_rl.SyncRl` (``SyncRlEval``): ``runner.learners``
  learner processes (CPU, gloo) average their gradients in every step. Each learner has its
  own sampler of ``sampler.kind`` with ``sampler.batch_B`` envs and ``sampler.workers``
  workers; the usable CPU cores (or the ``--affinity`` slot's) are split among the learners.
  ``runner.n_steps`` and ``runner.log_interval_steps`` count the env steps of all learners.

* ``scheme``: :class:`~rlpyt.runners.scheme.SchemeRl`, the decoupled collection / gradient /
  update scheme on Ray (local, or the cluster of ``RAY_ADDRESS``): the config's ``scheme``
  section sets its workers and links (:mod:`rlpyt.cli.scheme`). IMPALA and APPO only.

* ``episodes``: :class:`~rlpyt.runners.episodes.EpisodeRunner`, epochs of whole episodes: the
  runner of the planners (:mod:`rlpyt.cli.planning`), and theirs only. Their samplers are the
  episode samplers of ``sampler.kind`` ``serial``, ``cpu`` or ``ray``.

``sampler.kind`` (``--sampler``) ``ray``: :class:`~rlpyt.samplers.ray.sampler.RaySampler`,
whose ``sampler.workers`` workers are Ray actors (default: one per usable CPU core), with the
minibatch runner. It starts a local Ray instance of one CPU per actor, or joins the cluster
that the ``RAY_ADDRESS`` environment variable names. Needs ``pip install 'rlpyt[ray]'``.

:func:`check_runner_choice` refuses every unsupported combination before anything starts.
Only the standard library is imported here (``plot`` and ``summary`` never import torch).
"""

import argparse
import importlib
import os
import warnings

__all__ = [
    "RUNNER_KINDS",
    "SAMPLER_KINDS",
    "OFF_POLICY_ALGOS",
    "add_runner_arguments",
    "apply_runner_flags",
    "fill_missing_keys",
    "check_runner_choice",
    "sampler_class",
    "runner_class",
    "split_cores",
    "ray_options",
    "require_ray",
]

RUNNER_KINDS = ("minibatch", "async", "actor_learner", "sync", "scheme", "episodes", "meta")
# SerialSampler, CpuSampler, GpuSampler, AlternatingSampler, RaySampler.
SAMPLER_KINDS = ("serial", "cpu", "gpu", "alternating", "ray")
# The algorithms that learn from a replay buffer: the ones the async runner can train.
OFF_POLICY_ALGOS = ("dqn", "cat_dqn", "r2d1", "ddpg", "td3", "sac")
# The algorithms that correct for policy lag (V-trace): the ones the actor-learner runner can train.
LAG_CORRECTING_ALGOS = ("impala", "appo")
# The runners that run the asynchronous counterpart of sampler.kind in a sampler process.
_ASYNC_RUNNERS = ("async", "actor_learner")
RAY_INSTALL = "pip install 'rlpyt[ray]'"

_SAMPLERS = {
    "serial": ("rlpyt.samplers.serial.sampler", "SerialSampler"),
    "cpu": ("rlpyt.samplers.parallel.cpu.sampler", "CpuSampler"),
    "gpu": ("rlpyt.samplers.parallel.gpu.sampler", "GpuSampler"),
    "alternating": ("rlpyt.samplers.parallel.gpu.alternating_sampler", "AlternatingSampler"),
    "ray": ("rlpyt.samplers.ray.sampler", "RaySampler"),
}
_ASYNC_SAMPLERS = {
    "serial": ("rlpyt.samplers.async_.serial_sampler", "AsyncSerialSampler"),
    "cpu": ("rlpyt.samplers.async_.cpu_sampler", "AsyncCpuSampler"),
    "gpu": ("rlpyt.samplers.async_.gpu_sampler", "AsyncGpuSampler"),
    "alternating": ("rlpyt.samplers.async_.alternating_sampler", "AsyncAlternatingSampler"),
}
_RUNNERS = {
    "minibatch": ("rlpyt.runners.minibatch_rl", "MinibatchRl"),
    "async": ("rlpyt.runners.async_rl", "AsyncRl"),
    "actor_learner": ("rlpyt.runners.actor_learner", "ActorLearnerRl"),
    "sync": ("rlpyt.runners.sync_rl", "SyncRl"),
    "scheme": ("rlpyt.runners.scheme", "SchemeRl"),
}
# config key of each flag that add_runner_arguments defines
_FLAG_KEYS = {
    "sampler": ("sampler", "kind"),
    "workers": ("sampler", "workers"),
    "runner": ("runner", "kind"),
    "learners": ("runner", "learners"),
}


def add_runner_arguments(train: argparse.ArgumentParser) -> None:
    """``--sampler``, ``--workers``, ``--runner`` and ``--learners`` of ``train``."""
    train.add_argument(
        "--sampler",
        choices=SAMPLER_KINDS,
        help="serial (default: one process), cpu (workers act with CPU copies of the agent), "
        "gpu (workers step envs, actions batched in this process), alternating (two "
        "groups of gpu-sampler workers take turns) or ray (workers are Ray actors, with "
        f"--runner minibatch; {RAY_INSTALL}); sets sampler.kind",
    )
    train.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of a parallel sampler, or Ray actors (default: one per usable "
        "CPU core; more than the cores are clamped with a warning); sets sampler.workers",
    )
    train.add_argument(
        "--runner",
        choices=RUNNER_KINDS,
        help="minibatch (default: sample, then optimize), async (a sampler process fills the "
        "replay while this one optimizes; off-policy algorithms), actor_learner (a sampler "
        "process collects rollouts while this one trains on each as it arrives; impala, "
        "appo), sync (--learners learner processes averaging gradients) or scheme (collection "
        "and gradient workers on Ray, see the scheme.* keys; impala, appo); sets runner.kind",
    )
    train.add_argument(
        "--learners",
        type=int,
        metavar="N",
        help="learner processes of --runner sync (default 2), each with its own sampler of "
        "sampler.batch_B envs; sets runner.learners",
    )


def apply_runner_flags(config: dict, args: argparse.Namespace) -> None:
    """Set the config keys of the flags of :func:`add_runner_arguments` that were given."""
    for flag, (section, key) in _FLAG_KEYS.items():
        # The argparse namespace's attribute for this flag.
        value = getattr(args, flag)
        if value is not None:
            config[section][key] = value


def fill_missing_keys(config: dict) -> None:
    """Add the keys that configs saved by older versions lack, with their old meaning."""
    config["sampler"].setdefault("kind", "serial")
    config["sampler"].setdefault("workers", None)
    config["runner"].setdefault("kind", "minibatch")
    config["runner"].setdefault("learners", 2)
    config["runner"].setdefault("reproducible", False)
    if "name" in config.get("agent", {}):  # model-free configs (not planners', not PEARL's)
        config["agent"].setdefault("compile", False)
    if config.get("algo_name") in ("impala", "appo") and "scheme" not in config:
        from rlpyt.cli.scheme import scheme_section

        config["scheme"] = scheme_section()  # runs saved before the scheme existed


def check_runner_choice(config: dict) -> tuple[str, str]:
    """``(runner.kind, sampler.kind)``; a ``ValueError`` naming the cause and the fix for a
    combination that cannot run (before any process starts or any env is built)."""
    runner = config["runner"].get("kind", "minibatch")
    sampler = config["sampler"].get("kind", "serial")
    if runner not in RUNNER_KINDS:
        raise ValueError(f"runner.kind must be one of {list(RUNNER_KINDS)}, got {runner!r}")
    if sampler not in SAMPLER_KINDS:
        raise ValueError(f"sampler.kind must be one of {list(SAMPLER_KINDS)}, got {sampler!r}")
    _check_episodes(config["algo_name"], runner, sampler)
    if runner == "meta":  # PEARL: rlpyt.cli.pearl names the meta samplers it can run
        return runner, sampler
    if runner == "scheme":
        from rlpyt.cli.scheme import check_scheme_choice

        check_scheme_choice(config)
        return runner, sampler
    if sampler == "ray" and runner != "minibatch":
        raise ValueError(
            f"sampler.kind='ray' runs with runner.kind='minibatch' only, not {runner!r} (the "
            f"{runner} runner starts sampler processes of its own): use --runner minibatch "
            f"with --sampler ray, or --sampler cpu with --runner {runner}"
        )
    if runner == "async":
        _check_async(config["algo_name"])
    if runner == "actor_learner" and config["algo_name"] not in LAG_CORRECTING_ALGOS:
        raise ValueError(
            f"runner.kind='actor_learner' trains on rollouts of lagging copies of the policy, "
            f"which algo {config['algo_name']!r} does not correct for: use --algo impala or "
            f"appo (V-trace) with it, or --runner minibatch or sync for "
            f"{config['algo_name']}"
        )
    if runner == "sync":
        learners = config["runner"].get("learners", 2)
        if isinstance(learners, bool) or not isinstance(learners, int):
            raise TypeError(
                f"runner.learners must be an integer (learner processes), got {learners!r}"
            )
        if learners < 1:
            raise ValueError(
                f"runner.learners={learners}: runner.kind='sync' needs at least 1 learner "
                "process; give --learners N with N >= 1 (default 2)"
            )
    return runner, sampler


def _check_episodes(algo: str, runner: str, sampler: str) -> None:
    """Planners run on the episode runner, and nothing else does."""
    from rlpyt.cli.planning import EPISODE_SAMPLER_KINDS, PLANNERS

    planner = algo in PLANNERS
    if planner and runner != "episodes":
        raise ValueError(
            f"runner.kind={runner!r}: planner {algo!r} runs epochs of whole episodes, with "
            "runner.kind='episodes' (--runner episodes, its default)"
        )
    if not planner and runner == "episodes":
        raise ValueError(
            f"runner.kind='episodes' is the planners' runner ({', '.join(PLANNERS)}); "
            f"algo {algo!r} runs with --runner minibatch, async or sync"
        )
    if planner and sampler not in EPISODE_SAMPLER_KINDS:
        raise ValueError(
            f"sampler.kind={sampler!r}: planning runs sample whole episodes with one of "
            f"{', '.join(EPISODE_SAMPLER_KINDS)} (--sampler serial, cpu or ray)"
        )


def _check_async(algo: str) -> None:
    if algo not in OFF_POLICY_ALGOS:
        raise ValueError(
            f"runner.kind='async' trains from a replay buffer, but algo {algo!r} is on-policy: "
            f"use --runner minibatch or sync for {algo}, or an off-policy algorithm for async "
            f"({', '.join(OFF_POLICY_ALGOS)})"
        )


def sampler_class(kind: str, runner_kind: str = "minibatch"):
    """The sampler class of ``sampler.kind``: its asynchronous counterpart for the async and
    actor-learner runners.

    A ``ValueError`` when it cannot be imported (``ray`` without Ray installed).
    """
    module, name = (_ASYNC_SAMPLERS if runner_kind in _ASYNC_RUNNERS else _SAMPLERS)[kind]
    if kind == "ray":
        require_ray()
    try:
        # Import by name.
        return getattr(importlib.import_module(module), name)
    except ImportError as err:
        raise ValueError(
            f"sampler.kind={kind!r} is not available in this installation ({err}); "
            "use 'gpu' or 'cpu'"
        ) from None


def require_ray() -> None:
    """A ``ValueError`` with the install command when Ray is not installed."""
    try:
        import ray  # noqa: F401 - Ray is optional: imported only when asked for
    except ModuleNotFoundError as err:
        if err.name != "ray":  # Ray is there, but broken: its own error says more
            raise
        raise ValueError(
            f"sampler.kind='ray' needs Ray, which is not installed: {RAY_INSTALL} (or choose "
            "--sampler cpu)"
        ) from None


def runner_class(kind: str, evaluate: bool):
    """The runner class of ``runner.kind``; its ``...Eval`` variant for offline evaluation."""
    module, name = _RUNNERS[kind]
    # Import by name.
    return getattr(importlib.import_module(module), name + ("Eval" if evaluate else ""))


def split_cores(cores: list, learners: int) -> list[list]:
    """The cores of each learner: ``cores`` split evenly, in order.

    With fewer cores than learners, each learner gets one core and learners share cores
    (with a warning).
    """
    if learners > len(cores):
        warnings.warn(
            f"runner.learners={learners} is more than the {len(cores)} CPU cores {cores}: "
            "learners share cores",
            stacklevel=3,
        )
    per = max(1, len(cores) // learners)
    return [[cores[(r * per + i) % len(cores)] for i in range(per)] for r in range(learners)]


def ray_options(n_workers: int) -> dict:
    """:class:`~rlpyt.samplers.ray.sampler.RaySampler` keywords for ``n_workers`` actors.

    Ray is started by the sampler: a local instance with one CPU per actor (no dashboard),
    or, when ``RAY_ADDRESS`` is set, ``ray.init()`` joins that cluster.
    """
    if os.environ.get("RAY_ADDRESS"):
        init = {}  # connecting to a cluster: ray.init refuses num_cpus
    else:
        init = dict(num_cpus=n_workers, include_dashboard=False, log_to_driver=False)
    return dict(n_workers=n_workers, ray_init_kwargs=init)
