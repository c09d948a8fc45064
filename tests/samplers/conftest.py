"""Leak-check fixtures of the sampler tests (:class:`faulty_envs.LeakCheck`)."""

import pytest
from faulty_envs import LeakCheck


@pytest.fixture
def leaks():
    """Track samplers with ``leaks.track(sampler)``; the test shuts them down, and at its end
    no worker, child process or shared-memory segment of theirs may be left."""
    check = LeakCheck()
    yield check
    try:
        check.assert_clean()
    finally:
        check.shutdown()  # so that one failure does not leak into the next test


@pytest.fixture
def no_leftovers():
    """As ``leaks``, but the fixture shuts the tracked samplers down before the check."""
    check = LeakCheck()
    yield check
    check.shutdown()
    check.assert_clean()
