"""Seeding and capture/restore of the global random number generators.

Components own their generators and seed them from the run's seed through :func:`derive_seed`
(one stream per env, worker, eval env...). The global generators (python ``random``, numpy's
legacy ``np.random``, torch) are still seeded by :func:`set_seed` for code that uses them, and
captured in snapshots with :func:`get_rng_state` so that a resumed run continues the same
random streams as an uninterrupted one.
"""

import hashlib
import os
import random
import time

import numpy as np
import torch

__all__ = ["derive_seed", "get_rng_state", "make_seed", "set_rng_state", "set_seed"]

# numpy's legacy RandomState takes seeds in [0, 2**32); every seed made here fits.
_SEED_BOUND = 2**32


def set_seed(seed: int) -> int:
    """Seed python ``random``, numpy's global generator and torch (CPU and all GPUs).

    Returns the seed used (reduced modulo 2**32, numpy's limit).
    """
    seed = int(seed) % _SEED_BOUND
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def make_seed() -> int:
    """A fresh seed in [0, 2**32) from the clock and the process id (for unseeded runs)."""
    entropy = [time.time_ns(), os.getpid(), time.perf_counter_ns()]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0])


def _key_to_int(key) -> int:
    if isinstance(key, bool | int | np.integer) and key >= 0:
        return int(key)
    if isinstance(key, str):
        # Python's hash() of a str changes between runs (PYTHONHASHSEED); sha256 does not.
        return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    raise ValueError(f"derive_seed keys must be non-negative ints or strings, got {key!r}")


def derive_seed(seed: int, *keys: int | str) -> int:
    """A child seed in [0, 2**32) for the stream named by ``keys`` under ``seed``.

    Deterministic across processes and Python runs (numpy ``SeedSequence`` with the keys as
    its spawn key), and different keys give statistically independent streams, e.g.
    ``derive_seed(run_seed, "env", rank, b)`` for env ``b`` of worker ``rank``.
    """
    if int(seed) < 0:
        raise ValueError(f"derive_seed: seed must be non-negative, got {seed}")
    spawn_key = tuple(_key_to_int(k) for k in keys)
    seq = np.random.SeedSequence(int(seed), spawn_key=spawn_key)
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def get_rng_state() -> dict:
    """The states of python ``random``, numpy's global generator and torch (CPU, CUDA)."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore states captured by :func:`get_rng_state`.

    CUDA states are restored only where CUDA is available: a snapshot taken on a GPU machine
    resumes on a CPU-only one (the CPU streams are still exact).
    """
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    # A checkpoint loaded with map_location may hand the state back on another device or as a
    # non-uint8 tensor; torch insists on a CPU ByteTensor.
    torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8).cpu())
    cuda_states = state.get("torch_cuda")
    if cuda_states and torch.cuda.is_available():
        n = min(len(cuda_states), torch.cuda.device_count())
        for i in range(n):
            torch.cuda.set_rng_state(
                torch.as_tensor(cuda_states[i], dtype=torch.uint8).cpu(), device=i
            )
