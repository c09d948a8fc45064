"""Hardware affinity codes: which CPU cores and GPUs each experiment run may use.

A launcher that runs many experiments side by side describes the machine once as
an *affinity code*, a short string that fits on a command line, gives each run a
*run slot*, and each run turns its slotted code into the dict its runner and
sampler consume (``affinity_from_code``)::

    code = encode_affinity(n_cpu_core=40, n_gpu=8)     # "40cpu_8gpu" (no hyperthreads)
    get_n_run_slots(code)                               # 8 runs at a time
    affinity_from_code(prepend_run_slot(3, code))       # cuda_idx=3, cores 15..19

**Grammar.** ``code := token ("_" token)*`` and ``token := <int><abbrev>``: a
non-negative integer and one abbreviation from ``ABBREVS``, each at most once, in
any order; booleans are 0 or 1. Absent tokens take the defaults in ``_FIELDS``
(:mod:`rlpyt.utils.launching.affinity_codes`): notably no ``hto`` token means no
hyperthreads (the original rlpyt assumed them), so a code never pins to CPUs its
writer did not name.

**Core ids.** The code stores counts. Core *index* ``i`` means the ``i``-th CPU
this process may use, ``usable_cpus()[i]`` (``os.sched_getaffinity``), so a run
inside a container limited to CPUs {2, 5} pins to 2 and 5, never to 0 and 1.

**Layout.** Indices ``0 .. n_cpu_core-1`` are physical cores; with
``hyperthread_offset = h > 0`` index ``c + h`` is the hyperthread sibling of
core ``c`` and goes wherever ``c`` goes. With ``n_socket = s`` the cores are
split into ``s`` equal contiguous blocks and runs (or GPUs) are assigned to
sockets in order, so a run never straddles a socket unless it needs more than
one. CPU-only runs get ``cpu_per_run`` contiguous cores. With GPUs each GPU gets
``n_cpu_core // n_gpu`` cores and each of its ``contexts_per_gpu`` runs
``(n_cpu_core // n_gpu) // contexts_per_gpu`` of them, by integer division, so
all runs are alike; cores left over stay idle. Slots fill every GPU before a
second context goes on any: slot ``k`` uses GPU ``k % n_gpu``.

**Run dict** (one synchronous run, or one rank / sampler of a larger one):
``master_cpus`` (the run's CPU ids, siblings included), ``all_cpus`` (the same),
``workers_cpus`` (one entry per sampler worker: an ``int`` when the worker gets a
single CPU, else a list of ints, its ``cpu_per_worker`` cores followed by their
hyperthread siblings), ``master_torch_threads``, ``worker_torch_threads``,
``cuda_idx`` (None without a GPU), ``alternating`` and ``set_affinity``. The first
``cpu_reserved`` cores of a run are the master's alone. With ``alternating`` the
worker list is doubled for the two alternating groups: with hyperthreads the
second group runs on the siblings, without them it shares the same cores.
``cpus_of(entry)`` turns any ``workers_cpus`` entry into a list.

``gpu_per_run > 1`` gives a list of run dicts, one per rank (GPU).
``async_sample`` gives ``dict(all_cpus, optimizer, sampler, set_affinity)``:
``optimizer`` is a list of ``dict(cpus, cuda_idx, torch_threads, set_affinity)``,
one per optimizer GPU (one CPU dict without GPUs), each on
``max(cpu_reserved, 1)`` cores; ``sampler`` is a run dict on the run's other
cores, or, when sampling uses GPUs, a list of them, one per sampling GPU.
"""

import os
import warnings
from dataclasses import replace
from pathlib import Path

from rlpyt.utils.launching.affinity_codes import (
    ABBREVS,
    AffinityBuilder,
    AffinitySpec,
    check_cpu_ids,
    check_layout,
    check_spec_types,
    decode_affinity,
    n_cpu_ids,
    socket_problem,
    spec_from_code,
)
from rlpyt.utils.validation import require_int_at_least

__all__ = [
    "ABBREVS",
    "encode_affinity",
    "affinity_from_code",
    "make_affinity",
    "quick_affinity_code",
    "get_n_run_slots",
    "prepend_run_slot",
    "remove_run_slot",
    "decode_affinity",
    "usable_cpus",
    "cpus_of",
    "detect_hyperthread_offset",
    "detect_n_socket",
]

_SYSFS_CPU = Path("/sys/devices/system/cpu")


# -- public API ---------------------------------------------------------------------


# Set by the launcher for its runs: its own usable CPU ids, e.g. "0,1,2,3".
LAUNCH_CPUS_ENV = "RLPYT_LAUNCH_CPUS"


