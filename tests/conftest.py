"""Suite-wide checks: no shared-memory segment of ours may outlive the test run."""

import os

import pytest

from rlpyt.utils.shared_memory import SHM_DIR, SHM_PREFIX


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
