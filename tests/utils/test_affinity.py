"""Affinity codes: round trips, exact layouts on small, simulated and hyperthreaded machines, errors.

Machines are simulated: ``usable_cpus`` (os.sched_getaffinity), the sysfs topology directory
and ``torch.cuda.device_count`` are replaced, so every expected core list is exact.
"""

import os
import random

import psutil
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlpyt.utils.launching import affinity as aff
from rlpyt.utils.launching.affinity import (
    ABBREVS,
    affinity_from_code,
    cpus_of,
    decode_affinity,
    detect_hyperthread_offset,
    detect_n_socket,
    encode_affinity,
    get_n_run_slots,
    make_affinity,
    prepend_run_slot,
    quick_affinity_code,
    remove_run_slot,
)

# What a missing token decodes to (the encoder must fill these in explicitly to round-trip).
DECODE_DEFAULTS = dict(n_gpu=0, hyperthread_offset=0, n_socket=1)


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """``machine(cpus, siblings={}, packages={})``: a fake topology with no GPU."""

    def make(cpus, siblings=None, packages=None):
        siblings, packages = siblings or {}, packages or {}
        for cpu in cpus:
            topo = tmp_path / f"cpu{cpu}" / "topology"
            topo.mkdir(parents=True, exist_ok=True)
            group = sorted({cpu, *siblings.get(cpu, ())})
            (topo / "thread_siblings_list").write_text(",".join(map(str, group)) + "\n")
            (topo / "physical_package_id").write_text(f"{packages.get(cpu, 0)}\n")
        monkeypatch.setattr(aff, "usable_cpus", lambda: sorted(cpus))
        monkeypatch.setattr(aff, "_SYSFS_CPU", tmp_path)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)

    return make


def run_dict(master, workers, cuda_idx=None, threads=None, cpw=1, alt=False, saf=True):
    return dict(
        all_cpus=master,
        master_cpus=master,
        workers_cpus=workers,
        master_torch_threads=len(master) if threads is None else threads,
        worker_torch_threads=cpw,
        cuda_idx=cuda_idx,
        alternating=alt,
        set_affinity=saf,
    )


def slot(code, k, cpus):
    return affinity_from_code(prepend_run_slot(k, code), cpus=cpus)


def reencode(code):
    """decode -> encode_affinity keywords -> code again."""
    kwargs = dict(DECODE_DEFAULTS)
    kwargs.update({ABBREVS[a]: v for a, v in decode_affinity(code).items()})
    return encode_affinity(**kwargs)


# -- a 2-core machine without GPU ---------------------------------------------------


def test_two_core_machine_gives_two_one_core_slots(machine):
    machine([0, 1])
    code = encode_affinity()
    assert code == "2cpu_0gpu"
    assert get_n_run_slots(code) == 2
    assert make_affinity(run_slot=0) == run_dict([0], [0])
    assert make_affinity(run_slot=1) == run_dict([1], [1])
    assert make_affinity(run_slot=0, cpu_per_run=2) == run_dict([0, 1], [0, 1])


def test_core_ids_come_from_sched_getaffinity_not_from_zero(machine):
    machine([2, 5])
    code = encode_affinity()
    assert code == "2cpu_0gpu"
    assert affinity_from_code(prepend_run_slot(0, code)) == run_dict([2], [2])
    assert affinity_from_code(prepend_run_slot(1, code)) == run_dict([5], [5])
    assert make_affinity(cpu_per_run=2) == run_dict([2, 5], [2, 5])


def test_quick_affinity_code_on_simulated_two_core_machine(machine):
    machine([2, 5])
    assert quick_affinity_code() == "2cpu_0gpu_2cpr"
    assert quick_affinity_code(n_parallel=2) == "2cpu_0gpu"
    with pytest.warns(UserWarning, match="n_parallel=3 runs but only 2 usable CPU cores"):
        assert quick_affinity_code(n_parallel=3, use_gpu=False) == "2cpu_0gpu"
    assert slot(quick_affinity_code(), 0, [2, 5]) == run_dict([2, 5], [2, 5])


