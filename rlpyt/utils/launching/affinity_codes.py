"""Affinity codes: their grammar, decoding, checks, and the layout they describe.

The part of :mod:`rlpyt.utils.launching.affinity` that needs no knowledge of this
machine: a code's tokens (``_FIELDS``, ``ABBREVS``, ``GRAMMAR``), the decoded
:class:`AffinitySpec`, the checks that a layout fits (``check_layout``) and the builder of the
affinity dict of one run slot from a spec and the CPU ids to use (``AffinityBuilder``). The
module docstring of :mod:`~rlpyt.utils.launching.affinity` describes codes and dicts.
"""

import re
from dataclasses import asdict, dataclass, replace

from rlpyt.utils.collections import AttrDict
from rlpyt.utils.validation import require_int_at_least

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


@dataclass(frozen=True)
class AffinitySpec:
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


# -- validation -------------------------------------------------------------------------


def spec_from_code(affinity_code: str) -> AffinitySpec:
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
    spec = AffinitySpec(**kwargs)
    try:
        spec = check_spec_types(spec)
    except ValueError as err:
        raise ValueError(f"affinity code {affinity_code!r}: {err}") from None
    return spec


def check_spec_types(spec: AffinitySpec) -> AffinitySpec:
    """``spec`` with its counts as ints (``4.0`` -> ``4``); a bad field is an error."""
    counts = {}
    for name, _, _ in _FIELDS:
        # An AffinitySpec field, by name.
        value = getattr(spec, name)
        if name in _BOOLS:
            if value not in (0, 1):  # True, False, 0 and 1
                raise TypeError(f"{name} must be True or False, got {value!r}")
        elif value is not None or name != "run_slot":
            counts[name] = require_int_at_least(name, value, 0 if name in _MAY_BE_ZERO else 1)
    return replace(spec, **counts)


def check_cpu_ids(cpus) -> list[int]:
    cpus = [require_int_at_least("cpus entry", cpu, 0) for cpu in cpus]
    if len(set(cpus)) != len(cpus) or not cpus:
        raise ValueError(f"cpus must be distinct CPU ids, at least one, got {cpus}")
    return cpus


def _n_positions(spec: AffinitySpec) -> tuple[int, int]:
    """(core blocks, cores per block): run slots without GPUs, GPUs with them."""
    cpu, skt = spec.n_cpu_core, spec.n_socket
    if spec.n_gpu == 0:
        return cpu // spec.cpu_per_run, spec.cpu_per_run
    n = spec.n_gpu
    return n, (cpu // skt) // (n // skt) if n >= skt else (cpu // skt) * (skt // n)


def socket_problem(spec: AffinitySpec) -> str | None:
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


def check_layout(spec: AffinitySpec) -> int:
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
    problem = socket_problem(s)
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


def n_cpu_ids(spec: AffinitySpec) -> int:
    """How many usable CPUs the layout spans (hyperthread siblings included)."""
    cpu, hto, skt = spec.n_cpu_core, spec.hyperthread_offset, spec.n_socket
    if hto == 0:
        return cpu
    return (skt - 1) * (hto // skt) + cpu // skt + hto


# -- building the dicts ----------------------------------------------------------------


class AffinityBuilder:
    """Turns a checked spec and the usable CPU ids into one run's affinity."""

    def __init__(self, spec: AffinitySpec, cpus: list[int]):
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
