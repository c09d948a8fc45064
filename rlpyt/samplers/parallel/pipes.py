"""Worker processes that each serve a master's commands over one duplex pipe.

Both ends of the protocol of the whole-episode and meta samplers
(:class:`~rlpyt.samplers.episodes.CpuEpisodeSampler`,
:class:`~rlpyt.samplers.meta.MetaCpuSampler`):

* in a worker, :func:`serve_pipe` builds the worker's server object (its envs and agent
  copy), answers ``("ok", None)`` or ``("error", summary)``, then answers every
  ``(command, argument)`` with ``("ok", payload)`` or ``("error", summary)`` until
  ``"close"``; it ignores SIGINT (the master stops it) and exits when its master is gone
  (pipe EOF, or the master's pid exited);
* in the master, :class:`PipeWorkers` starts the processes, sends commands and gathers one
  answer per worker, waiting on all pipes *and* all process sentinels with a deadline: a
  worker that raises, dies or hangs becomes a
  :class:`~rlpyt.samplers.parallel.errors.WorkerError` naming it (with its traceback),
  raised after every worker was stopped.
"""

import signal
import time
from multiprocessing.connection import wait

import torch

from rlpyt.samplers.parallel.errors import WorkerError, death_message, describe_itr, error_message
from rlpyt.samplers.parallel.worker import (
    describe_error,
    master_gone,
    send_message,
    set_cpu_affinity,
    start_pipe_worker,
)

__all__ = ["PipeWorkers", "PipeWorkersOwner", "cpu_list", "serve_pipe", "START_METHODS"]

START_METHODS = ("fork", "spawn", "forkserver")


def serve_pipe(conn, master_pid, inherited, cpus, build, serve, env_kwargs=None) -> None:
    """The body of a pipe worker (module docstring).

    ``build()`` makes the server (its errors are reported naming ``env_kwargs``);
    ``serve(server, command, argument)`` answers one command; ``server.close()`` runs
    at ``"close"``.
    """
    for other in inherited:  # the master's pipe ends a forked worker inherited
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    torch.set_num_threads(1)
    set_cpu_affinity(cpus)
    try:
        server = build()
    except BaseException as err:  # noqa: BLE001 - report anything, then exit
        send_message(conn, ("error", describe_error(err, env_kwargs=env_kwargs)))
        return
    send_message(conn, ("ok", None))
    while True:
        try:
            while not conn.poll(1.0):  # a second without orders: is the master alive?
                if master_gone(master_pid):
                    return
            command, argument = conn.recv()
        except (EOFError, OSError):
            return  # the master is gone: nothing to report to
        if command == "close":
            break
        try:
            payload = serve(server, command, argument)
        except BaseException as err:  # noqa: BLE001
            send_message(conn, ("error", describe_error(err)))
            return
        if not send_message(conn, ("ok", payload)):
            return
    server.close()


class PipeWorkers:
    """The master's side: worker processes, their pipes, commands, answers and shutdown.

    Args:
        owner: the sampler's class name (for "used after shutdown" errors).
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"``.
        labels: what each worker holds, for messages (``"envs [0, 1]"``); one per worker.
    """

    def __init__(self, owner: str, start_method: str, labels: list):
        import multiprocessing as mp

        if start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS}, got {start_method!r}")
        self.owner = owner
        self.start_method = start_method
        self.ctx = mp.get_context(start_method)
        self.labels = list(labels)
        self.processes = []
        self.conns = []
        self.closed = False

    def start(self, target, specs, name: str, startup_timeout: float) -> None:
        """Start ``target(spec, conn, master_pid, inherited)`` per spec, named ``{name}-{w}``,
        and wait for every build (a failure stops them all and raises WorkerError)."""
        try:
            for w, spec in enumerate(specs):
                process, conn = start_pipe_worker(
                    self.ctx, target, spec, f"{name}-{w}", self.start_method, self.conns
                )
                self.processes.append(process)
                self.conns.append(conn)
            self.gather(None, startup_timeout, "start-up")
        except BaseException:
            self.shutdown()
            raise

    def command(self, command: str, arguments: list, itr, timeout: float, what: str = "collect"):
        """Send ``(command, arguments[w])`` to each worker; their payloads, in worker order."""
        self.check_open()
        for conn, argument in zip(self.conns, arguments, strict=True):
            conn.send((command, argument))
        return self.gather(itr, timeout, what)

    def gather(self, itr, timeout: float, what: str) -> list:
        """One answer from each worker, or a WorkerError (raised after shutdown)."""
        results = {}
        pending = dict(enumerate(self.conns))
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                w = min(pending)
                limit = "startup_timeout" if what == "start-up" else "epoch_timeout"
                raise self.fail(
                    f"worker {w} (pid {self.processes[w].pid}, {self.labels[w]}) did "
                    f"not finish {describe_itr(itr, what)} within {limit}={timeout} s"
                )
            ready = wait(
                list(pending.values()) + [self.processes[w].sentinel for w in pending],
                timeout=remaining,
            )
            for w in list(pending):
                conn, process = pending[w], self.processes[w]
                if conn in ready or (process.sentinel in ready and conn.poll()):
                    try:
                        status, payload = conn.recv()
                    except (EOFError, OSError):
                        raise self.fail(self._death(w, itr, what)) from None
                    if status == "error":
                        raise self.fail(error_message(w, process.pid, itr, what, payload))
                    results[w] = payload
                    del pending[w]
                elif process.sentinel in ready:
                    raise self.fail(self._death(w, itr, what))
        return [results[w] for w in range(len(self.conns))]

    def _death(self, w, itr, what):
        process = self.processes[w]
        process.join(timeout=1.0)
        return death_message(w, process.pid, process.exitcode, itr, what)

    def fail(self, message) -> WorkerError:
        """Stop every worker; the WorkerError to raise."""
        self.shutdown()
        return WorkerError(message)

    def check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"{self.owner} used before initialize() or after shutdown()")

    def shutdown(self) -> None:
        """Stop every worker: ask, join (2 s), terminate (1 s), kill, join (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for conn in self.conns:
            try:
                conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for signal_them, grace in ((None, 2.0), ("terminate", 1.0), ("kill", 10.0)):
            alive = [p for p in self.processes if p.is_alive()]
            if signal_them is not None:
                for process in alive:
                    getattr(process, signal_them)()
            deadline = time.monotonic() + grace
            for process in alive:
                process.join(timeout=max(0.0, deadline - time.monotonic()))
        for conn in self.conns:
            conn.close()


class PipeWorkersOwner:
    """Mixin of a sampler whose workers are a :class:`PipeWorkers` in ``self._pool`` (None
    before they start): its ``shutdown``, also run when the sampler is collected."""

    def shutdown(self) -> None:
        """Stop every worker: ask, join (2 s), terminate (1 s), kill, join (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown()

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - interpreter teardown: best effort
            pass


def cpu_list(entry) -> list:
    """A worker's CPUs from an affinity entry: one core (int) or a list of cores."""
    return [entry] if isinstance(entry, int) else list(entry)
