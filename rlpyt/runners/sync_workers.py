"""The worker learners of :class:`~rlpyt.runners.sync_rl.SyncRl` (ranks 1 ... N - 1).

Rank 0 holds a :class:`WorkerLearners`: it spawns the workers, waits until each
runs, watches them, and stops them. Each worker runs :func:`worker_main`.

Faults. A worker that raises reports its traceback through a pipe and exits 1;
one that dies (SIGKILL, OOM) is seen by rank 0's watchdog thread. Either way
the other workers are told to stop and :meth:`WorkerLearners.stop` returns a
:class:`LearnerError` naming the rank that failed first. To stop a worker,
rank 0 closes a second pipe to it: a thread in the worker then shuts its
sampler down and ends the process, even while its main thread is blocked in a
collective (where signals would wait). The same happens when rank 0 dies.
Workers ignore SIGINT; on SIGTERM they shut their sampler down and exit.
"""

import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import traceback

from rlpyt.utils.shared_memory import sweep_stale_shared_memory

__all__ = ["LearnerError", "WorkerLearners", "worker_main"]

# Seconds a worker learner is given to stop by itself before it is terminated, then killed.
JOIN_TIMEOUT = 10.0
# Seconds a stopping worker's main thread is given to finish closing before the process ends.
STOP_GRACE = 2.0


class LearnerError(RuntimeError):
    """A worker learner of :class:`SyncRl` raised or died; the message names its rank."""

    def __init__(self, message, rank=None):
        super().__init__(message)
        self.rank = rank


class WorkerLearners:
    """Rank 0's handle on the worker learners: start, watch, stop.

    Args:
        world_size: number of learners, rank 0 (the calling process) included.
        startup_timeout: seconds every worker has to be running after :meth:`start`.
    """

    def __init__(self, world_size: int, startup_timeout: float):
        self.world_size = world_size
        self.startup_timeout = startup_timeout
        self.pids = []  # of ranks 1..., kept after they end
        self._procs = []
        self._pipes = []  # worker -> rank 0: ("ready",) then maybe ("error", ...)
        self._stop_pipes = []  # closing one tells that worker to stop at once
        self._failed = {}  # rank -> (time, LearnerError)
        self._lock = threading.Lock()
        self._watchdog = None
        self._stop_watchdog = threading.Event()

    def start(self, state: bytes):
        """Spawn ranks 1... with ``state`` (see :func:`worker_main`); return when all run."""
        ctx = multiprocessing.get_context("spawn")
        for rank in range(1, self.world_size):
            reader, writer = ctx.Pipe(duplex=False)
            stop_reader, stop_writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=worker_main,
                args=(state, rank, writer, stop_reader),
                name=f"SyncRl-learner-{rank}",
                daemon=False,  # they start sampler processes of their own
            )
            proc.start()
            writer.close()
            stop_reader.close()
            self._procs.append(proc)
            self._pipes.append(reader)
            self._stop_pipes.append(stop_writer)
            self.pids.append(proc.pid)
        self._wait_ready()
        self._stop_watchdog.clear()
        self._watchdog = threading.Thread(target=self._watch, name="SyncRl-watchdog", daemon=True)
        self._watchdog.start()

    def _wait_ready(self):
        """Wait for every worker to be running (unpickled, its sampler started) before
        the rendezvous, which would otherwise wait its whole timeout for a dead one."""
        pending = set(range(len(self._procs)))
        deadline = time.monotonic() + self.startup_timeout
        while pending:
            if time.monotonic() > deadline:
                raise LearnerError(
                    f"SyncRl: learner ranks {sorted(i + 1 for i in pending)} did not start "
                    f"within {self.startup_timeout} s"
                )
            for i in list(pending):
                if self._pipes[i].poll(0.05):
                    message = self._pipes[i].recv()
                    if message[0] == "error":
                        raise _raised_error(i + 1, message)
                    pending.discard(i)
                elif not self._procs[i].is_alive():
                    raise self._death_error(i)

    def _watch(self):
        """Watchdog thread: a worker that exits during training stops the others."""
        waiting = {p.sentinel: i for i, p in enumerate(self._procs)}
        while waiting and not self._stop_watchdog.is_set():
            ready = multiprocessing.connection.wait(list(waiting), timeout=0.2)
            for sentinel in ready:
                i = waiting.pop(sentinel)
                if self._stop_watchdog.is_set() or self._exit_code(i) == 0:
                    continue
                self._record_failure(i)
                for pipe in self._stop_pipes:  # their collectives would wait for the dead peer
                    pipe.close()

    def _record_failure(self, i):
        """Note worker ``i``'s error report (or its death), once; thread-safe."""
        with self._lock:  # the watchdog thread and the main thread both call it
            if i + 1 in self._failed:
                return
            message = None
            while self._pipes[i].poll():
                try:
                    msg = self._pipes[i].recv()
                except (EOFError, OSError):
                    break
                if msg[0] == "error":
                    message = msg
            error = _raised_error(i + 1, message) if message else self._death_error(i)
            self._failed[i + 1] = (time.time(), error)

    def _death_error(self, i):
        code = self._exit_code(i)
        if code is not None and code < 0:
            try:
                how = f"signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"signal {-code}"
        else:
            how = f"exit code {code}"
        return LearnerError(
            f"SyncRl learner rank {i + 1} (pid {self.pids[i]}) died with {how}", rank=i + 1
        )

    def _exit_code(self, i, wait=2.0):
        """Exit code of worker ``i``, which has ended (its sentinel is ready).

        Its status may not be collectable yet, and when the watchdog thread and the
        main thread both reap it, the one that loses the race reads None until the
        other has stored the code: poll a little.
        """
        proc = self._procs[i]
        deadline = time.monotonic() + wait
        while (code := proc.exitcode) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return code

    def stop(self, finished: bool, leave_group) -> LearnerError | None:
        """Stop every worker (joined, then terminated, then killed); the first failure.

        ``finished``: the last collective is behind every rank, so the workers end by
        themselves. Otherwise they are told to stop and ``leave_group()`` is called
        first (destroying rank 0's group does not fail a worker's pending collective).
        """
        if not finished and self._procs:
            # Which worker failed first: its own report, or its death.
            multiprocessing.connection.wait(
                [p.sentinel for p in self._procs] + self._pipes, timeout=0.5
            )
            for i, proc in enumerate(self._procs):
                if self._pipes[i].poll() or (not proc.is_alive() and proc.exitcode != 0):
                    self._record_failure(i)
        if self._watchdog is not None:
            self._stop_watchdog.set()
            self._watchdog.join(5.0)
            self._watchdog = None
        if not finished:
            for pipe in self._stop_pipes:
                pipe.close()
            leave_group()
        self._end_processes(JOIN_TIMEOUT if finished else JOIN_TIMEOUT / 2)
        if finished:  # a worker that failed after the last collective
            for i, proc in enumerate(self._procs):
                if proc.exitcode != 0:
                    self._record_failure(i)
        for pipe in self._pipes + self._stop_pipes:
            pipe.close()
        for proc in self._procs:
            proc.close()
        self._procs, self._pipes, self._stop_pipes = [], [], []
        if not self._failed:
            return None
        return min(self._failed.values(), key=lambda t: t[0])[1]

    def _end_processes(self, timeout):
        deadline = time.monotonic() + timeout
        for proc in self._procs:
            proc.join(max(deadline - time.monotonic(), 0.05))
        for proc in self._procs:
            if proc.is_alive():  # e.g. in a long sampling phase: SIGTERM shuts it down
                proc.terminate()
                proc.join(JOIN_TIMEOUT / 2)
            if proc.is_alive():
                proc.kill()
                proc.join(2.0)
        if any(proc.exitcode is not None and proc.exitcode < 0 for proc in self._procs):
            # A worker killed by a signal could not free its shared memory (its own
            # sampler's buffers): its segments carry its pid, which is now gone.
            sweep_stale_shared_memory()