def test_quick_affinity_code_on_this_machine():
    cpus = sorted(os.sched_getaffinity(0))
    code = quick_affinity_code(use_gpu=False)
    assert get_n_run_slots(code) == 1
    one_run = affinity_from_code(prepend_run_slot(0, code))
    assert sorted(one_run["master_cpus"]) == cpus  # one run gets every usable core
    assert one_run["cuda_idx"] is None
    code = quick_affinity_code()
    assert get_n_run_slots(code) == max(1, torch.cuda.device_count())
    assert set(affinity_from_code(prepend_run_slot(0, code))["master_cpus"]) <= set(cpus)


def test_too_many_cores_names_both_numbers(machine):
    machine([2, 5])
    with pytest.raises(ValueError, match=r"lays out 4 CPU ids .* may use only 2 .*\[2, 5\]"):
        affinity_from_code("0slt_4cpu")
    with pytest.raises(ValueError, match="lays out 4 CPU ids"):
        make_affinity(n_cpu_core=2, hyperthread_offset=2)  # 2 cores + 2 siblings


# -- topology detection ----------------------------------------------------------------


def test_detects_hyperthreads_and_sockets(machine):
    # 2 sockets x 2 cores x 2 threads; Linux numbers the sibling of core c as c + 4.
    siblings = {c: [(c + 4) % 8] for c in range(8)}
    packages = {0: 0, 1: 0, 4: 0, 5: 0, 2: 1, 3: 1, 6: 1, 7: 1}
    machine(range(8), siblings, packages)
    cpus = list(range(8))
    assert detect_hyperthread_offset(cpus) == 4
    assert detect_n_socket(cpus) == 2
    code = encode_affinity()
    assert code == "4cpu_0gpu_4hto_2skt"
    assert [slot(code, k, cpus)["master_cpus"] for k in range(4)] == [
        [0, 4],
        [1, 5],
        [2, 6],
        [3, 7],
    ]
    assert slot(code, 2, cpus)["workers_cpus"] == [[2, 6]]
    # Counting hyperthreads as cores turns the offset off.
    assert encode_affinity(n_cpu_core=8) == "8cpu_0gpu_2skt"
    # A container given one thread of each core sees no siblings and one socket per pair.
    assert detect_hyperthread_offset([0, 1, 2, 3]) == 0
    assert detect_n_socket([0, 1]) == 1


def test_uneven_detected_sockets_fall_back_to_one(machine):
    machine(range(4), packages={0: 0, 1: 0, 2: 1, 3: 1})
    assert encode_affinity(cpu_per_run=2) == "4cpu_0gpu_2cpr_2skt"
    assert encode_affinity(n_cpu_core=3) == "3cpu_0gpu"  # 3 cores do not split over 2 sockets
    with pytest.raises(ValueError, match="n_cpu_core=3 .* divide by n_socket=2; pass n_socket=1"):
        encode_affinity(n_cpu_core=3, n_socket=2)


def test_psutil_fallback_without_sysfs(monkeypatch, tmp_path):
    monkeypatch.setattr(aff, "_SYSFS_CPU", tmp_path / "missing")
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 8 if logical else 4)
    assert detect_hyperthread_offset(range(8)) == 4
    assert detect_hyperthread_offset(range(6)) == 0  # not the whole machine: no guess
    assert detect_n_socket(range(8)) == 1


# -- a simulated 8-GPU, 40-core machine ------------------------------------------------


def test_one_run_per_gpu_gets_five_cores():
    code = encode_affinity(n_cpu_core=40, n_gpu=8, hyperthread_offset=0, n_socket=1)
    assert code == "40cpu_8gpu"
    assert get_n_run_slots(code) == 8
    for k in range(8):
        cores = list(range(5 * k, 5 * k + 5))
        assert slot(code, k, range(40)) == run_dict(cores, cores, cuda_idx=k)


def test_one_run_per_gpu_with_hyperthreads_gets_sibling_threads():
    code = encode_affinity(n_cpu_core=40, n_gpu=8, hyperthread_offset=40, n_socket=1)
    assert code == "40cpu_8gpu_40hto"
    assert slot(code, 3, range(80)) == run_dict(
        [15, 16, 17, 18, 19, 55, 56, 57, 58, 59],
        [[15, 55], [16, 56], [17, 57], [18, 58], [19, 59]],
        cuda_idx=3,
        threads=5,
    )


