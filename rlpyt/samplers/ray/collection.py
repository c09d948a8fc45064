"""The Ray scheme's collection worker: envs stepped by a policy copy, one rollout per call.

A :class:`CollectionWorker` holds ``B_w`` envs (built and seeded as a
:class:`~rlpyt.samplers.ray.actor.SamplerActor` builds them: env rank ``r`` gets
``derive_seed(seed, "env", r)``) and a CPU copy of the agent. Each
:meth:`CollectionWorker.collect` call loads newer weights if given, steps the envs for
``T`` steps and returns a :class:`Rollout`: the ``[T, B_w]`` samples (numpy), how many
time steps are valid, and the weights version every step was collected with (the
behaviour policy's).

**Where the envs run.** ``env_processes = 0``: in this process, stepped in turn by
:class:`~rlpyt.samplers.parallel.cpu.collectors.CpuResetCollector`. ``env_processes = k``:
in ``k`` env processes of this worker that step them in parallel while the policy is
evaluated here, once per time step for all ``B_w`` envs
(:class:`~rlpyt.samplers.ray.env_processes.EnvProcesses`); the samples are the same.

**Pre-emption** (straggler mitigation of synchronous collection). A call made with
``min_steps < T`` may end early: once it holds ``min_steps`` steps it stops as soon as
:meth:`CollectionWorker.preempt` has been called for its round. The Ray actor runs
two threads (``max_concurrency=2``) so that ``preempt`` is served while ``collect``
runs; ``collect`` reads the flag after every step (an attribute read). The shortened
rollout's ``bootstrap_value`` is the value of the observation after its last valid step.

The same class runs in the driver process, without Ray, in the scheme's debug mode.
Weights arrive boxed (``[ref]`` or ``[state_dict]``) so that Ray does not resolve the
object-store reference for a worker that already holds that version.
"""

import os
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import torch

from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.parallel.cpu.collectors import CpuResetCollector
from rlpyt.samplers.parallel.worker import make_envs
from rlpyt.samplers.ray.env_processes import EnvProcesses

__all__ = [
    "CollectionSpec",
    "CollectionWorker",
    "Rollout",
    "box_weights",
    "unbox_weights",
    "weights_id",
]


@dataclass
class CollectionSpec:
    """Everything one collection worker needs to build its envs and buffer."""

    rank: int  # among all collection workers of the run
    env_ranks: list  # global ranks of its envs (their seeds)
    EnvCls: Any
    env_kwargs: dict
    batch_spec: Any  # BatchSpec(T, B_w)
    examples: dict  # one env step and one agent step, to allocate the buffer from
    traj_info_factory: Any
    global_B: int
    seed: int
    max_decorrelation_steps: int
    nan_check: str = "raise"
    env_processes: int = 0  # 0: envs in this process; k: in k env processes
    env_start_method: str = "fork"  # of the env processes
    env_step_timeout: float = 60.0  # seconds the env processes may take for one step
    startup_timeout: float = 120.0  # seconds for the env processes to start


@dataclass
class Rollout:
    """One collection call's result.

    ``samples``: numpy ``Samples`` of leading dims ``[T, B_w]``, valid up to ``n_steps``
    (later rows are left over from an earlier rollout); ``version``: the weights version
    every step was collected with; ``traj_infos``: trajectories that ended;
    ``rank``/``pid``/``incarnation``: which worker life collected it; ``weights_id``:
    which published weights object the worker's weights came from (:func:`weights_id`;
    None: those it started with).
    """

    rank: int
    samples: Any
    n_steps: int
    version: int
    traj_infos: list
    pid: int
    incarnation: str
    weights_id: str | None = None


def box_weights(agent, remote: bool) -> list:
    """The agent's weights as a box for the workers: ``[ray.put(state)]`` (one object in
    the object store, passed on by reference) or ``[state]`` (in-process); ``state`` is a
    CPU copy of ``agent.state_dict()``."""
    state = {k: v.detach().cpu().clone() for k, v in agent.state_dict().items()}
    if not remote:
        return [state]
    import ray

    return [ray.put(state)]