def usable_cpus() -> list[int]:
    """The CPU ids this process may run on (``os.sched_getaffinity``), sorted.

    In a run started by the launcher (which pins each run to its slot's cores, so
    ``sched_getaffinity`` shows only those), the launcher's CPUs from ``RLPYT_LAUNCH_CPUS``:
    a slot code's core indices count the machine's cores, not the slot's.
    """
    text = os.environ.get(LAUNCH_CPUS_ENV)
    if text:
        try:
            return sorted(int(c) for c in text.split(","))
        except ValueError:
            raise ValueError(
                f"{LAUNCH_CPUS_ENV}={text!r} is not a comma-separated CPU list"
            ) from None
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def encode_affinity(
    *,
    n_cpu_core=None,
    n_gpu=None,
    contexts_per_gpu=1,
    gpu_per_run=1,
    cpu_per_run=1,
    cpu_per_worker=1,
    cpu_reserved=0,
    hyperthread_offset=None,
    n_socket=None,
    run_slot=None,
    async_sample=False,
    sample_gpu_per_run=0,
    optim_sample_share_gpu=False,
    alternating=False,
    set_affinity=True,
) -> str:
    """The affinity code for a machine (and, given ``run_slot``, for one run on it).

    ``None`` means detect: ``n_cpu_core`` = usable cores less their hyperthread
    siblings, ``n_gpu`` = ``torch.cuda.device_count()``, ``hyperthread_offset``
    from the topology of the usable CPUs (0 when ``n_cpu_core`` exceeds the
    physical cores: the caller counts hyperthreads as cores), ``n_socket`` the
    sockets of the usable CPUs, or 1 when that count does not split this layout
    evenly. Raises ``ValueError`` naming the parameter for an impossible layout.
    """
    if n_cpu_core is not None:
        n_cpu_core = require_int_at_least("n_cpu_core", n_cpu_core, 1)
    cpus = usable_cpus()
    if hyperthread_offset is None:
        hyperthread_offset = detect_hyperthread_offset(cpus)
        if n_cpu_core is not None and hyperthread_offset and n_cpu_core > hyperthread_offset:
            hyperthread_offset = 0
    if n_cpu_core is None:
        n_cpu_core = len(cpus) - hyperthread_offset
    if n_gpu is None:
        import torch

        n_gpu = torch.cuda.device_count()
    spec = AffinitySpec(
        n_cpu_core=n_cpu_core,
        run_slot=run_slot,
        n_gpu=n_gpu,
        contexts_per_gpu=contexts_per_gpu,
        gpu_per_run=gpu_per_run,
        cpu_per_run=cpu_per_run,
        cpu_per_worker=cpu_per_worker,
        cpu_reserved=cpu_reserved,
        hyperthread_offset=hyperthread_offset,
        n_socket=1 if n_socket is None else n_socket,
        async_sample=async_sample,
        sample_gpu_per_run=sample_gpu_per_run,
        optim_sample_share_gpu=optim_sample_share_gpu,
        alternating=alternating,
        set_affinity=set_affinity,
    )
    spec = check_spec_types(spec)
    if n_socket is None:
        detected = replace(spec, n_socket=detect_n_socket(cpus))
        if socket_problem(detected) is None:
            spec = detected
    check_layout(spec)
    return spec.code()


def prepend_run_slot(run_slot: int, affinity_code: str) -> str:
    """``f"{run_slot}slt_{affinity_code}"``, after checking the code has no slot yet."""
    run_slot = require_int_at_least("run_slot", run_slot, 0)
    if "slt" in decode_affinity(affinity_code):
        raise ValueError(f"affinity code {affinity_code!r} already has a run slot")
    return f"{run_slot}slt_{affinity_code}"


def remove_run_slot(run_slot_affinity_code: str) -> tuple[int, str]:
    """``(run_slot, code without the slot token)``; error if there is no slot."""
    values = decode_affinity(run_slot_affinity_code)
    if "slt" not in values:
        raise ValueError(
            f"affinity code {run_slot_affinity_code!r} has no run slot token '<k>slt': "
            "use prepend_run_slot(k, code) or encode_affinity(run_slot=k, ...)"
        )
    rest = [t for t in run_slot_affinity_code.split("_") if not t.endswith("slt")]
    return values["slt"], "_".join(rest)


def get_n_run_slots(affinity_code: str) -> int:
    """How many runs fit on the machine at once (a run slot token is allowed)."""
    return check_layout(spec_from_code(affinity_code))


