"""What every run script shares: one named config, one training run, one log directory.

The launcher (``python -m experiments.run``, :mod:`experiments.launching`) starts a run
script, in the original's train-script shape, as::

    python -m experiments.scripts.<family>.train.<kind> SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]

after saving the run's variant (its game or env, ...) in ``LOG_DIR/variant_config.json``. The
script calls :func:`main` with its kind, whose components are the :class:`TrainSpec`
``TRAIN[kind]`` of :mod:`experiments.train_specs`; :func:`main`

1. decodes the affinity code into the run's cores and GPU (``slot_affinity``: right also in a
   process the launcher pinned to its slot); with pinning off in the code (``0saf``) neither
   the training process nor the sampler's workers are pinned;
2. takes ``configs[CONFIG_KEY]``, cut down by the family's ``tiny`` with ``--tiny``, and
   merges the variant into it (``update_config``: a key the config lacks is an error);
3. resumes from ``LOG_DIR/run_RUN_ID`` when it holds a snapshot of an earlier, interrupted
   attempt (``resume_point``), else starts afresh;
4. builds sampler, agent, algorithm and runner (``MinibatchRlEval`` when the config asks for
   evaluation envs, else ``MinibatchRl``) and trains inside ``logger_context``, which writes
   ``progress.csv``, ``params.json`` (the whole config, plus ``config_key`` and ``tiny``) and
   the latest snapshot, ``params.pkl``, at every log.

A run given a GPU (``cuda_idx``) trains on the CPU, with a warning, where CUDA is missing.
"""

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rlpyt.runners.minibatch_rl import MinibatchRl, MinibatchRlEval
from rlpyt.samplers.collections import TrajInfo
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.launching.exp_launcher import resume_point, slot_affinity
from rlpyt.utils.launching.variant import (
    UnknownConfigKeyError,
    did_you_mean,
    load_variant,
    update_config,
)
from rlpyt.utils.logging.context import logger_context

__all__ = ["TrainSpec", "build_and_train", "main", "SNAPSHOT_MODE"]

# Every run keeps its latest snapshot, so an interrupted run resumes where it logged last.
SNAPSHOT_MODE = "last"


@dataclass(frozen=True)
class TrainSpec:
    """The components of one kind of run; the config supplies their settings.

    Args:
        configs: the family's named configs (``experiments.configs.<family>.configs``).
        tiny: the family's ``tiny(config)``.
        EnvCls: builds an env from ``config["env"]`` (``AtariEnv``, ``gym_make``).
        AgentCls, AlgoCls: built with ``config["agent"]`` plus ``model_kwargs=config["model"]``
            and ``config["algo"]`` plus ``optim_kwargs=config["optim"]``.
        SamplerCls: built with ``config["sampler"]``; ``CollectorCls`` is its collector
            (``None``: the sampler's default).
        TrajInfoCls: the per-episode record (``AtariTrajInfo`` adds the unclipped game score).
        env_name_key: the env keyword that names the env (``"game"``, ``"id"``): it is copied
            into ``config["eval_env"]`` (a variant sets only ``env``) and names the run.
    """

    configs: Mapping[str, dict]
    tiny: Callable[[dict], dict]
    EnvCls: Callable
    AgentCls: type
    AlgoCls: type
    SamplerCls: type = SerialSampler
    CollectorCls: type | None = None
    TrajInfoCls: type = TrajInfo
    env_name_key: str = "id"

    def config(self, config_key: str, tiny: bool = False) -> dict:
        """``configs[config_key]`` (cut down by ``tiny`` if asked); an unknown key is an error."""
        if config_key not in self.configs:
            hint = did_you_mean(config_key, self.configs)
            raise UnknownConfigKeyError(
                f"unknown config key {config_key!r}{'; ' + hint if hint else ''} "
                f"(this script's configs: {', '.join(self.configs)})"
            )
        config = self.configs[config_key]
        return self.tiny(config) if tiny else update_config(config, {})


def _single_run_affinity(slot_affinity_code: str) -> dict:
    """The runner's affinity dict; without pinning (``set_affinity`` false) no CPU list."""
    affinity = slot_affinity(slot_affinity_code)
    if not isinstance(affinity, dict) or "optimizer" in affinity:
        raise ValueError(
            f"affinity code {slot_affinity_code!r} describes a multi-GPU (gpu_per_run > 1) or "
            "asynchronous (async_sample) run; these run scripts train one synchronous process: "
            "encode the affinity without gpu_per_run and async_sample"
        )
    affinity = dict(affinity)
    if not affinity.get("set_affinity", True):
        affinity.pop("master_cpus", None)  # the runner pins itself to these when present
    return affinity


def build_and_train(
    spec: TrainSpec,
    slot_affinity_code: str,
    log_dir: str,
    run_ID: int,
    config_key: str,
    tiny: bool = False,
):
    """Build the run described by the arguments (see the module docstring) and train it."""
    affinity = _single_run_affinity(slot_affinity_code)
    config = update_config(spec.config(config_key, tiny), load_variant(log_dir))
    env_name = config["env"][spec.env_name_key]
    if "eval_env" in config:
        config["eval_env"][spec.env_name_key] = env_name
    resume_from = resume_point(log_dir, run_ID)

    sampler_kwargs = dict(config["sampler"])
    if spec.CollectorCls is not None:
        sampler_kwargs["CollectorCls"] = spec.CollectorCls
    sampler = spec.SamplerCls(
        EnvCls=spec.EnvCls,
        env_kwargs=config["env"],
        eval_env_kwargs=config.get("eval_env"),
        TrajInfoCls=spec.TrajInfoCls,
        **sampler_kwargs,
    )
    algo = spec.AlgoCls(optim_kwargs=config["optim"], **config["algo"])
    agent = spec.AgentCls(model_kwargs=config["model"], **config["agent"])
    RunnerCls = MinibatchRlEval if config["sampler"].get("eval_n_envs") else MinibatchRl
    runner = RunnerCls(
        algo=algo,
        agent=agent,
        sampler=sampler,
        affinity=affinity,
        resume_from=resume_from,
        progress_bar=False,  # the launcher collects the output of many runs
        **config["runner"],
    )
    log_params = dict(config, config_key=config_key, tiny=tiny)
    with logger_context(
        log_dir,
        run_ID,
        f"{config_key}_{env_name}",
        log_params=log_params,
        snapshot_mode=SNAPSHOT_MODE,
        resume=resume_from is not None,
    ):
        runner.train()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="One training run, as started by python -m experiments.run."
    )
    parser.add_argument("slot_affinity_code", help="the run's affinity code, with its run slot")
    parser.add_argument("log_dir", help="the run's setting directory (holds variant_config.json)")
    parser.add_argument(
        "run_ID", type=int, help="the run's number: it logs into LOG_DIR/run_RUN_ID"
    )
    parser.add_argument("config_key", help="the name of the config to train with")
    parser.add_argument(
        "--tiny", action="store_true", help="cut the config down to a run of seconds (CI)"
    )
    return parser


def main(kind: str, argv=None) -> None:
    """Parse ``argv`` (default ``sys.argv[1:]``) and :func:`build_and_train` the run kind
    ``kind`` of :data:`experiments.train_specs.TRAIN`."""
    from experiments.train_specs import TRAIN  # the table imports this module

    spec = TRAIN[kind]
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    build_and_train(
        spec, args.slot_affinity_code, args.log_dir, args.run_ID, args.config_key, args.tiny
    )
