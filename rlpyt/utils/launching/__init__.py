"""Launching experiments: hardware affinity codes (``affinity``) and, beside them, variants
and the launcher that runs many experiments side by side on one machine."""

from rlpyt.utils.launching.affinity import (
    affinity_from_code,
    encode_affinity,
    get_n_run_slots,
    make_affinity,
    prepend_run_slot,
    quick_affinity_code,
)

__all__ = [
    "affinity_from_code",
    "encode_affinity",
    "get_n_run_slots",
    "make_affinity",
    "prepend_run_slot",
    "quick_affinity_code",
]
