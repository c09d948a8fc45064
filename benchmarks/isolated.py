"""One benchmark case in a fresh spawned process; used by the side-by-side benchmarks.

Each case gets its own interpreter: its own torch threads, allocator state and start-up, so
one library's run cannot warm or slow the next. The child's stdout goes to /dev/null (rlpyt's
logger and SB3 print tables there; only the parent prints the JSON). An exception in the
child comes back to the parent as a ``RuntimeError`` naming the case, and so does a child
that dies without answering (with its exit code).
"""

import os
import sys


def _child(fn, kwargs, threads, keep_freed, conn):
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - fd 1 lives as long as the process
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if keep_freed:
        from rlpyt.utils.malloc import keep_freed_memory

        keep_freed_memory()
    try:
        conn.send(("ok", fn(**kwargs)))
    except BaseException as err:  # report, do not hang the parent
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


def run_isolated(ctx, fn, kwargs: dict, what: str, threads=1, keep_freed_memory=False):
    """``fn(**kwargs)`` in a new process of context ``ctx`` (spawn); returns its result.

    Args:
        fn: a module-level function (it is pickled by reference).
        what: names the case in the error raised when it fails.
        threads: ``torch.set_num_threads`` in the child (None leaves torch's default).
        keep_freed_memory: set glibc's malloc as rlpyt's runners do at start-up
            (:func:`rlpyt.utils.malloc.keep_freed_memory`), for the peer library's process too.
    """
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, kwargs, threads, keep_freed_memory, send))
    proc.start()
    send.close()
    try:
        status, payload = recv.recv()
    except EOFError:  # the child died before it could answer
        status, payload = "error", None
    proc.join()
    if status != "ok":
        if payload is None:
            payload = f"the process died without a result (exit code {proc.exitcode})"
        raise RuntimeError(f"{what} failed: {payload}")
    return payload