def test_two_contexts_per_gpu_fill_every_gpu_first():
    code = encode_affinity(
        n_cpu_core=40, n_gpu=8, contexts_per_gpu=2, hyperthread_offset=0, n_socket=1
    )
    assert code == "40cpu_8gpu_2cxg"
    assert get_n_run_slots(code) == 16
    # Each GPU owns 40 // 8 = 5 cores; each context gets 5 // 2 = 2; one core per GPU idles.
    runs = {k: slot(code, k, range(40)) for k in (0, 1, 7, 8, 15)}
    layout = {k: (a["cuda_idx"], a["master_cpus"]) for k, a in runs.items()}
    assert layout == {
        0: (0, [0, 1]),
        1: (1, [5, 6]),
        7: (7, [35, 36]),
        8: (0, [2, 3]),
        15: (7, [37, 38]),
    }
    used = [c for k in range(16) for c in slot(code, k, range(40))["master_cpus"]]
    assert len(used) == len(set(used)) == 32
    assert set(range(40)) - set(used) == {4, 9, 14, 19, 24, 29, 34, 39}


def test_sockets_keep_a_gpus_cores_together():
    # Half the cores of a 2-socket, 80-thread machine: 10 per socket, 2 GPUs per socket.
    code = encode_affinity(n_cpu_core=20, n_gpu=4, hyperthread_offset=40, n_socket=2)
    assert code == "20cpu_4gpu_40hto_2skt"
    assert [slot(code, k, range(80))["master_cpus"] for k in range(4)] == [
        [0, 1, 2, 3, 4, 40, 41, 42, 43, 44],
        [5, 6, 7, 8, 9, 45, 46, 47, 48, 49],
        [20, 21, 22, 23, 24, 60, 61, 62, 63, 64],
        [25, 26, 27, 28, 29, 65, 66, 67, 68, 69],
    ]


def test_multi_gpu_run_gives_one_dict_per_rank():
    code = encode_affinity(n_cpu_core=40, n_gpu=8, gpu_per_run=2, hyperthread_offset=0, n_socket=1)
    assert code == "40cpu_8gpu_2gpr"
    assert get_n_run_slots(code) == 4
    ranks = slot(code, 1, range(40))
    assert ranks == [
        run_dict([10, 11, 12, 13, 14], [10, 11, 12, 13, 14], cuda_idx=2),
        run_dict([15, 16, 17, 18, 19], [15, 16, 17, 18, 19], cuda_idx=3),
    ]


def test_async_with_sampling_gpus():
    kw = dict(n_cpu_core=40, n_gpu=8, async_sample=True, hyperthread_offset=0, n_socket=1)
    code = encode_affinity(gpu_per_run=2, sample_gpu_per_run=2, **kw)
    assert code == "40cpu_8gpu_2gpr_1asm_2sgr"
    assert get_n_run_slots(code) == 2
    a = slot(code, 1, range(40))
    assert a["optimizer"] == [
        dict(cpus=[20], cuda_idx=4, torch_threads=1, set_affinity=True),
        dict(cpus=[21], cuda_idx=5, torch_threads=1, set_affinity=True),
    ]
    assert a["sampler"] == [
        run_dict(list(range(22, 31)), list(range(22, 31)), cuda_idx=6),
        run_dict(list(range(31, 40)), list(range(31, 40)), cuda_idx=7),
    ]
    assert a["all_cpus"] == list(range(20, 40))
    assert a["set_affinity"] is True


