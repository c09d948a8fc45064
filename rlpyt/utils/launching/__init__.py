"""Launching experiments: hardware affinity codes (``affinity``), variants of a config
(``variant``), and the launcher that runs many experiments side by side on one machine
(``exp_launcher``)."""

from rlpyt.utils.launching.affinity import (
    affinity_from_code,
    encode_affinity,
    get_n_run_slots,
    make_affinity,
    prepend_run_slot,
    quick_affinity_code,
)
from rlpyt.utils.launching.exp_launcher import (
    LaunchSummary,
    read_status,
    resume_point,
    run_experiments,
    slot_affinity,
)
from rlpyt.utils.launching.variant import (
    VariantLevel,
    load_variant,
    make_variants,
    save_variant,
    update_config,
)

__all__ = [
    "affinity_from_code",
    "encode_affinity",
    "get_n_run_slots",
    "make_affinity",
    "prepend_run_slot",
    "quick_affinity_code",
    "LaunchSummary",
    "read_status",
    "resume_point",
    "run_experiments",
    "slot_affinity",
    "VariantLevel",
    "load_variant",
    "make_variants",
    "save_variant",
    "update_config",
]
