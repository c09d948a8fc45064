"""Errors raised by the parallel samplers, always naming the worker (and env)."""

__all__ = ["WorkerError", "EnvFault"]


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
