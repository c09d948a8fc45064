"""What the local and the Ray launcher share: checks of an experiment's arguments, the
experiment directory's lock, and the command line of a run of the original script convention.

:mod:`rlpyt.utils.launching.exp_launcher` (``backend="local"``) and
:mod:`rlpyt.utils.launching.ray_launcher` (``backend="ray"``) both use them.
"""

import contextlib
import fcntl
import json
import os
from collections.abc import Mapping, Sequence

from rlpyt.utils.launching.launch_queue import LaunchError
from rlpyt.utils.launching.variant import VARIANT_FILE, load_variant

__all__ = ["check_setting", "check_arg_list", "check_variants", "experiment_lock", "script_command"]

LOCK_FILE = ".launcher.lock"


def check_setting(setting, where: str) -> str:
    if not isinstance(setting, str) or not setting:
        raise TypeError(f"{where} must be a non-empty str (a directory name), got {setting!r}")
    norm = os.path.normpath(setting)
    if os.path.isabs(setting) or norm == "." or norm.split(os.sep)[0] == "..":
        raise ValueError(
            f"{where} {setting!r} must be a relative directory inside the experiment "
            "directory (not absolute, not '.', not leaving it with '..')"
        )
    return norm


def check_arg_list(args, name: str) -> list[str]:
    if args is None:
        return []
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise TypeError(f"{name} must be a list of command-line arguments, got {args!r}")
    for i, arg in enumerate(args):
        if not isinstance(arg, str | int | float) or isinstance(arg, bool):
            raise TypeError(f"{name}[{i}] must be a str or a number, got {arg!r}")
    return [str(arg) for arg in args]


def check_variants(variants: Mapping[str, Mapping], experiment_dir: str) -> None:
    """Each setting's variant matches what an earlier launch saved there (if any)."""
    for setting, variant in variants.items():
        log_dir = os.path.join(experiment_dir, setting)
        try:
            text = json.dumps(variant)
        except TypeError as err:
            raise TypeError(f"variant of {setting!r} cannot be saved as JSON: {err}") from None
        if not os.path.exists(os.path.join(log_dir, VARIANT_FILE)):
            continue
        saved = load_variant(log_dir)
        if saved != json.loads(text):
            raise ValueError(
                f"{log_dir} holds the variant {saved} from an earlier launch, not {variant}: "
                "an experiment directory keeps its grid; use another experiment_title (or "
                "experiment_dir) for a new grid"
            )


def script_command(prefix, log_dir, run_ID, extra, slot_code, resume_dir):
    del resume_dir  # the script finds it itself, with resume_point
    return [*prefix, slot_code, log_dir, str(run_ID), *extra]


@contextlib.contextmanager
def experiment_lock(experiment_dir: str):
    """Hold ``.launcher.lock`` (flock) for the launch; an error if another launcher holds it."""
    path = os.path.join(experiment_dir, LOCK_FILE)
    with open(path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise LaunchError(
                f"another launcher (pid {holder}) is running the experiment in "
                f"{experiment_dir}: wait for it to finish or stop it (Ctrl-C) first"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