def _raised_error(rank, message):
    _, kind, text, tb, itr = message
    where = f" during itr {itr}" if itr is not None else " at start-up"
    return LearnerError(
        f"SyncRl learner rank {rank} raised {kind}{where}: {text}\n"
        f"--- traceback of rank {rank} ---\n{tb}",
        rank=rank,
    )


# -- the worker side ----------------------------------------------------------------


def worker_main(state, rank, pipe, stop_pipe):
    """Entry point of worker learner ``rank`` (a spawned process).

    ``state``: the pickled dict of the runner class (``cls``), its constructor
    arguments and the group's ``init_method``. Reports ``("ready",)``, then ``("error", type,
    message, traceback, itr)`` if it fails, through ``pipe``. When rank 0 closes
    ``stop_pipe`` (it stops, or dies) a thread shuts the sampler down and ends
    the process, even while the main thread is blocked in a collective.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to rank 0, which stops us

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    state = pickle.loads(state)
    cls, init_method = state.pop("cls"), state.pop("init_method")
    runner = None
    try:
        runner = cls(**state, progress_bar=False)
        runner.rank = rank
        runner.affinity = runner.affinities[rank]
        runner.init_method = init_method
        threading.Thread(
            target=_stop_on_request, args=(runner, stop_pipe), name="SyncRl-stop", daemon=True
        ).start()
        # Ready once the sampler runs: one that fails is reported before the rendezvous
        # (where rank 0 would wait the whole timeout for us).
        examples = runner.start_sampler()
        pipe.send(("ready",))
        runner.join_process_group(rank=rank)
        runner.worker_train(examples)
    except SystemExit:
        raise
    except BaseException as err:  # noqa: BLE001 - reported to rank 0, then exit 1
        itr = runner.current_itr
        try:
            pipe.send(("error", type(err).__name__, str(err), traceback.format_exc(), itr))
        except (OSError, EOFError):
            pass
        raise SystemExit(1) from None
    finally:
        if runner is not None and not _shutdown_worker(runner):
            # The stop thread is cleaning up, and ends the process when done. Exiting
            # the interpreter under it would cut that short (sampler workers, shared
            # memory) and run C++ static destructors while the process group's threads
            # still run (which can abort). If it hangs, rank 0 kills us.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            threading.Event().wait(JOIN_TIMEOUT)
        pipe.close()


_CLOSE_LOCK = threading.Lock()


def _shutdown_worker(runner, from_thread=False) -> bool:
    """Shut the worker's sampler down and leave the group (once, from either thread);
    False when the other thread has done it or is doing it."""
    with _CLOSE_LOCK:
        if runner.worker_closed:
            return False
        runner.worker_closed = True
    if not from_thread:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
    try:
        runner.sampler.shutdown()
    except Exception:  # noqa: BLE001 - the first error has been reported already
        pass
    if not from_thread:
        runner.teardown_group()
    return True


def _stop_on_request(runner, stop_pipe):
    """Thread of a worker: on rank 0's stop (or death), clean up and end the process."""
    try:
        stop_pipe.recv()
    except (EOFError, OSError):
        pass
    if not _shutdown_worker(runner, from_thread=True):
        # The main thread is already closing (e.g. on SIGTERM): its sampler shutdown
        # comes first, but leaving the group may block while rank 0 is gone.
        time.sleep(STOP_GRACE)
    os._exit(1)
