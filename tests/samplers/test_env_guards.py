"""Env guards of every sampler (FAULTS.md A4-A6): the hung env is named and force-killed,
NaN actions from the policy are caught (serial and parallel alike, raise / warn / off), and
an observation that does not fit the samples buffer is an error at its first write.
"""

import re
import time
import warnings

import numpy as np
import psutil
import pytest
from faulty_envs import FaultyEnv, NanActionAgent, wait_no_worker_children, worker_pids
from faulty_envs import SyncRecordingAgent as RecordingAgent
from test_parallel_faults import AFFINITY, B, T, expect_worker_error, make_sampler

from rlpyt.samplers.parallel.errors import EnvFault, WorkerError
from rlpyt.samplers.serial.sampler import SerialSampler

pytestmark = pytest.mark.timeout(60)


def serial_sampler(fault, at_step=17, **kwargs):
    return SerialSampler(
        EnvCls=FaultyEnv,
        env_kwargs=dict(fault=fault, at_step=at_step),
        batch_T=T,
        batch_B=B,
        max_decorrelation_steps=0,
        **kwargs,
    )


# -- A4: a hung env that ignores SIGTERM ---------------------------------------------------


def test_hung_env_ignoring_sigterm_is_named_and_killed(leaks):  # noqa: F811
    sampler = make_sampler("hang_ignore_term", batch_timeout=2.0)
    sampler.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    pids = worker_pids(sampler)
    with pytest.warns(UserWarning, match=r"did not stop on SIGTERM and were killed \(SIGKILL\)"):
        msg, elapsed = expect_worker_error(
            sampler, r"env [0-3] \(FaultyEnv\) in step\(\) at its step 17, did not finish itr 2"
        )
    # Every worker is gone the moment the error is raised: none left to be reaped by init.
    assert not [p for p in pids if psutil.pid_exists(p)], "a worker outlived the error"
    assert wait_no_worker_children(timeout=0.0) == []
    assert elapsed < 2.0 + 2.0 + 1.0 + 3.0, f"stopped after {elapsed:.1f} s"


# -- A5: NaN actions from the policy --------------------------------------------------------


def test_parallel_sampler_catches_nan_actions_naming_env_and_step(leaks):  # noqa: F811
    sampler = make_sampler("none")
    # The master's example step is the agent's first call: NaN from step 17 of every env on.
    sampler.initialize(NanActionAgent(nan_at=2 * T + 2), affinity=AFFINITY, seed=0)
    leaks.track(sampler)
    msg, _ = expect_worker_error(sampler, r"action from the policy is nan")
    assert re.search(r"env [0-3] \(FaultyEnv\) met a non-finite value at its step 17", msg), msg


def test_serial_sampler_catches_nan_actions_as_the_parallel_ones_do():
    sampler = serial_sampler("none")
    sampler.initialize(NanActionAgent(nan_at=2 * T + 2), seed=0)
    sampler.obtain_samples(0)
    sampler.obtain_samples(1)
    with pytest.raises(
        EnvFault,
        match=r"env 0 \(FaultyEnv\) met a non-finite value at its step "
        r"17: action from the policy is nan \(set nan_check='warn' or 'off'",
    ):
        sampler.obtain_samples(2)
    sampler.shutdown()


@pytest.mark.parametrize("fault", ["nan_reward", "nan_obs"])
def test_serial_sampler_catches_nan_from_the_env(fault):
    sampler = serial_sampler(fault)
    sampler.initialize(RecordingAgent(), seed=0)
    sampler.obtain_samples(0)
    sampler.obtain_samples(1)
    field = fault.split("_")[1].replace("obs", "observation")
    with pytest.raises(EnvFault, match=rf"env 0 \(FaultyEnv\) .* its step 17: {field}"):
        sampler.obtain_samples(2)


def test_warn_mode_warns_once_per_env_and_goes_on(leaks):  # noqa: F811
    serial = serial_sampler("nan_reward", nan_check="warn")
    serial.initialize(RecordingAgent(), seed=0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for itr in range(4):  # steps 17 (NaN) and later: one warning per env, not per step
            samples, _ = serial.obtain_samples(itr)
    messages = [str(w.message) for w in rec]
    assert len(messages) == B, messages
    assert all(re.match(r"env \d \(FaultyEnv\) at its step 17: reward is nan", m) for m in messages)
    serial.shutdown()

    parallel = make_sampler("none", nan_check="warn")
    parallel.initialize(NanActionAgent(nan_at=2 * T + 2), affinity=AFFINITY, seed=0)
    leaks.track(parallel)
    for itr in range(4):  # the warnings go to the workers' stderr; sampling goes on
        samples, _ = parallel.obtain_samples(itr)
    assert np.isnan(samples.agent.action.numpy()).all()
    parallel.shutdown()


def test_nan_check_refuses_unknown_modes():
    with pytest.raises(ValueError, match=r"nan_check must be one of \('raise', 'warn', 'off'\)"):
        serial_sampler("none", nan_check="ignore")


# -- A6: an observation that does not fit the samples buffer ----------------------------


@pytest.mark.parametrize(
    "fault, text",
    [
        ("broadcast_obs", r"shape \(1,\) dtype float32, expected shape \(3,\) dtype float32"),
        ("float64_obs", r"shape \(1,\) dtype float64, expected shape \(1,\) dtype uint8"),
    ],
)
def test_wrong_observation_is_an_error_at_its_first_write(leaks, fault, text):  # noqa: F811
    """The buffer is built from an example env's step; the first reset does not fit it."""
    with pytest.raises(
        EnvFault,
        match=r"env 0 \(FaultyEnv\) returned a wrong observation from reset\(\) at its step 0: "
        r"observation has " + text,
    ):
        serial_sampler(fault).initialize(RecordingAgent(), seed=0)

    parallel = make_sampler(fault)
    with pytest.raises(WorkerError, match=r"env [0-3] \(FaultyEnv") as excinfo:
        parallel.initialize(RecordingAgent(), affinity=AFFINITY, seed=0)
    leaks.track(parallel)
    assert re.search("observation has " + text, str(excinfo.value)), str(excinfo.value)


def test_float64_observations_into_a_float32_buffer_are_fine(leaks):  # noqa: F811
    """The one allowed conversion (gymnasium's classic-control envs return float64)."""
    from rlpyt.samplers.parallel.worker import observation_mismatch

    assert observation_mismatch(np.zeros(4), np.zeros(4, np.float32)) is None
    assert observation_mismatch(np.zeros(4, np.int64), np.zeros(4, np.float32)) is None
    assert "uint8" in observation_mismatch(np.zeros(4), np.zeros(4, np.uint8))
    assert "(1,)" in observation_mismatch(np.zeros(1, np.float32), np.zeros(4, np.float32))


def test_guard_overhead_stays_small():
    """The first-write check runs twice per env, not at every step."""
    sampler = serial_sampler("none")
    sampler.initialize(RecordingAgent(), seed=0)
    start = time.perf_counter()
    for itr in range(3):
        sampler.obtain_samples(itr)
    assert all(g._checked == {"reset": True, "step": True} for g in sampler.collector.envs)
    assert time.perf_counter() - start < 5.0