def affinity_from_code(run_slot_affinity_code: str, cpus=None):
    """The affinity of one run: a run dict, a list of them, or an async dict.

    See the module docstring for the formats. ``cpus`` are the usable CPU ids
    (default ``usable_cpus()``); a code that needs more of them is an error.
    """
    run_slot, _ = remove_run_slot(run_slot_affinity_code)
    spec = spec_from_code(run_slot_affinity_code)
    check_layout(spec)
    cpus = usable_cpus() if cpus is None else check_cpu_ids(cpus)
    needed = n_cpu_ids(spec)
    if needed > len(cpus):
        raise ValueError(
            f"affinity code {run_slot_affinity_code!r} lays out {needed} CPU ids "
            f"(n_cpu_core={spec.n_cpu_core}, hyperthread_offset={spec.hyperthread_offset}, "
            f"n_socket={spec.n_socket}) but this process may use only {len(cpus)} "
            f"(os.sched_getaffinity: {cpus}); lower n_cpu_core or allow more cores"
        )
    return AffinityBuilder(spec, cpus).build(run_slot)


def make_affinity(run_slot=0, cpus=None, **kwargs):
    """``affinity_from_code(encode_affinity(run_slot=run_slot, **kwargs), cpus)``."""
    return affinity_from_code(encode_affinity(run_slot=run_slot, **kwargs), cpus=cpus)


def quick_affinity_code(n_parallel=None, use_gpu=True) -> str:
    """A sensible code for this machine.

    With GPUs (and ``use_gpu``): one run per GPU, at most ``n_parallel`` GPUs,
    the cores split evenly among them. Otherwise ``n_parallel`` CPU runs (default
    1) splitting the usable cores evenly; more runs than cores are clamped to the
    number of cores with a warning.
    """
    if n_parallel is not None:
        n_parallel = require_int_at_least("n_parallel", n_parallel, 1)
    cpus = usable_cpus()
    hto = detect_hyperthread_offset(cpus)
    n_core = len(cpus) - hto
    n_gpu = 0
    if use_gpu:
        import torch

        n_gpu = torch.cuda.device_count()
    if n_gpu > 0:
        n_gpu = min(n_gpu, n_parallel or n_gpu, n_core)
        return encode_affinity(
            n_cpu_core=(n_core // n_gpu) * n_gpu, n_gpu=n_gpu, hyperthread_offset=hto
        )
    n_parallel = n_parallel or 1
    if n_parallel > n_core:
        warnings.warn(
            f"n_parallel={n_parallel} runs but only {n_core} usable CPU cores "
            f"(os.sched_getaffinity): using {n_core} runs of one core each",
            stacklevel=2,
        )
        n_parallel = n_core
    cpu_per_run = n_core // n_parallel
    return encode_affinity(
        n_cpu_core=cpu_per_run * n_parallel,
        n_gpu=0,
        cpu_per_run=cpu_per_run,
        hyperthread_offset=hto,
    )


def cpus_of(entry) -> list[int]:
    """A ``workers_cpus`` entry (an int or a list of ints) as a list of CPU ids."""
    return [entry] if isinstance(entry, int) else list(entry)


# -- topology detection ----------------------------------------------------------------


def _read_cpu_list(path: Path) -> list[int] | None:
    """Parse a sysfs CPU list such as ``"0-3,40"``; None when unreadable."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    ids = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        ids.extend(range(int(low), int(high or low) + 1))
    return ids


def detect_hyperthread_offset(cpus=None) -> int:
    """``h`` such that usable CPU index ``i`` and ``i + h`` are hyperthread siblings.

    Read from sysfs; 0 when the usable CPUs hold no sibling pairs or the pairs do
    not follow the ``i, i + n/2`` numbering. Without sysfs, psutil's logical and
    physical counts are used when this process may use the whole machine.
    """
    cpus = usable_cpus() if cpus is None else list(cpus)
    index = {cpu: i for i, cpu in enumerate(cpus)}
    half = len(cpus) // 2
    paired = 0
    for i, cpu in enumerate(cpus):
        siblings = _read_cpu_list(_SYSFS_CPU / f"cpu{cpu}" / "topology" / "thread_siblings_list")
        if siblings is None:
            return _psutil_hyperthread_offset(cpus)
        others = [index[s] for s in siblings if s != cpu and s in index]
        if others:
            if others != [i + half if i < half else i - half]:
                return 0
            paired += 1
    return half if paired == len(cpus) and len(cpus) % 2 == 0 else 0


def _psutil_hyperthread_offset(cpus) -> int:
    import psutil

    logical, physical = psutil.cpu_count(logical=True), psutil.cpu_count(logical=False)
    if physical and logical == 2 * physical and len(cpus) == logical:
        return physical
    return 0


def detect_n_socket(cpus=None) -> int:
    """The number of CPU sockets (packages) the usable CPUs are on; 1 if unknown."""
    cpus = usable_cpus() if cpus is None else list(cpus)
    packages = set()
    for cpu in cpus:
        ids = _read_cpu_list(_SYSFS_CPU / f"cpu{cpu}" / "topology" / "physical_package_id")
        if not ids:
            return 1
        packages.add(ids[0])
    return max(1, len(packages))