def weights_id(box) -> str:
    """Which weights object a box holds: the object-store id of ``[ObjectRef]``, or
    ``local-<id>`` of an in-process ``[state_dict]`` (one per published version)."""
    (item,) = box
    if isinstance(item, dict):
        return f"local-{id(item)}"
    return item.hex()


def unbox_weights(box):
    """The state dict in a weights box: ``[ObjectRef]`` (fetched from the object store)
    or ``[state_dict]`` (in-process)."""
    (item,) = box
    if isinstance(item, dict):
        return item
    import ray

    return ray.get(item)


class CollectionWorker:
    """One collection worker (a Ray actor, or an object in the driver in debug mode).

    Args:
        spec: the :class:`CollectionSpec`.
        agent: an initialized CPU agent (each worker unpickles its own copy).
    """

    def __init__(self, spec: CollectionSpec, agent):
        torch.set_num_threads(1)
        self.spec = spec
        self.agent = agent
        self.version = 0  # the weights version loaded (0: those the agent came with)
        self.weights_id = None  # the published weights object loaded (None: the agent's own)
        self.incarnation = secrets.token_hex(8)  # changes when Ray restarts the actor
        self._preempted_round = -1
        self._lock = threading.Lock()
        self.collector = self.env_processes = None
        if spec.env_processes:
            self.env_processes = EnvProcesses(spec, agent)
            self.samples_np = self.env_processes.samples_np
            return
        envs = make_envs(spec, spec.env_ranks, spec.env_kwargs, "env")
        _, self.samples_np, _ = build_samples_buffer(
            agent,
            None,
            spec.batch_spec,
            bootstrap_value=True,
            agent_shared=False,
            env_shared=False,
            examples=dict(spec.examples),
        )
        self.collector = CpuResetCollector(
            rank=spec.rank,
            envs=envs,
            samples_np=self.samples_np,
            batch_T=spec.batch_spec.T,
            TrajInfoCls=spec.traj_info_factory,
            agent=agent,
            global_B=spec.global_B,
            env_ranks=spec.env_ranks,
            seed=spec.seed,
        )
        self.agent_inputs, self.traj_infos = self.collector.start_envs(spec.max_decorrelation_steps)
        self.collector.start_agent()

    def start(self) -> tuple:
        """``(pid, incarnation, env process pids)`` once the envs are built (a set-up error
        raises here)."""
        env_pids = self.env_processes.pids if self.env_processes is not None else []
        return os.getpid(), self.incarnation, env_pids

    def collect(self, round_id: int, version: int, weights_box, min_steps: int) -> Rollout:
        """One rollout of up to ``T`` steps, with weights ``version`` (loaded if newer).

        ``min_steps < T`` allows pre-emption of round ``round_id`` after that many steps.
        """
        if weights_box is not None and version > self.version:
            self.agent.load_state_dict(unbox_weights(weights_box))
            self.version, self.weights_id = version, weights_id(weights_box)
        self.agent.sample_mode(round_id)
        should_stop = None
        if min_steps < self.spec.batch_spec.T:

            def should_stop(n_steps):
                return n_steps >= min_steps and self._preempted_round >= round_id

        if self.env_processes is None:
            self.agent_inputs, self.traj_infos, completed = self.collector.collect_batch(
                self.agent_inputs, self.traj_infos, round_id, should_stop=should_stop
            )
            samples, n_steps = self.samples_np, self.collector.n_steps
        else:
            completed = self.env_processes.collect(round_id, should_stop=should_stop)
            samples, n_steps = self.env_processes.samples_copy(), self.env_processes.n_steps
        return Rollout(
            rank=self.spec.rank,
            samples=samples,
            n_steps=n_steps,
            version=self.version,
            traj_infos=completed,
            pid=os.getpid(),
            incarnation=self.incarnation,
            weights_id=self.weights_id,
        )

    def preempt(self, round_id: int) -> None:
        """Ask the rollout of round ``round_id`` (running or to come) to end early."""
        with self._lock:
            self._preempted_round = max(self._preempted_round, round_id)

    def close(self) -> None:
        """Stop the env processes, or close the envs (best effort); the driver kills the
        actor after."""
        if self.env_processes is not None:
            self.env_processes.shutdown()
            return
        for env in self.collector.envs:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - closing is best effort at shutdown
                pass
