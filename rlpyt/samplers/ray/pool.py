"""The Ray sampler's actors: starting them, calling them, restarting the dead, killing them.

:class:`ActorPool` calls a method on several actors at once and waits for their
answers (``(status, incarnation, payload)``, see :mod:`rlpyt.samplers.ray.actor`).
An actor whose call fails because it died, or that answers as a new incarnation
(Ray restarted it between two calls), is restarted while the pool has restarts
left (``max_restarts`` over its life): its answer is dropped and the call made
again on the restarted actor, which starts from scratch. Every other failure (an
actor's error, a death past the limit, a timeout) raises a
:class:`~rlpyt.samplers.parallel.errors.WorkerError`; the caller shuts the pool down.
"""

import time
import warnings

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

from rlpyt.samplers.parallel.errors import WorkerError, describe_itr, error_message

__all__ = ["ActorPool", "ray_cause"]

_RESTARTED = object()  # an answer dropped because its actor was restarted


class ActorPool:
    """Ray actors of :class:`~rlpyt.samplers.ray.actor.SamplerActor`, one per env group.

    Args:
        env_groups: the sampler's env indices of each actor (named in error messages).
        max_restarts: actor deaths survived in all by restarting the actor.
        startup_timeout: seconds for an actor to start (or restart).
    """

    def __init__(self, *, env_groups: list, max_restarts: int, startup_timeout: float):
        self.env_groups = env_groups
        self.max_restarts = max_restarts
        self.startup_timeout = startup_timeout
        self.actors = []
        self.incarnations = []  # (pid, token) of each actor's current life
        self.sent_version = []  # the weights version each actor holds
        self.n_restarts = 0

    def start(self, remote_cls, options: dict, specs: list, agent_ref) -> None:
        """Create one actor per spec (``agent_ref``: their agent copy) and wait until all started."""
        for spec in specs:
            self.actors.append(remote_cls.options(**options).remote(spec, agent_ref))
            self.incarnations.append(None)
            self.sent_version.append(0)
        self.call("start", None, self.startup_timeout, "start-up")

    @property
    def pids(self) -> list:
        """The process id of each actor (None before it started)."""
        return [None if i is None else i[0] for i in self.incarnations]

    def call(self, method, itr, timeout, what, actors=None, weights=None) -> list:
        """Call ``method`` on ``actors`` (all by default); their payloads, in order.

        ``collect`` and ``evaluate`` calls carry ``weights`` (a
        :class:`~rlpyt.samplers.ray.weights.WeightsBroadcast`) to actors holding an
        older version.
        """
        actors = list(range(len(self.actors))) if actors is None else list(actors)
        pending = {self._submit(w, method, itr, weights): w for w in actors}
        results = {}
        deadline = time.monotonic() + timeout
        while pending:
            remaining = max(0.0, deadline - time.monotonic())
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=remaining)
            if not ready:
                w = min(pending.values())
                limit = "startup_timeout" if itr is None else "batch_timeout"
                raise WorkerError(
                    f"Ray actor {w} ({self._pid(w)}) did not finish "
                    f"{describe_itr(itr, what)} within {limit}={timeout} s (an env step hung?)"
                )
            w = pending.pop(ready[0])
            answer = self._answer(w, ready[0], method, itr, what)
            if answer is _RESTARTED:  # ask the new incarnation again
                pending[self._submit(w, method, itr, weights)] = w
                deadline = max(deadline, time.monotonic() + self.startup_timeout)
            else:
                results[w] = answer
        return [results[w] for w in actors]

    def kill(self) -> None:
        """Ask each actor to close its envs (2 s at most), then kill it (no restart)."""
        if self.actors and ray.is_initialized():
            closing = [actor.close.remote() for actor in self.actors]
            ray.wait(closing, num_returns=len(closing), timeout=2.0)
            for actor in self.actors:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # noqa: BLE001 - already dead or Ray gone: nothing to kill
                    pass
        self.actors = []

    def _submit(self, w, method, itr, weights):
        actor = self.actors[w]
        if method == "start":
            return actor.start.remote()
        tensors = None
        if self.sent_version[w] < weights.version:
            tensors = weights.ref  # resolved by Ray before the call
            self.sent_version[w] = weights.version
        # A SamplerActor method, by name.
        return getattr(actor, method).remote(itr, weights.version, tensors)

    def _answer(self, w, ref, method, itr, what):
        """Actor ``w``'s payload, or ``_RESTARTED`` (the call must be made again)."""
        try:
            status, incarnation, payload = ray.get(ref)
        except RayActorError as err:
            self._restart(w, itr, what, err)
            return _RESTARTED
        if method != "start" and incarnation != self.incarnations[w]:
            # Died and restarted by Ray between two calls: this answer came from fresh
            # envs with the initial weights; drop it.
            self._restart(w, itr, what, None, incarnation)
            return _RESTARTED
        self.incarnations[w] = incarnation
        if status == "error":
            raise WorkerError(self._error_message(w, itr, what, payload))
        return payload

    def _restart(self, w, itr, what, err, incarnation=None):
        """Actor ``w`` died: an error, or (within ``max_restarts``) use its restarted self."""
        if self.n_restarts >= self.max_restarts:
            raise WorkerError(self._death(w, itr, what, err))
        self.n_restarts += 1
        old = self._pid(w)
        if incarnation is None:  # wait for Ray to bring it back
            status, incarnation, payload = self._wait_restarted(w, itr, what, old)
            self.incarnations[w] = incarnation
            if status == "error":
                raise WorkerError(self._error_message(w, itr, "restart", payload))
        self.incarnations[w] = incarnation
        self.sent_version[w] = 0  # the restarted actor holds the initial weights again
        warnings.warn(
            f"Ray actor {w} ({old}) died before or during {describe_itr(itr, what)}: "
            f"restarted as {self._pid(w)} (restart {self.n_restarts} of "
            f"max_restarts={self.max_restarts}); its partial batch was dropped and its envs "
            "start over",
            stacklevel=6,  # _answer, call, RaySampler._call, obtain_samples: the caller
        )

    def _wait_restarted(self, w, itr, what, old):
        """The restarted actor's answer to ``start`` (unavailable while Ray restarts it)."""
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                return ray.get(self.actors[w].start.remote(), timeout=max(0.1, remaining))
            except ActorUnavailableError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                err = "still restarting after startup_timeout"
            except (RayActorError, GetTimeoutError) as exc:
                err = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            raise WorkerError(
                f"Ray actor {w} ({old}) died during {describe_itr(itr, what)} and could "
                f"not be restarted ({err})"
            )

    def _pid(self, w):
        incarnation = self.incarnations[w] if w < len(self.incarnations) else None
        return "pid unknown" if incarnation is None else f"pid {incarnation[0]}"

    def _error_message(self, w, itr, what, payload):
        """As a worker process's error (env, iteration, traceback), naming the Ray actor."""
        message = error_message(w, self.pids[w], itr, what, payload)
        return "Ray actor" + message[len("worker") :]

    def _death(self, w, itr, what, err):
        cause = "restarted by Ray" if err is None else ray_cause(err)
        limit = (
            f"max_restarts={self.max_restarts} used up"
            if self.max_restarts
            else "max_restarts=0: set it to restart dead actors"
        )
        return (
            f"Ray actor {w} ({self._pid(w)}, envs {self.env_groups[w]}) died during "
            f"{describe_itr(itr, what)} ({limit}): {cause}"
        )


def ray_cause(err) -> str:
    """Ray's many-line actor error in short: its first line and its root cause."""
    lines = [line.strip() for line in str(err).strip().splitlines()]
    lines = [line for line in lines if line and set(line) - set("^~ ")]
    cause = f"{type(err).__name__}: {lines[0] if lines else ''}"
    if len(lines) > 1 and lines[-1] != lines[0]:
        cause += f" ... {lines[-1]}"
    if "ModuleNotFoundError" in cause or "could not be computed" in cause:
        cause += (
            " (the actor could not unpickle its env, agent or collector: are their modules "
            "importable on the Ray workers? Install them there, or pass runtime_env to ray.init)"
        )
    return cause
