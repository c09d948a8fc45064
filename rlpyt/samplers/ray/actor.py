"""The Ray sampler's worker: a Ray actor that steps its envs with its own CPU agent.

An actor is the Ray counterpart of a :mod:`rlpyt.samplers.parallel.worker` process.
It builds its envs with the same seeds (``derive_seed(seed, "env", r)`` for env
rank ``r``), steps them with the same collector classes into its own local
``[T, B_w]`` buffer, and returns that buffer (numpy) with the trajectories that
ended; the master copies it into the sampler's ``[T, B]`` buffer.

Every method answers ``(status, incarnation, payload)``: ``status`` is ``"ok"`` or
``"error"`` (then ``payload`` is a summary that names the env at fault and carries the
traceback, as a worker process sends), so the master can raise a
:class:`~rlpyt.samplers.parallel.errors.WorkerError` naming the actor and env.
``incarnation`` is ``(pid, random token)`` of this actor's life: it changes when Ray
restarts the actor, which is how the master notices a restart that happened between
two calls. Set-up runs in ``__init__`` and any failure there is
kept and reported by :meth:`SamplerActor.start`: Ray re-runs ``__init__`` when it
restarts a dead actor, so a restarted actor is ready without further commands.

Weights arrive as a dict of tensors (see :func:`~rlpyt.samplers.ray.weights.acting_tensors`)
together with a version number; an actor loads them only when the version is newer
than its own.
"""

import os
import secrets
from dataclasses import dataclass
from typing import Any

import torch

from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.parallel.worker import describe_error, make_envs
from rlpyt.samplers.ray.weights import acting_tensors, load_acting_tensors

__all__ = ["ActorSpec", "SamplerActor", "acting_tensors", "load_acting_tensors"]


@dataclass
class ActorSpec:
    """Everything one actor needs to build its envs, buffer and collectors."""

    rank: int
    env_ranks: list
    EnvCls: Any
    env_kwargs: dict
    batch_spec: Any  # the actor's own BatchSpec(T, B_w)
    examples: dict  # one env step and one agent step, to allocate the buffer from
    bootstrap_value: bool
    final_observation: bool
    CollectorCls: Any
    traj_info_factory: Any  # TrajInfoFactory: the sampler's TrajInfoCls and traj_info_kwargs
    global_B: int
    seed: int
    max_decorrelation_steps: int
    nan_check: str
    eval_env_kwargs: dict | None = None
    eval_env_ranks: list | None = None
    eval_CollectorCls: Any = None
    eval_max_T: int | None = None
    eval_max_trajectories: int | None = None


class SamplerActor:
    """One Ray actor: envs ``spec.env_ranks`` (and eval envs), stepped by its agent copy.

    Args:
        spec: the :class:`ActorSpec`.
        agent: a copy of the master's initialized agent (Ray passes it through the
            object store, so each actor unpickles its own).
    """

    def __init__(self, spec: ActorSpec, agent):
        self.spec = spec
        self.agent = agent
        self.version = 0  # the weights version loaded (0: those the agent came with)
        self.collector = self.eval_collector = None
        self._setup_error = None
        self.incarnation = (os.getpid(), secrets.token_hex(8))
        torch.set_num_threads(1)
        try:
            self._build()
        except BaseException as err:  # noqa: BLE001 - reported by start()
            self._setup_error = describe_error(err, env_kwargs=spec.env_kwargs)

    def _build(self):
        spec = self.spec
        envs = make_envs(spec, spec.env_ranks, spec.env_kwargs, "env")
        _, self.samples_np, _ = build_samples_buffer(
            self.agent,
            None,
            spec.batch_spec,
            spec.bootstrap_value,
            agent_shared=False,
            env_shared=False,
            examples=dict(spec.examples),
            final_observation=spec.final_observation,
        )
        self.collector = spec.CollectorCls(
            rank=spec.rank,
            envs=envs,
            samples_np=self.samples_np,
            batch_T=spec.batch_spec.T,
            TrajInfoCls=spec.traj_info_factory,
            agent=self.agent,
            global_B=spec.global_B,
            env_ranks=spec.env_ranks,
            seed=spec.seed,
        )
        if spec.eval_env_ranks:
            eval_envs = make_envs(spec, spec.eval_env_ranks, spec.eval_env_kwargs, "eval_env")
            self.eval_collector = spec.eval_CollectorCls(
                rank=spec.rank,
                envs=eval_envs,
                TrajInfoCls=spec.traj_info_factory,
                max_T=spec.eval_max_T,
                agent=self.agent,
                max_trajectories=spec.eval_max_trajectories,
            )
        self.agent_inputs, self.traj_infos = self.collector.start_envs(spec.max_decorrelation_steps)
        self.collector.start_agent()

    # -- commands (each answers (status, incarnation, payload)) ---------------------------

    def start(self):
        """``ok`` once the envs are built and decorrelated, or the set-up error."""
        if self._setup_error is not None:
            return "error", self.incarnation, self._setup_error
        return "ok", self.incarnation, None

    def collect(self, itr, version, tensors):
        """One batch; payload ``(samples_np [T, B_w], completed traj_infos)``."""
        try:
            self._load(version, tensors)
            self.agent.sample_mode(itr)
            self.collector.reset_if_needed(self.agent_inputs)
            self.agent_inputs, self.traj_infos, completed = self.collector.collect_batch(
                self.agent_inputs, self.traj_infos, itr
            )
        except BaseException as err:  # noqa: BLE001 - reported to the master
            return "error", self.incarnation, describe_error(err)
        return "ok", self.incarnation, (self.samples_np, completed)

    def evaluate(self, itr, version, tensors):
        """Evaluation episodes; payload ``(traj_infos, n_unfinished)``."""
        try:
            self._load(version, tensors)
            infos = self.eval_collector.collect_evaluation(itr)
        except BaseException as err:  # noqa: BLE001 - reported to the master
            return "error", self.incarnation, describe_error(err)
        return "ok", self.incarnation, (infos, self.eval_collector.n_unfinished)

    def close(self):
        """Close the envs (best effort); the master kills the actor after."""
        envs = []
        if self.collector is not None:
            envs += self.collector.envs
        if self.eval_collector is not None:
            envs += self.eval_collector.envs
        for env in envs:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - closing is best effort at shutdown
                pass
        return "ok", self.incarnation, None

    def _load(self, version, tensors):
        if tensors is not None and version > self.version:
            load_acting_tensors(self.agent, tensors)
            self.version = version
