"""Runs that give the same numbers on any x86-64 machine (``reproducible=True``).

Without this option a seeded serial CPU run is exactly repeatable on one machine (the same
``progress.csv`` every time), but not across machines: MKL, ATen and numpy pick their kernels
by the instructions the CPU offers (AVX-512 on most Intel servers, AVX2 on AMD EPYC), and the
kernels round differently, so two CPUs follow two different training trajectories from the
same seed.

With it, every library is put on one code path that all x86-64 CPUs share:

===============================  ======================================================
``MKL_CBWR=COMPATIBLE``          MKL's conditional numerical reproducibility (matmul)
``ATEN_CPU_CAPABILITY=default``  torch's own kernels without AVX2 / AVX-512
``NPY_DISABLE_CPU_FEATURES``     numpy's baseline loops (sin, exp, ... used by envs)
``OMP_NUM_THREADS=1``            one intra-op thread (a reduction's split depends on it)
``MKL_NUM_THREADS=1``            likewise for MKL
===============================  ======================================================

and, in the process, ``torch.use_deterministic_algorithms(True)``, one torch thread, and
oneDNN (mkldnn) off, so convolutions run through the im2col + MKL path above.

These variables are read when the libraries load, so they must be in the environment before
``import torch``. ``python -m rlpyt train --set runner.reproducible=True`` re-executes itself
with them; a script calls :func:`ensure_reproducible_process` as its first statement (it
re-executes the script the same way), and then passes ``reproducible=True`` to its runner,
which refuses to start in a process without them. The speed cost is in docs/benchmarks.md.
"""

import os
import platform
import sys

__all__ = [
    "ensure_reproducible_process",
    "enter_reproducible_mode",
    "missing_settings",
    "reexec_reproducible",
    "reproducible_environment",
]

# numpy's dispatch groups above its x86-64 baseline (x86-64-v2): without them numpy runs the
# loops every x86-64 CPU it supports shares.
_NUMPY_X86_ABOVE_BASELINE = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"


def reproducible_environment() -> dict[str, str]:
    """The environment variables a reproducible run needs (before torch and numpy load)."""
    env = {
        "MKL_CBWR": "COMPATIBLE",
        "ATEN_CPU_CAPABILITY": "default",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    # The names are x86's: numpy refuses unknown feature names on other machines.
    if platform.machine().lower() in ("x86_64", "amd64"):
        env["NPY_DISABLE_CPU_FEATURES"] = _NUMPY_X86_ABOVE_BASELINE
    return env


def missing_settings(environ=None) -> list[str]:
    """``NAME=value`` for each required variable that ``environ`` (default: this process's
    environment) lacks or sets otherwise; empty when the process is ready."""
    environ = os.environ if environ is None else environ
    return [
        f"{name}={value}"
        for name, value in reproducible_environment().items()
        if environ.get(name) != value
    ]


def reexec_reproducible(argv: list[str] | None = None):
    """Replace this process by the same command line with the reproducible environment.

    ``argv``: the interpreter's arguments (default ``sys.orig_argv[1:]``, e.g. ``-m rlpyt
    train ...`` or ``script.py --flag``). Does not return.
    """
    argv = sys.orig_argv[1:] if argv is None else argv
    env = dict(os.environ, **reproducible_environment())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *argv], env)


def ensure_reproducible_process() -> None:
    """Re-execute the running script with the reproducible environment unless it has it.

    Call it first thing in a script (before anything imports torch) that trains with
    ``reproducible=True``; in a process already set up it returns at once.
    """
    if missing_settings():
        reexec_reproducible()


def enter_reproducible_mode(who: str = "reproducible=True") -> None:
    """Set torch's in-process settings; refuse a process started without the environment.

    Called by the runners when ``reproducible=True``, before seeding. ``who`` names the
    setting in the error message.
    """
    import torch

    missing = missing_settings()
    capability = torch.backends.cpu.get_cpu_capability()
    if missing or capability != "DEFAULT":
        raise RuntimeError(
            f"{who} needs {' '.join(missing) or 'ATEN_CPU_CAPABILITY=default'} in the "
            f"environment before torch loads (torch runs its {capability} kernels here). Use "
            "`python -m rlpyt train ... --set runner.reproducible=True`, which sets them, or "
            "call rlpyt.utils.reproducible.ensure_reproducible_process() first thing in "
            "your script."
        )
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
