"""Suite-wide set-up and checks.

* A suite started as a background job of a shell without job control (``make test &``)
  inherits SIGINT ignored, and so would every process the Ctrl-C tests start, which
  then could not be interrupted; the default handler is restored for the suite.
* No shared-memory segment of ours may outlive the test run.
* ``--break-loss`` sabotages every algorithm's loss for the learning tier, which must then
  fail (see tests/learning/conftest.py).
"""

import os
import signal

import pytest

from rlpyt.utils.shared_memory import SHM_DIR, SHM_PREFIX


def pytest_addoption(parser):
    parser.addoption(
        "--break-loss",
        action="store_true",
        help="flip the sign of each algorithm's loss: every learning test must then fail",
    )


if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _our_segments() -> set[str]:
    try:
        names = os.listdir(SHM_DIR)
    except FileNotFoundError:
        return set()
    return {n for n in names if n.startswith(f"{SHM_PREFIX}{os.getpid()}_")}


@pytest.fixture(autouse=True, scope="session")
def no_shared_memory_leftovers():
    yield
    import gc

    gc.collect()
    leftovers = _our_segments()
    assert not leftovers, f"shared memory left in {SHM_DIR}: {sorted(leftovers)}"
