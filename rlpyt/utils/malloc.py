"""glibc's malloc set to keep freed memory for reuse in a training process.

A CPU training step allocates and frees tens of MB of tensors: the replay batch, every
layer's activations and their gradients. With glibc's defaults much of it goes back to
the operating system as it is freed (a block above the mmap threshold is unmapped; free
memory at the top of the heap beyond the trim threshold is trimmed), and the next step
gets it back as fresh pages, each one a page fault that the kernel fills with zeros. The
thresholds do adapt to the sizes the program frees, but a step's mix of sizes defeats that:
the Pong DQN loop of docs/benchmarks.md took 0.1-0.8 million page faults in 20 seconds.

:func:`keep_freed_memory` fixes both thresholds high, so freed blocks stay in the heap and
the next step reuses them: the same loop then took 83 thousand faults (all at start-up) and
ran 6-19% faster. PyTorch's performance guide gets the same effect by preloading jemalloc or
TCMalloc; this needs no other library. The cost is memory: up to ``trim_mb`` of freed heap
may stay with the process instead of going back to the system.

The runners call it at start-up (``affinity["keep_freed_memory"]``, default True), before
their samplers start: forked sampler workers inherit the setting, workers started with
``spawn`` or ``forkserver`` keep glibc's defaults. The Ray scheme's gradient workers call it
too (``SchemeConfig.keep_freed_memory``). It does nothing when the C library is not glibc, or when the process was started with its own malloc
settings (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or a ``glibc.malloc``
tunable in ``GLIBC_TUNABLES``): the user's choice stands.
"""

import ctypes
import os
import platform

__all__ = ["keep_freed_memory", "malloc_settings_in_environment"]

# mallopt's parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

_ENV_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def malloc_settings_in_environment() -> bool:
    """Whether the process was started with its own glibc malloc settings."""
    if any(name in os.environ for name in _ENV_SETTINGS):
        return True
    return "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "")


def keep_freed_memory(mmap_threshold_mb: int = 32, trim_threshold_mb: int = 256) -> bool:
    """Make glibc keep freed memory for reuse; True when applied, False when not.

    ``mmap_threshold_mb``: blocks up to this size come from the heap, so freeing them does
    not unmap them (32 MB is the largest value every glibc accepts; bigger blocks, such as
    replay buffers, are long-lived anyway). ``trim_threshold_mb``: the heap keeps up to this
    much free memory at its top instead of returning it.
    """
    if mmap_threshold_mb <= 0 or trim_threshold_mb <= 0:
        raise ValueError(
            f"keep_freed_memory: thresholds must be positive, got mmap_threshold_mb="
            f"{mmap_threshold_mb}, trim_threshold_mb={trim_threshold_mb}"
        )
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if malloc_settings_in_environment():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # The trim threshold first: setting either one turns off glibc's adaptive thresholds.
    applied = mallopt(M_TRIM_THRESHOLD, int(trim_threshold_mb) << 20) == 1
    return mallopt(M_MMAP_THRESHOLD, int(mmap_threshold_mb) << 20) == 1 and applied
