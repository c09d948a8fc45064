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
any order; booleans are 0 or 1. Absent tokens take the defaults in ``_FIELDS``:
notably no ``hto`` token means no hyperthreads (the original rlpyt assumed them),
so a code never pins to CPUs its writer did not name.

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
import re
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rlpyt.utils.collections import AttrDict
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

# (encode_affinity parameter, abbreviation, value when the token is absent).
_FIELDS = (
    ("run_slot", "slt", None),
    ("n_cpu_core", "cpu", None),  # required
    ("n_gpu", "gpu", 0),
    ("contexts_per_gpu", "cxg", 1),
    ("gpu_per_run", "gpr", 1),
    ("cpu_per_run", "cpr", 1),
    ("cpu_per_worker", "cpw", 1),
    ("cpu_reserved", "res", 0),
    ("hyperthread_offset", "hto", 0),
    ("n_socket", "skt", 1),
    ("async_sample", "asm", False),
    ("sample_gpu_per_run", "sgr", 0),
    ("optim_sample_share_gpu", "oss", False),
    ("alternating", "alt", False),
    ("set_affinity", "saf", True),
)
ABBREVS = {abbrev: name for name, abbrev, _ in _FIELDS}
_ALIASES = {"ass": "asm"}  # the original rlpyt's spelling of async_sample
_BOOLS = {"async_sample", "optim_sample_share_gpu", "alternating", "set_affinity"}
_MAY_BE_ZERO = {"run_slot", "n_gpu", "cpu_reserved", "hyperthread_offset", "sample_gpu_per_run"}
_TOKEN = re.compile(r"(\d+)([a-z]+)")
GRAMMAR = (
    "an affinity code is <int><abbrev> tokens joined by '_' (e.g. '0slt_8cpu_1gpu'), "
    "each abbreviation at most once, from: "
    + ", ".join(f"{a} ({n})" for n, a, _ in _FIELDS)
    + "; booleans are 0 or 1"
)
_SYSFS_CPU = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class _Spec:
    """A decoded code, with the ``encode_affinity`` parameter names."""

    n_cpu_core: int
    run_slot: int | None = None
    n_gpu: int = 0
    contexts_per_gpu: int = 1
    gpu_per_run: int = 1
    cpu_per_run: int = 1
    cpu_per_worker: int = 1
    cpu_reserved: int = 0
    hyperthread_offset: int = 0
    n_socket: int = 1
    async_sample: bool = False
    sample_gpu_per_run: int = 0
    optim_sample_share_gpu: bool = False
    alternating: bool = False
    set_affinity: bool = True

    def code(self) -> str:
        values = asdict(self)
        tokens = []
        for name, abbrev, default in _FIELDS:
            value = values[name]
            if value is None or (value == default and name not in ("n_cpu_core", "n_gpu")):
                continue
            tokens.append(f"{int(value)}{abbrev}")
        return "_".join(tokens)


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
        require_int_at_least("n_cpu_core", n_cpu_core, 1)
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
    spec = _Spec(
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
    _check_types(spec)
    if n_socket is None:
        detected = replace(spec, n_socket=detect_n_socket(cpus))
        if _socket_problem(detected) is None:
            spec = detected
    _check(spec)
    return spec.code()


def decode_affinity(affinity_code: str) -> dict[str, int]:
    """``{abbrev: value}`` for the tokens of ``affinity_code`` (no defaults added)."""
    if not isinstance(affinity_code, str) or not affinity_code:
        raise ValueError(f"empty or non-string affinity code {affinity_code!r}: {GRAMMAR}")
    values = {}
    for token in affinity_code.split("_"):
        match = _TOKEN.fullmatch(token)
        abbrev = _ALIASES.get(match.group(2), match.group(2)) if match else None
        if abbrev not in ABBREVS:
            raise ValueError(f"bad token {token!r} in affinity code {affinity_code!r}: {GRAMMAR}")
        if abbrev in values:
            raise ValueError(
                f"token {token!r} repeats {abbrev!r} in affinity code {affinity_code!r}: {GRAMMAR}"
            )
        values[abbrev] = int(match.group(1))
    return values


def prepend_run_slot(run_slot: int, affinity_code: str) -> str:
    """``f"{run_slot}slt_{affinity_code}"``, after checking the code has no slot yet."""
    require_int_at_least("run_slot", run_slot, 0)
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
    return _check(_spec(affinity_code))


def affinity_from_code(run_slot_affinity_code: str, cpus=None):
    """The affinity of one run: a run dict, a list of them, or an async dict.

    See the module docstring for the formats. ``cpus`` are the usable CPU ids
    (default ``usable_cpus()``); a code that needs more of them is an error.
    """
    run_slot, _ = remove_run_slot(run_slot_affinity_code)
    spec = _spec(run_slot_affinity_code)
    _check(spec)
    cpus = usable_cpus() if cpus is None else _check_cpus(cpus)
    needed = _n_cpu_ids(spec)
    if needed > len(cpus):
        raise ValueError(
            f"affinity code {run_slot_affinity_code!r} lays out {needed} CPU ids "
            f"(n_cpu_core={spec.n_cpu_core}, hyperthread_offset={spec.hyperthread_offset}, "
            f"n_socket={spec.n_socket}) but this process may use only {len(cpus)} "
            f"(os.sched_getaffinity: {cpus}); lower n_cpu_core or allow more cores"
        )
    return _Builder(spec, cpus).build(run_slot)


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
        require_int_at_least("n_parallel", n_parallel, 1)
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


# -- validation -------------------------------------------------------------------------


def _spec(affinity_code: str) -> _Spec:
    values = decode_affinity(affinity_code)
    if "cpu" not in values:
        raise ValueError(f"affinity code {affinity_code!r} lacks the 'cpu' token: {GRAMMAR}")
    kwargs = {}
    for abbrev, value in values.items():
        name = ABBREVS[abbrev]
        if name in _BOOLS:
            if value not in (0, 1):
                raise ValueError(
                    f"token '{value}{abbrev}' in affinity code {affinity_code!r}: {name} "
                    f"is a boolean, 0 or 1: {GRAMMAR}"
                )
            value = bool(value)
        kwargs[name] = value
    spec = _Spec(**kwargs)
    try:
        _check_types(spec)
    except ValueError as err:
        raise ValueError(f"affinity code {affinity_code!r}: {err}") from None
    return spec


def _check_types(spec: _Spec) -> None:
    for name, _, _ in _FIELDS:
        value = getattr(spec, name)
        if name in _BOOLS:
            if value not in (0, 1):  # True, False, 0 and 1
                raise TypeError(f"{name} must be True or False, got {value!r}")
        elif value is not None or name != "run_slot":
            require_int_at_least(name, value, 0 if name in _MAY_BE_ZERO else 1)


def _check_cpus(cpus) -> list[int]:
    cpus = list(cpus)
    for cpu in cpus:
        require_int_at_least("cpus entry", cpu, 0)
    if len(set(cpus)) != len(cpus) or not cpus:
        raise ValueError(f"cpus must be distinct CPU ids, at least one, got {cpus}")
    return cpus


def _n_positions(spec: _Spec) -> tuple[int, int]:
    """(core blocks, cores per block): run slots without GPUs, GPUs with them."""
    cpu, skt = spec.n_cpu_core, spec.n_socket
    if spec.n_gpu == 0:
        return cpu // spec.cpu_per_run, spec.cpu_per_run
    n = spec.n_gpu
    return n, (cpu // skt) // (n // skt) if n >= skt else (cpu // skt) * (skt // n)


def _socket_problem(spec: _Spec) -> str | None:
    cpu, hto, skt = spec.n_cpu_core, spec.hyperthread_offset, spec.n_socket
    n_pos, size = _n_positions(spec)
    what = "GPUs" if spec.n_gpu else "run slots"
    if skt == 1 or n_pos == 0:
        return None
    if cpu % skt or hto % skt:
        return f"n_cpu_core={cpu} and hyperthread_offset={hto} must both divide by n_socket={skt}"
    if (n_pos >= skt and n_pos % skt) or (n_pos < skt and (skt % n_pos or size % (skt // n_pos))):
        return f"{n_pos} {what} of {size} cores each do not split evenly over n_socket={skt}"
    return None


def _check(spec: _Spec) -> int:
    """Raise ``ValueError`` showing the arithmetic if ``spec`` is impossible; else the slot count."""
    s = spec
    cpu, hto, gpu = s.n_cpu_core, s.hyperthread_offset, s.n_gpu
    if 0 < hto < cpu:
        raise ValueError(
            f"hyperthread_offset={hto} is below n_cpu_core={cpu}: core 0's sibling {hto} "
            "would also be a core; use 0 to ignore hyperthreads"
        )
    if gpu == 0 and (s.gpu_per_run > 1 or s.contexts_per_gpu > 1 or s.sample_gpu_per_run):
        raise ValueError(
            "gpu_per_run, contexts_per_gpu and sample_gpu_per_run need GPUs, but n_gpu=0"
        )
    if gpu and s.cpu_per_run != 1:
        raise ValueError(
            f"cpu_per_run={s.cpu_per_run} is for CPU-only runs; with n_gpu={gpu} each GPU "
            f"gets n_cpu_core // n_gpu = {cpu // gpu} cores"
        )
    if not s.async_sample and (s.sample_gpu_per_run or s.optim_sample_share_gpu):
        raise ValueError("sample_gpu_per_run and optim_sample_share_gpu need async_sample=True")
    if s.optim_sample_share_gpu and s.sample_gpu_per_run:
        raise ValueError(
            "optim_sample_share_gpu=True samples on the optimizer's GPUs: "
            f"leave sample_gpu_per_run=0 (got {s.sample_gpu_per_run})"
        )
    n_pos, size = _n_positions(s)
    if gpu == 0 and n_pos == 0:
        raise ValueError(f"cpu_per_run={s.cpu_per_run} exceeds n_cpu_core={cpu}")
    if gpu and size == 0:
        raise ValueError(f"n_cpu_core={cpu} gives n_gpu={gpu} GPUs {cpu}/{gpu} < 1 core each")
    problem = _socket_problem(s)
    if problem:
        raise ValueError(f"{problem}; pass n_socket=1 to ignore sockets")
    opt_cores = max(s.cpu_reserved, 1)
    if s.async_sample:
        if s.contexts_per_gpu > 1:
            raise ValueError("contexts_per_gpu is for synchronous runs, not async_sample")
        gpus = s.gpu_per_run + s.sample_gpu_per_run if gpu else 0
        if gpus > gpu:
            raise ValueError(
                f"gpu_per_run={s.gpu_per_run} + sample_gpu_per_run={s.sample_gpu_per_run} "
                f"= {gpus} GPUs per run, more than n_gpu={gpu}"
            )
        n_slots = gpu // gpus if gpu else n_pos
        n_servers = (s.gpu_per_run if s.optim_sample_share_gpu else s.sample_gpu_per_run) or 1
        n_opt = s.gpu_per_run if gpu else 1
        run_cores = size * gpus if gpu else size
        free = run_cores - n_opt * opt_cores
        if free // n_servers < s.cpu_per_worker:
            raise ValueError(
                f"each run has {run_cores} cores; its {n_opt} optimizer(s) take "
                f"{n_opt} x max(cpu_reserved, 1) = {n_opt * opt_cores}, leaving {free} for "
                f"{n_servers} sampler(s), fewer than cpu_per_worker={s.cpu_per_worker} each"
            )
    else:
        if gpu and gpu % s.gpu_per_run:
            raise ValueError(
                f"n_gpu={gpu} is not divisible by gpu_per_run={s.gpu_per_run} "
                f"({gpu} % {s.gpu_per_run} = {gpu % s.gpu_per_run})"
            )
        if s.gpu_per_run > 1 and s.contexts_per_gpu > 1:
            raise ValueError("gpu_per_run > 1 runs use one context per GPU: contexts_per_gpu=1")
        run_cores = size // s.contexts_per_gpu if gpu else size
        if run_cores == 0:
            raise ValueError(
                f"each GPU gets {size} cores, fewer than contexts_per_gpu={s.contexts_per_gpu}"
            )
        if run_cores - s.cpu_reserved < s.cpu_per_worker:
            raise ValueError(
                f"each run (or rank) has {run_cores} cores; less cpu_reserved={s.cpu_reserved} "
                f"leaves {run_cores - s.cpu_reserved}, fewer than cpu_per_worker={s.cpu_per_worker}"
            )
        n_slots = (gpu * s.contexts_per_gpu) // s.gpu_per_run if gpu else n_pos
    if s.run_slot is not None and s.run_slot >= n_slots:
        raise ValueError(
            f"run_slot={s.run_slot} but this layout has {n_slots} run slots (0..{n_slots - 1})"
        )
    return n_slots


def _n_cpu_ids(spec: _Spec) -> int:
    """How many usable CPUs the layout spans (hyperthread siblings included)."""
    cpu, hto, skt = spec.n_cpu_core, spec.hyperthread_offset, spec.n_socket
    if hto == 0:
        return cpu
    return (skt - 1) * (hto // skt) + cpu // skt + hto


# -- building the dicts ----------------------------------------------------------------


class _Builder:
    """Turns a checked spec and the usable CPU ids into one run's affinity."""

    def __init__(self, spec: _Spec, cpus: list[int]):
        self.s = spec
        self.cpus = cpus

    def build(self, slot: int):
        s = self.s
        if s.async_sample:
            return self._async(slot)
        if s.n_gpu == 0:
            return self._run(self._block(slot), cuda_idx=None, reserved=s.cpu_reserved)
        if s.gpu_per_run > 1:
            gpus = range(slot * s.gpu_per_run, (slot + 1) * s.gpu_per_run)
            return [self._run(self._block(g), g, s.cpu_reserved) for g in gpus]
        gpu, context = slot % s.n_gpu, slot // s.n_gpu
        per = _n_positions(s)[1] // s.contexts_per_gpu
        cores = self._block(gpu)[context * per : (context + 1) * per]
        return self._run(cores, cuda_idx=gpu, reserved=s.cpu_reserved)

    def _block(self, pos: int) -> list[int]:
        """Core indices of block ``pos`` (a GPU, or a CPU-only run slot), socket-aware."""
        s = self.s
        n_pos, size = _n_positions(s)
        stride = max(s.n_cpu_core, s.hyperthread_offset) // s.n_socket
        if n_pos >= s.n_socket:
            sock, j = divmod(pos, n_pos // s.n_socket)
            start = sock * stride + j * size
            return list(range(start, start + size))
        span = s.n_socket // n_pos  # one block straddles `span` sockets
        part = size // span
        return [(pos * span + t) * stride + i for t in range(span) for i in range(part)]

    def _ids(self, cores) -> list[int]:
        """CPU ids of ``cores``, followed by their hyperthread siblings."""
        hto = self.s.hyperthread_offset
        return [self.cpus[c] for c in cores] + ([self.cpus[c + hto] for c in cores] if hto else [])

    def _run(self, cores, cuda_idx, reserved) -> AttrDict:
        s = self.s
        cpw = s.cpu_per_worker
        worker_cores = cores[reserved:]
        worker_cores = worker_cores[: len(worker_cores) // cpw * cpw]  # whole workers only
        groups = [worker_cores[i : i + cpw] for i in range(0, len(worker_cores), cpw)]
        if s.hyperthread_offset:
            siblings = [[c + s.hyperthread_offset for c in g] for g in groups]
            if s.alternating:
                groups = groups + siblings
            else:
                groups = [g + h for g, h in zip(groups, siblings)]
        elif s.alternating:
            groups = groups + groups
        workers = [[self.cpus[c] for c in g] for g in groups]
        master = self._ids(cores)
        return AttrDict(
            all_cpus=master,
            master_cpus=master,
            workers_cpus=[w[0] if len(w) == 1 else w for w in workers],
            master_torch_threads=len(cores),
            worker_torch_threads=cpw,
            cuda_idx=cuda_idx,
            alternating=bool(s.alternating),
            set_affinity=bool(s.set_affinity),
        )

    def _async(self, slot: int) -> AttrDict:
        s = self.s
        opt_cores = max(s.cpu_reserved, 1)
        if s.n_gpu:
            per_run = s.gpu_per_run + s.sample_gpu_per_run
            gpus = list(range(slot * per_run, (slot + 1) * per_run))
            opt_gpus = gpus[: s.gpu_per_run]
            smp_gpus = opt_gpus if s.optim_sample_share_gpu else gpus[s.gpu_per_run :]
            cores = [c for g in gpus for c in self._block(g)]
        else:
            opt_gpus, smp_gpus, cores = [None], [], self._block(slot)
        optimizer = []
        for i, gpu in enumerate(opt_gpus):
            mine = cores[i * opt_cores : (i + 1) * opt_cores]
            optimizer.append(
                AttrDict(
                    cpus=self._ids(mine),
                    cuda_idx=gpu,
                    torch_threads=len(mine),
                    set_affinity=bool(s.set_affinity),
                )
            )
        rest = cores[len(opt_gpus) * opt_cores :]
        if smp_gpus:
            per = len(rest) // len(smp_gpus)
            sampler = [
                self._run(rest[i * per : (i + 1) * per], gpu, reserved=0)
                for i, gpu in enumerate(smp_gpus)
            ]
            sampler_cpus = [c for d in sampler for c in d.master_cpus]
        else:
            sampler = self._run(rest, cuda_idx=None, reserved=0)
            sampler_cpus = sampler.master_cpus
        return AttrDict(
            all_cpus=[c for d in optimizer for c in d.cpus] + sampler_cpus,
            optimizer=optimizer,
            sampler=sampler,
            set_affinity=bool(s.set_affinity),
        )
