"""Calling the Ray scheme's workers, remote (Ray actors) or in this process (debug mode).

A worker *handle* is a Ray actor handle or the worker object itself. :func:`submit`
starts a method call and returns a reference: a Ray ``ObjectRef``, or a
:class:`LocalCall` that has already run. :func:`wait_first` and :func:`fetch` accept
both, so the scheme's code is the same with and without Ray. :func:`fetch` turns
every failure into a :class:`~rlpyt.samplers.parallel.errors.WorkerError` naming the
worker (``who``), with its traceback when it raised (:class:`WorkerDied` when it died).
"""

import time

from rlpyt.samplers.parallel.errors import WorkerError

__all__ = [
    "WorkerDied",
    "LocalCall",
    "submit",
    "wait_first",
    "fetch",
    "fetch_within",
    "is_remote",
    "kill",
]


class WorkerDied(WorkerError):
    """A Ray actor died (its process killed, its node lost)."""


class LocalCall:
    """A method call run at once in this process: its value, or the exception it raised."""

    def __init__(self, method, args):
        self.value = self.error = None
        try:
            self.value = method(*args)
        except Exception as err:  # noqa: BLE001 - re-raised by fetch, named
            self.error = err


def is_remote(handle) -> bool:
    """Whether ``handle`` is a Ray actor handle (else: the worker object itself)."""
    return type(handle).__name__ == "ActorHandle"


def submit(handle, method: str, *args):
    """Call ``handle.method(*args)``; a reference for :func:`wait_first` / :func:`fetch`."""
    # The worker's own method, by name (ActorHandle or object).
    if is_remote(handle):
        return getattr(handle, method).remote(*args)
    return LocalCall(getattr(handle, method), args)


def wait_first(refs, timeout: float):
    """The first of ``refs`` that is done, or None after ``timeout`` seconds."""
    refs = list(refs)
    for ref in refs:
        if isinstance(ref, LocalCall):
            return ref
    import ray

    ready, _ = ray.wait(refs, num_returns=1, timeout=max(0.0, timeout))
    return ready[0] if ready else None


def fetch(ref, who: str, timeout: float = 0.0):
    """The value of a finished call; raises :class:`WorkerError` naming ``who``."""
    if isinstance(ref, LocalCall):
        if ref.error is not None:
            raise WorkerError(f"{who} raised {type(ref.error).__name__}: {ref.error}") from (
                ref.error
            )
        return ref.value
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

    from rlpyt.samplers.ray.pool import ray_cause

    try:
        return ray.get(ref, timeout=timeout)
    except GetTimeoutError:
        raise WorkerError(f"{who} did not answer within {timeout} s (a step hung?)") from None
    except RayActorError as err:
        raise WorkerDied(f"{who} died: {ray_cause(err)}") from err
    except RayTaskError as err:
        cause = getattr(err, "cause", None)  # the worker's exception, when Ray kept it
        if isinstance(cause, WorkerError):  # already names the worker at fault
            raise WorkerError(f"{who} raised {type(cause).__name__}: {cause}") from None
        # Ray's message of a task error is the worker's traceback.
        raise WorkerError(f"{who} raised an error; its traceback:\n{err}") from None


def fetch_within(ref, who: str, timeout: float):
    """Wait up to ``timeout`` s for ``ref``, then :func:`fetch` it."""
    if wait_first([ref], timeout) is None:
        raise WorkerError(f"{who} did not answer within {timeout} s")
    return fetch(ref, who)


def kill(handles, close_timeout: float = 2.0) -> None:
    """Ask the Ray actors among ``handles`` to close (``close_timeout`` s), then kill them."""
    remote = [h for h in handles if is_remote(h)]
    local = [h for h in handles if not is_remote(h)]
    for worker in local:
        worker.close()
    if not remote:
        return
    import ray

    if not ray.is_initialized():
        return
    closing = [h.close.remote() for h in remote]
    deadline = time.monotonic() + close_timeout
    ray.wait(closing, num_returns=len(closing), timeout=max(0.0, deadline - time.monotonic()))
    for handle in remote:
        try:
            ray.kill(handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already dead or Ray gone: nothing to kill
            pass
