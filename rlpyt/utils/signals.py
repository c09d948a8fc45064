"""Signal helpers shared by the runners and samplers."""

import contextlib
import signal
import threading

__all__ = ["sigint_ignored"]


@contextlib.contextmanager
def sigint_ignored():
    """SIGINT ignored inside the block, restored after (main thread only; elsewhere a no-op).

    Used around a sampler's shutdown, so a second Ctrl-C does not cut it short, and around
    starting a child process, which then inherits SIGINT ignored (its parent stops it).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
