"""Run slots: which CPU cores (and GPU) each run of a launch gets, and how a run reads its own.

:func:`run_slots` lays out the slots of a machine's affinity code for the launcher
(:mod:`rlpyt.utils.launching.exp_launcher`); a launched run turns its slot's code into its
affinity dict with :func:`slot_affinity`. Core index ``i`` in a code is the ``i``-th CPU the
*launcher* may use: the launcher passes its CPU list to every run (``RLPYT_LAUNCH_CPUS``), so a
run it pinned to its slot (which then sees only those CPUs) still resolves its code, and when
the launcher oversubscribes the machine (``RLPYT_LAUNCH_OVERSUBSCRIBED=1``) index ``i`` wraps
around to CPU ``cpus[i % len(cpus)]``.
"""

import os
import warnings
from typing import NamedTuple

from rlpyt.utils.launching.affinity import (
    LAUNCH_CPUS_ENV,
    affinity_from_code,
    decode_affinity,
    get_n_run_slots,
    prepend_run_slot,
    usable_cpus,
)

__all__ = ["RunSlot", "run_slots", "slot_affinity", "LAUNCH_CPUS_ENV", "OVERSUBSCRIBED_ENV"]

OVERSUBSCRIBED_ENV = "RLPYT_LAUNCH_OVERSUBSCRIBED"  # "1": slots share the usable CPUs


class RunSlot(NamedTuple):
    """A run slot: its index, slot affinity code, CPUs (to pin to) and GPU."""

    index: int
    code: str
    cpus: list[int]
    cuda_idx: int | None


def slot_affinity(slot_affinity_code: str):
    """The affinity of a launched run, as ``affinity_from_code`` gives it.

    Core indices count the launcher's usable CPUs (``RLPYT_LAUNCH_CPUS``), so this works in
    a run the launcher pinned (``pin_cpus=True``), and wrap around them when the launcher
    oversubscribed them. Outside a launcher it is ``affinity_from_code(slot_affinity_code)``.
    """
    text = os.environ.get(LAUNCH_CPUS_ENV)
    if not text:
        return affinity_from_code(slot_affinity_code)
    try:
        cpus = [int(c) for c in text.split(",")]
    except ValueError:
        raise ValueError(f"{LAUNCH_CPUS_ENV}={text!r} is not a comma-separated CPU list") from None
    if os.environ.get(OVERSUBSCRIBED_ENV) == "1":
        return _wrapped_affinity(slot_affinity_code, cpus)
    return affinity_from_code(slot_affinity_code, cpus=cpus)


def _wrapped_affinity(slot_code: str, cpus: list[int]):
    """``affinity_from_code`` laid out on core indices, index ``i`` mapped to ``cpus[i % n]``."""
    values = decode_affinity(slot_code)
    n_index = 2 * (values.get("cpu", 0) + values.get("hto", 0)) + 1  # covers every layout
    layout = affinity_from_code(slot_code, cpus=list(range(n_index)))
    return _map_cpus(layout, lambda i: cpus[i % len(cpus)])


def _map_cpus(node, cpu):
    """A copy of an affinity (dict, list of dicts) with every CPU id ``c`` replaced by ``cpu(c)``."""
    if isinstance(node, list):
        return [_map_cpus(item, cpu) for item in node]
    if not isinstance(node, dict):
        return node
    out = type(node)()
    for key, value in node.items():
        if key in ("master_cpus", "all_cpus", "cpus"):
            out[key] = list(dict.fromkeys(cpu(c) for c in value))  # wrapped ids may repeat
        elif key == "workers_cpus":
            out[key] = [cpu(e) if isinstance(e, int) else [cpu(c) for c in e] for e in value]
        else:
            out[key] = _map_cpus(value, cpu)
    return out


def _cpus_of_affinity(node) -> list[int]:
    """Every CPU id an affinity names, sorted."""
    found = set()
    if isinstance(node, list):
        for item in node:
            found.update(_cpus_of_affinity(item))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("master_cpus", "all_cpus", "cpus"):
                found.update(value)
            elif key == "workers_cpus":
                for entry in value:
                    found.update([entry] if isinstance(entry, int) else entry)
            else:
                found.update(_cpus_of_affinity(value))
    return sorted(found)


def _cuda_idx_of(affinity) -> int | None:
    if isinstance(affinity, list):
        return affinity[0].get("cuda_idx")
    if "optimizer" in affinity:
        return affinity["optimizer"][0].get("cuda_idx")
    return affinity.get("cuda_idx")


def run_slots(affinity_code: str, allow_oversubscribe: bool = False) -> list[RunSlot]:
    """The run slots of ``affinity_code`` (a code without a slot token), checked.

    Raises ValueError for a malformed code, a code with a slot, or one that lays out more
    CPUs than this process may use (unless ``allow_oversubscribe``; a warning then).
    """
    if not isinstance(affinity_code, str):
        raise TypeError(f"affinity_code must be a str such as '4cpu_1cpr', got {affinity_code!r}")
    if "slt" in decode_affinity(affinity_code):
        raise ValueError(
            f"affinity_code {affinity_code!r} already names a run slot; give the machine's "
            "code without '<k>slt': the launcher adds each run's slot"
        )
    n_slots = get_n_run_slots(affinity_code)
    codes = [prepend_run_slot(slot, affinity_code) for slot in range(n_slots)]
    cpus = usable_cpus()
    try:
        layouts = [affinity_from_code(code, cpus=cpus) for code in codes]
    except ValueError as err:
        if not allow_oversubscribe:
            raise ValueError(
                f"{err}; or pass allow_oversubscribe=True to let the {n_slots} run slots "
                "share the usable CPUs"
            ) from None
        warnings.warn(
            f"affinity code {affinity_code!r} lays out more CPUs than the {len(cpus)} this "
            f"process may use ({cpus}): its {n_slots} run slots share them",
            stacklevel=2,
        )
        layouts = [_wrapped_affinity(code, cpus) for code in codes]
    return [
        RunSlot(slot, code, _cpus_of_affinity(layout), _cuda_idx_of(layout))
        for slot, (code, layout) in enumerate(zip(codes, layouts))
    ]