def test_async_sharing_the_optimizer_gpu_and_cpu_sampler():
    kw = dict(n_cpu_core=40, n_gpu=8, async_sample=True, hyperthread_offset=0, n_socket=1)
    shared = slot(encode_affinity(optim_sample_share_gpu=True, **kw), 2, range(40))
    assert shared["optimizer"] == [dict(cpus=[10], cuda_idx=2, torch_threads=1, set_affinity=True)]
    assert shared["sampler"] == [run_dict([11, 12, 13, 14], [11, 12, 13, 14], cuda_idx=2)]
    cpu_sampler = slot(encode_affinity(cpu_reserved=2, **kw), 0, range(40))
    assert cpu_sampler["optimizer"] == [
        dict(cpus=[0, 1], cuda_idx=0, torch_threads=2, set_affinity=True)
    ]
    assert cpu_sampler["sampler"] == run_dict([2, 3, 4], [2, 3, 4])


def test_cpu_only_async_splits_the_run_cores():
    code = encode_affinity(
        n_cpu_core=8, n_gpu=0, cpu_per_run=4, async_sample=True, hyperthread_offset=0, n_socket=1
    )
    assert code == "8cpu_0gpu_4cpr_1asm"
    assert get_n_run_slots(code) == 2
    a = slot(code, 1, range(8))
    assert a["optimizer"] == [dict(cpus=[4], cuda_idx=None, torch_threads=1, set_affinity=True)]
    assert a["sampler"] == run_dict([5, 6, 7], [5, 6, 7])
    assert a["all_cpus"] == [4, 5, 6, 7]


# -- worker layouts ---------------------------------------------------------------------


def cpu_code(**kw):
    return encode_affinity(n_gpu=0, n_socket=1, **{"hyperthread_offset": 0, **kw})


def test_alternating_doubles_the_workers():
    code = cpu_code(n_cpu_core=4, cpu_per_run=4, alternating=True)
    assert code == "4cpu_0gpu_4cpr_1alt"
    assert slot(code, 0, range(4)) == run_dict([0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2, 3], alt=True)
    # With hyperthreads the second group runs on the siblings.
    code = cpu_code(n_cpu_core=4, cpu_per_run=4, alternating=True, hyperthread_offset=4)
    assert slot(code, 0, range(8))["workers_cpus"] == [0, 1, 2, 3, 4, 5, 6, 7]
    gpu = encode_affinity(n_cpu_core=4, n_gpu=1, alternating=True, hyperthread_offset=0, n_socket=1)
    assert slot(gpu, 0, range(4))["workers_cpus"] == [0, 1, 2, 3, 0, 1, 2, 3]


def test_reserved_cores_and_cores_per_worker():
    code = cpu_code(n_cpu_core=6, cpu_per_run=6, cpu_per_worker=2, cpu_reserved=1)
    assert code == "6cpu_0gpu_6cpr_2cpw_1res"
    a = slot(code, 0, [10, 11, 12, 13, 14, 15])
    # Core 10 is the master's alone; core 15 is left over (no half workers).
    assert a == run_dict(list(range(10, 16)), [[11, 12], [13, 14]], cpw=2)
    assert [cpus_of(w) for w in a["workers_cpus"]] == [[11, 12], [13, 14]]
    assert cpus_of(7) == [7]


def test_set_affinity_false_passes_through():
    code = cpu_code(n_cpu_core=2, set_affinity=False)
    assert code == "2cpu_0gpu_0saf"
    assert slot(code, 1, [0, 1]) == run_dict([1], [1], saf=False)


# -- round trips --------------------------------------------------------------------------

ROUND_TRIP = [
    dict(n_cpu_core=40, n_gpu=8),
    dict(n_cpu_core=40, n_gpu=8, contexts_per_gpu=2, hyperthread_offset=40, n_socket=2),
    dict(n_cpu_core=40, n_gpu=8, gpu_per_run=4, cpu_per_worker=2, cpu_reserved=1),
    dict(n_cpu_core=40, n_gpu=8, async_sample=True, gpu_per_run=2, sample_gpu_per_run=2),
    dict(n_cpu_core=40, n_gpu=8, async_sample=True, optim_sample_share_gpu=True, run_slot=7),
    dict(n_cpu_core=8, n_gpu=0, cpu_per_run=4, async_sample=True, alternating=True),
    dict(n_cpu_core=6, n_gpu=0, cpu_per_run=3, set_affinity=False, run_slot=1),
    dict(n_cpu_core=4, n_gpu=1, alternating=True, hyperthread_offset=4),
]


