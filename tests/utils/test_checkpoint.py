import errno
import multiprocessing
import os
import random
import signal
import time
import warnings

import numpy as np
import pytest
import torch

from rlpyt.utils.checkpoint import (
    CHECKPOINT_FORMAT_VERSION,
    CheckpointError,
    check_compatible,
    compatibility_info,
    find_latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)


def _temps(directory):
    return [f for f in os.listdir(directory) if ".tmp-" in f]


def test_round_trip_adds_format_keys_without_touching_input(tmp_path):
    state = {"itr": 3, "weights": torch.arange(4.0)}
    path = save_checkpoint(tmp_path / "params.pkl", state)
    assert "format_version" not in state
    loaded = load_checkpoint(path)
    assert loaded["itr"] == 3 and torch.equal(loaded["weights"], torch.arange(4.0))
    assert loaded["format_version"] == CHECKPOINT_FORMAT_VERSION
    assert loaded["rlpyt_checkpoint"] is True
    with pytest.raises(TypeError, match="dict"):
        save_checkpoint(tmp_path / "x.pkl", [1, 2])


def test_crash_inside_torch_save_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "params.pkl"
    save_checkpoint(path, {"itr": 1})

    def crash(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(RuntimeError, match=r"params\.pkl.*simulated crash.*previous file is kept"):
        save_checkpoint(path, {"itr": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["itr"] == 1
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_disk_full_or_failed_rename_keeps_previous(tmp_path, monkeypatch, failing):
    path = tmp_path / "params.pkl"
    save_checkpoint(path, {"itr": 1})

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(OSError, match=r"params\.pkl.*No space left") as info:
        save_checkpoint(path, {"itr": 2})
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert load_checkpoint(path)["itr"] == 1
    assert _temps(tmp_path) == []


def _save_forever(path):
    itr = 0
    while True:
        # ~16 MB, every element equal to itr: a torn file could not pass the check below.
        # (numpy, not torch ops: torch's thread pool is not usable in a forked child.)
        save_checkpoint(path, {"itr": itr, "data": np.full(4_000_000, itr, dtype=np.float32)})
        itr += 1


@pytest.mark.timeout(60)
def test_kill_9_during_saves_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "params.pkl"
    rng = random.Random(0)
    fork = multiprocessing.get_context("fork")  # no re-import of torch: fast
    for _ in range(3):
        proc = fork.Process(target=_save_forever, args=(path,), daemon=True)
        proc.start()
        try:
            deadline = time.monotonic() + 30
            while not path.exists():  # the first save has completed
                assert time.monotonic() < deadline and proc.is_alive()
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 0.4))  # somewhere inside a later save
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(timeout=10)
        assert proc.exitcode == -signal.SIGKILL
        ckpt = load_checkpoint(path)
        assert ckpt["data"].shape == (4_000_000,) and (ckpt["data"] == ckpt["itr"]).all()
        path.unlink()
    # The killed writers' temp files are swept by the next save.
    save_checkpoint(path, {"itr": -1})
    assert _temps(tmp_path) == []


def _corrupt_files(tmp_path):
    good = save_checkpoint(tmp_path / "good.pkl", {"itr": 0, "w": torch.zeros(1000)})
    data = open(good, "rb").read()
    files = {
        "empty.pkl": b"",
        "truncated.pkl": data[: len(data) // 2],
        "random.pkl": random.Random(1).randbytes(5000),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    torch.save({"itr": 0}, tmp_path / "foreign.pkl")  # a pickle, but not one of ours
    return ["empty.pkl", "truncated.pkl", "random.pkl", "foreign.pkl"]


def test_corrupt_checkpoints_raise_checkpoint_error_naming_the_file(tmp_path):
    for name in _corrupt_files(tmp_path):
        with pytest.raises(CheckpointError, match=name) as info:
            load_checkpoint(tmp_path / name)
        assert isinstance(info.value, RuntimeError)
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(tmp_path / "empty.pkl")
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
        load_checkpoint(tmp_path / "truncated.pkl")
    with pytest.raises(CheckpointError, match="not an rlpyt checkpoint"):
        load_checkpoint(tmp_path / "foreign.pkl")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pkl")


def test_find_latest_falls_back_past_corrupt_newest(tmp_path):
    assert find_latest_checkpoint(tmp_path) is None
    for itr in (0, 1, 2, 10):
        save_checkpoint(tmp_path / f"itr_{itr}.pkl", {"itr": itr})
    (tmp_path / "itr_10.pkl").write_bytes(b"\x00" * 100)  # the newest is corrupt
    with pytest.warns(RuntimeWarning, match=r"itr_10\.pkl"):
        latest = find_latest_checkpoint(tmp_path)
    assert latest.path == str(tmp_path / "itr_2.pkl") and latest.itr == 2
    # params.pkl holding a newer iteration wins; a corrupt one is skipped.
    save_checkpoint(tmp_path / "params.pkl", {"itr": 11})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # itr_10.pkl is not even opened: params.pkl is newer
        assert find_latest_checkpoint(tmp_path).itr == 11
    (tmp_path / "params.pkl").write_bytes(b"")
    with pytest.warns(RuntimeWarning) as caught:
        assert find_latest_checkpoint(tmp_path).path.endswith("itr_2.pkl")
    skipped = sorted(os.path.basename(str(w.message).split()[3].rstrip(":")) for w in caught)
    assert skipped == ["itr_10.pkl", "params.pkl"]


def test_check_compatible_lists_every_mismatch():
    saved = {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "spaces": "EnvSpaces(obs=FloatBox(4), act=IntBox(2))",
        "meta": {"algo_class": "rlpyt.algos.pg.ppo.PPO"},
        "model_class": "A",
    }
    check_compatible(
        saved, {"spaces": saved["spaces"], "meta.algo_class": "rlpyt.algos.pg.ppo.PPO"}
    )
    expected = {
        "spaces": "EnvSpaces(obs=FloatBox(8), act=IntBox(2))",
        "meta.algo_class": "rlpyt.algos.pg.a2c.A2C",
        "model_class": "A",
        "agent_class": "X",
    }
    with pytest.raises(CheckpointError) as info:
        check_compatible({**saved, "format_version": 99}, expected)
    message = str(info.value)
    assert "format_version: saved 99, current 1" in message
    assert "spaces: saved 'EnvSpaces(obs=FloatBox(4)" in message and "FloatBox(8)" in message
    assert (
        "meta.algo_class: saved 'rlpyt.algos.pg.ppo.PPO', current 'rlpyt.algos.pg.a2c.A2C'"
        in message
    )
    assert "agent_class: saved <missing>, current 'X'" in message
    assert "model_class" not in message


def test_compatibility_info_names_classes():
    class Agent:
        model = torch.nn.Linear(2, 2)

    info = compatibility_info(env_spaces=("obs", "act"), agent=Agent(), algo=object())
    assert info["spaces"] == "('obs', 'act')"
    assert info["model_class"] == "torch.nn.modules.linear.Linear"
    assert info["agent_class"].endswith("Agent") and info["algo_class"] == "builtins.object"
