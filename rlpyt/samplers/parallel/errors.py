"""Errors raised by the parallel samplers, always naming the worker (and env)."""

import signal

__all__ = ["WorkerError", "EnvFault", "error_message", "death_message", "describe_itr"]


class WorkerError(RuntimeError):
    """A sampler worker failed: it raised, died, or did not answer in time.

    The message names the worker rank and pid, the env (index and class) when
    one was at fault, the iteration, and carries the worker's traceback. By the
    time it is raised the sampler has stopped every worker and freed its
    shared memory.
    """


class EnvFault(Exception):
    """Raised inside a worker by an env guard: which env, doing what, at which step."""

    def __init__(self, env_index: int, env_name: str, what: str, step: int, detail: str = ""):
        self.env_index = env_index
        self.env_name = env_name
        self.what = what
        self.step = step
        self.detail = detail
        super().__init__(f"env {env_index} ({env_name}) {what} at its step {step}{detail}")


def describe_itr(itr, what: str) -> str:
    """``itr 5`` for sampling, ``evaluation at itr 5``, or ``start-up``."""
    if itr is None:
        return what
    if isinstance(itr, tuple):  # GPU sampler steps: (t, itr)
        itr = itr[1]
    return f"itr {itr}" if what == "collect" else f"{what} at itr {itr}"


def error_message(w: int, pid: int, itr, what: str, error: dict) -> str:
    """E.g. ``worker 1 (pid 4242), env 3 (PongEnv), itr 5: ValueError: boom``, then the traceback.

    ``error`` is what the worker sent (see ``rlpyt.samplers.parallel.worker``).
    """
    head = f"worker {w} (pid {pid})"
    if error["env"]:
        head += f", {error['env']}"
    if itr is None:
        head += f", during {what}"
        if error["where"]:
            head += f" ({error['where']})"
    else:
        head += f", {describe_itr(itr, what)}"
    return f"{head}: {error['what']}\n\nworker traceback:\n{error['traceback']}"


def death_message(w: int, pid: int, exitcode, itr, what: str) -> str:
    """E.g. ``worker 1 (pid 4242) died with signal SIGSEGV during itr 5``."""
    if exitcode is not None and exitcode < 0:
        try:
            how = f"died with signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"died with signal {-exitcode}"
    else:
        how = f"exited with code {exitcode}"
    return f"worker {w} (pid {pid}) {how} during {describe_itr(itr, what)}"