@pytest.mark.parametrize("kwargs", ROUND_TRIP)
def test_round_trip_keeps_every_setting(kwargs):
    full = {**DECODE_DEFAULTS, **kwargs}
    code = encode_affinity(**full)
    decoded = {ABBREVS[a]: v for a, v in decode_affinity(code).items()}
    assert {**DECODE_DEFAULTS, **decoded} == {k: int(v) for k, v in full.items()}
    assert reencode(code) == code
    # Token order does not matter.
    tokens = code.split("_")
    random.Random(0).shuffle(tokens)
    assert get_n_run_slots("_".join(tokens)) == get_n_run_slots(code)
    if "run_slot" not in kwargs:
        shuffled = "_".join(tokens + ["0slt"])
        n_cpus = 80 if "hyperthread_offset" in kwargs else 40
        assert affinity_from_code(shuffled, cpus=range(n_cpus)) == slot(code, 0, range(n_cpus))


@settings(max_examples=60, deadline=None)
@given(
    cpu_per_run=st.integers(1, 6),
    n_slots=st.integers(1, 5),
    extra=st.integers(0, 5),
    cpw=st.integers(1, 6),
    res=st.integers(0, 5),
    hyperthreads=st.booleans(),
    alternating=st.booleans(),
)
def test_cpu_layouts_are_disjoint_and_round_trip(
    cpu_per_run, n_slots, extra, cpw, res, hyperthreads, alternating
):
    cpw = min(cpw, cpu_per_run)
    res = min(res, cpu_per_run - cpw)
    n_cpu_core = cpu_per_run * n_slots + min(extra, cpu_per_run - 1)
    hto = n_cpu_core if hyperthreads else 0
    code = cpu_code(
        n_cpu_core=n_cpu_core,
        cpu_per_run=cpu_per_run,
        cpu_per_worker=cpw,
        cpu_reserved=res,
        hyperthread_offset=hto,
        alternating=alternating,
    )
    assert reencode(code) == code
    assert get_n_run_slots(code) == n_slots
    cpus = [3 * i + 1 for i in range(n_cpu_core + hto)]  # ids need not be 0..n-1
    seen = []
    for k in range(n_slots):
        a = slot(code, k, cpus)
        cores = cpus[k * cpu_per_run : (k + 1) * cpu_per_run]
        siblings = cpus[hto + k * cpu_per_run : hto + (k + 1) * cpu_per_run] if hto else []
        assert a["master_cpus"] == cores + siblings
        assert a["master_torch_threads"] == cpu_per_run
        n_workers = (cpu_per_run - res) // cpw * (2 if alternating else 1)
        assert len(a["workers_cpus"]) == n_workers
        flat = [c for w in a["workers_cpus"] for c in cpus_of(w)]
        assert set(flat) <= set(cores[res:] + siblings[res:])
        if cpw == 1 and not (hto and not alternating):
            assert all(isinstance(w, int) for w in a["workers_cpus"])
        seen += a["master_cpus"]
    assert len(seen) == len(set(seen))


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, token",
    [
        ("0slt_4cpu_xyz", "'xyz'"),
        ("0slt_4cpu_2gpu_foo3", "'foo3'"),
        ("0slt_cpu4", "'cpu4'"),
        ("0slt_4cpu_-1gpu", "'-1gpu'"),
        ("0slt_4cpu__1gpu", "''"),
        ("0slt_4CPU", "'4CPU'"),
    ],
)
def test_malformed_code_names_the_token_and_the_grammar(code, token):
    with pytest.raises(ValueError, match=f"bad token {token}") as err:
        affinity_from_code(code)
    assert "<int><abbrev> tokens joined by '_'" in str(err.value)
    assert "cxg (contexts_per_gpu)" in str(err.value)


def test_other_malformed_codes():
    with pytest.raises(ValueError, match="empty or non-string affinity code ''.*<int><abbrev>"):
        get_n_run_slots("")
    with pytest.raises(ValueError, match="token '8cpu' repeats 'cpu'.*<int><abbrev>"):
        get_n_run_slots("4cpu_1gpu_8cpu")
    with pytest.raises(ValueError, match="lacks the 'cpu' token"):
        get_n_run_slots("1gpu")
    with pytest.raises(ValueError, match="token '2alt'.*alternating is a boolean, 0 or 1"):
        get_n_run_slots("4cpu_2alt")
    with pytest.raises(ValueError, match="affinity code '0slt_0cpu': n_cpu_core must be >= 1"):
        affinity_from_code("0slt_0cpu")


def test_missing_run_slot_is_named():
    with pytest.raises(ValueError, match="'4cpu_0gpu' has no run slot token '<k>slt'"):
        affinity_from_code("4cpu_0gpu")
    with pytest.raises(ValueError, match="already has a run slot"):
        prepend_run_slot(1, "0slt_4cpu")
    assert remove_run_slot("4cpu_3slt_1gpu") == (3, "4cpu_1gpu")


def test_original_async_spelling_is_accepted():
    assert decode_affinity("0slt_4cpu_1ass") == {"slt": 0, "cpu": 4, "asm": 1}
    a = affinity_from_code("0slt_4cpu_4cpr_1ass", cpus=range(4))
    assert a["optimizer"][0]["cpus"] == [0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_gpu=8, gpu_per_run=3), r"n_gpu=8 is not divisible by gpu_per_run=3 \(8 % 3 = 2\)"),
        (dict(n_gpu=8, run_slot=8), r"run_slot=8 but this layout has 8 run slots \(0..7\)"),
        (dict(n_gpu=0, cpu_per_run=41), "cpu_per_run=41 exceeds n_cpu_core=40"),
        (dict(n_gpu=8, contexts_per_gpu=6), "each GPU gets 5 cores, fewer than contexts_per_gpu=6"),
        (dict(n_gpu=8, cpu_per_run=5), "cpu_per_run=5 is for CPU-only runs"),
        (dict(n_gpu=0, gpu_per_run=2), "need GPUs, but n_gpu=0"),
        (dict(n_gpu=8, sample_gpu_per_run=1), "need async_sample=True"),
        (dict(n_gpu=8, hyperthread_offset=20), "hyperthread_offset=20 is below n_cpu_core=40"),
        (dict(n_gpu=8, cpu_reserved=5), "leaves 0, fewer than cpu_per_worker=1"),
        (dict(n_gpu=2, async_sample=True, gpu_per_run=2, sample_gpu_per_run=1), "= 3 GPUs"),
        (dict(n_gpu=6, n_socket=4), "6 GPUs of 10 cores each do not split evenly over n_socket=4"),
        (dict(n_gpu=-1), "n_gpu must be >= 0, got -1"),
    ],
)
def test_impossible_layouts_show_the_arithmetic(kwargs, message):
    kwargs = {"n_cpu_core": 40, "hyperthread_offset": 0, "n_socket": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        encode_affinity(**kwargs)


def test_wrong_types_are_named():
    with pytest.raises(TypeError, match="n_gpu must be an integer, got True"):
        encode_affinity(n_cpu_core=4, n_gpu=True)
    with pytest.raises(TypeError, match="alternating must be True or False, got 'yes'"):
        encode_affinity(n_cpu_core=4, n_gpu=0, alternating="yes")
    with pytest.raises(ValueError, match="cpus must be distinct"):
        affinity_from_code("0slt_2cpu", cpus=[1, 1])


def test_launched_runs_count_cores_in_the_launchers_cpus(monkeypatch):
    """A run pinned by the launcher sees one CPU; codes still index the launcher's CPUs."""
    monkeypatch.setenv("RLPYT_LAUNCH_CPUS", "4,2")
    assert aff.usable_cpus() == [2, 4]
    run = aff.affinity_from_code("1slt_2cpu_0gpu")
    assert run["master_cpus"] == [4] and run["workers_cpus"] == [4]
    monkeypatch.setenv("RLPYT_LAUNCH_CPUS", "0,x")
    with pytest.raises(ValueError, match="RLPYT_LAUNCH_CPUS='0,x' is not a comma-separated"):
        aff.usable_cpus()
