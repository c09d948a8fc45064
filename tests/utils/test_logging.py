import json
import math
import os
import warnings

import numpy as np
import pytest
import torch

from rlpyt.utils.checkpoint import load_checkpoint
from rlpyt.utils.logging import logger
from rlpyt.utils.logging.context import get_log_dir, logger_context
from rlpyt.utils.logging.logger import Logger


def _read(path):
    with open(path) as f:
        return f.read()


def test_progress_csv_exact_for_two_dumps(tmp_path):
    log = Logger(tmp_path, console=False)
    log.record_tabular("Iteration", 0)
    log.record_tabular("Loss", np.float32(0.5))
    log.record_tabular("Value", torch.tensor(2.25))
    log.dump_tabular()
    log.record_tabular("Iteration", 1)
    log.record_tabular("Loss", 0.1)
    log.record_tabular("Value", -3)
    log.dump_tabular()
    assert _read(tmp_path / "progress.csv") == "Iteration,Loss,Value\n0,0.5,2.25\n1,0.1,-3\n"


def test_misc_stat_columns(tmp_path):
    log = Logger(tmp_path, console=False)
    log.record_tabular_misc_stat("Return", [1.0, 2.0, 6.0])
    log.record_tabular_misc_stat("Length", [], placement="back")
    log.record_tabular_misc_stat("Loss", [4], placement="front")
    log.dump_tabular()
    header, row = _read(tmp_path / "progress.csv").splitlines()
    cells = dict(zip(header.split(","), row.split(",")))
    assert list(cells)[:5] == [
        "ReturnAverage",
        "ReturnStd",
        "ReturnMedian",
        "ReturnMin",
        "ReturnMax",
    ]
    assert float(cells["ReturnAverage"]) == 3.0
    assert float(cells["ReturnStd"]) == pytest.approx(np.std([1.0, 2.0, 6.0]))
    assert (cells["ReturnMedian"], cells["ReturnMin"], cells["ReturnMax"]) == ("2.0", "1.0", "6.0")
    assert all(math.isnan(float(cells["Length" + s])) for s in ("Average", "Std", "Max"))
    assert cells["AverageLoss"] == "4.0" and cells["MaxLoss"] == "4.0"


def test_new_key_warns_once_and_columns_stay_aligned(tmp_path, capsys):
    log = Logger(tmp_path)
    log.record_tabular("Iteration", 0)
    log.record_tabular("A", 1)
    log.dump_tabular()
    with pytest.warns(RuntimeWarning, match="'Late'"):
        log.record_tabular("Iteration", 1)
        log.record_tabular("Late", 99)
        log.dump_tabular()  # "A" missing: written empty
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # only once
        log.record_tabular("Late", 98)
        log.record_tabular("Iteration", 2)
        log.dump_tabular()
    assert _read(tmp_path / "progress.csv") == "Iteration,A\n0,1\n1,\n2,\n"
    assert "Late" in capsys.readouterr().out  # still on the console


def test_console_table_and_debug_log(tmp_path, capsys):
    log = Logger(tmp_path, log_prefix="exp_0 ")
    log.log("hello")
    log.record_tabular("Iteration", 3)
    log.record_tabular("ReturnAverage", 1.23456789)
    log.dump_tabular()
    out = capsys.readouterr().out
    assert "exp_0 hello" in out
    rule = "-" * 23
    table = f"{rule}\nIteration             3\nReturnAverage   1.23457\n{rule}\n"
    assert out.endswith(table)
    text = _read(tmp_path / "debug.log")
    assert "| exp_0 hello" in text and "Iteration" in text


def test_log_params_json_with_unserialisable_values(tmp_path):
    log = Logger(tmp_path, console=False)
    log.log_params({"lr": 1e-3, "optim": torch.optim.Adam, "nested": {"b": (1, 2)}})
    params = json.loads(_read(tmp_path / "params.json"))
    assert params["lr"] == 1e-3 and params["nested"] == {"b": [1, 2]}
    assert "Adam" in params["optim"]


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("none", set()),
        ("last", {"params.pkl"}),
        ("all", {f"itr_{i}.pkl" for i in range(6)}),
        ("gap", {"itr_0.pkl", "itr_1.pkl", "itr_3.pkl", "itr_5.pkl"}),
        ("last+gap", {"params.pkl", "itr_0.pkl", "itr_1.pkl", "itr_3.pkl", "itr_5.pkl"}),
    ],
)
def test_snapshot_modes(tmp_path, mode, expected):
    log = Logger(tmp_path, snapshot_mode=mode, snapshot_gap=2, console=False)
    for itr in range(6):
        log.save_itr_params(itr, {"itr": itr})
    files = {f for f in os.listdir(tmp_path) if f.endswith(".pkl")}
    assert files == expected
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]
    if "params.pkl" in expected:
        assert load_checkpoint(tmp_path / "params.pkl")["itr"] == 5


def test_bad_snapshot_settings():
    with pytest.raises(ValueError, match="'sometimes'"):
        Logger(None, snapshot_mode="sometimes")
    with pytest.raises(ValueError, match="snapshot_gap"):
        Logger(None, snapshot_mode="gap", snapshot_gap=0)


def test_disk_full_logging_warns_once_and_continues(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    run = tmp_path / "run"
    run.mkdir()
    os.symlink("/dev/full", run / "progress.csv")
    os.symlink("/dev/full", run / "debug.log")
    log = Logger(run, console=False)
    with pytest.warns(RuntimeWarning, match="training continues") as caught:
        for itr in range(3):
            log.log("line")
            log.record_tabular("Iteration", itr)
            log.dump_tabular()
    assert len([w for w in caught if "progress.csv" in str(w.message)]) == 1
    assert len([w for w in caught if "debug.log" in str(w.message)]) == 1


def test_existing_run_dir_needs_resume_or_exist_ok(tmp_path):
    with logger_context(tmp_path, 0, "exp"):
        logger.record_tabular("Iteration", 0)
        logger.dump_tabular()
    with pytest.raises(FileExistsError, match="resume=True"):
        with logger_context(tmp_path, 0, "exp"):
            pass
    with logger_context(tmp_path, 0, "exp", exist_ok=True):  # start over
        logger.record_tabular("Iteration", 7)
        logger.dump_tabular()
    assert _read(tmp_path / "run_0" / "progress.csv") == "Iteration\n7\n"


def test_resume_appends_keeping_header_and_truncates(tmp_path):
    params = {"lr": 0.1}
    with logger_context(tmp_path, 1, "exp", log_params=params) as log:
        assert log.run_dir == str(tmp_path / "run_1")
        for itr in range(4):
            logger.record_tabular("Iteration", itr)
            logger.record_tabular("Return", itr * 10)
            logger.dump_tabular()
    stored = json.loads(_read(tmp_path / "run_1" / "params.json"))
    assert stored == {"lr": 0.1, "name": "exp", "run_ID": 1}
    # A process killed mid-row leaves a torn last line: resume drops it.
    with open(tmp_path / "run_1" / "progress.csv", "a") as f:
        f.write("4,4")
    with pytest.warns(RuntimeWarning, match="partial last row"):
        ctx = logger_context(tmp_path, 1, "exp", log_params={"lr": 0.2}, resume=True)
        ctx.__enter__()
    try:
        assert logger.truncate_progress(1) == 2  # the snapshot was of itr 1
        logger.record_tabular("Return", 20)  # a different key order
        logger.record_tabular("Iteration", 2)
        logger.dump_tabular()
    finally:
        ctx.__exit__(None, None, None)
    progress = _read(tmp_path / "run_1" / "progress.csv")
    assert progress == "Iteration,Return\n0,0\n1,10\n2,20\n"
    assert json.loads(_read(tmp_path / "run_1" / "params.json"))["lr"] == 0.1
    assert json.loads(_read(tmp_path / "run_1" / "params_resumed.json"))["lr"] == 0.2


def test_module_functions_delegate_to_current_logger(tmp_path, capsys):
    assert logger.current_logger() is None
    logger.log("outside")  # no context: stdout only, never a crash
    logger.record_tabular("X", 1)
    logger.dump_tabular()
    assert logger.save_itr_params(0, {"a": 1}) == []
    assert logger.get_snapshot_dir() is None
    out = capsys.readouterr().out
    assert "outside" in out and "X" in out

    a = Logger(tmp_path / "a", console=False)
    b = Logger(tmp_path / "b", console=False)
    logger.push_logger(a)
    logger.push_logger(b)
    try:
        with logger.tabular_prefix("Eval"):
            logger.record_tabular("Return", 5)
        logger.dump_tabular()
        logger.set_snapshot_mode("last")
        assert logger.get_snapshot_mode() == "last" and a.get_snapshot_mode() == "none"
        logger.save_itr_params(3, {"itr": 3})
        assert logger.get_snapshot_dir() == str(tmp_path / "b")
        assert logger.pop_logger() is b
        with logger.prefix("[pre] "):
            logger.log("to a")
    finally:
        logger.pop_logger(a)
    assert logger.current_logger() is None
    assert _read(tmp_path / "b" / "progress.csv") == "EvalReturn\n5\n"
    assert os.path.exists(tmp_path / "b" / "params.pkl")
    assert "[pre] to a" in _read(tmp_path / "a" / "debug.log")
    assert not os.path.exists(tmp_path / "a" / "params.pkl")


def test_context_pops_on_exception_and_relative_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        with logger_context("exp_dir", 2, "exp"):
            raise RuntimeError("boom")
    assert logger.current_logger() is None
    assert os.path.isfile(tmp_path / "exp_dir" / "run_2" / "params.json")
    assert get_log_dir("exp", root="data").startswith(os.path.join("data", "local", ""))


def test_tensorboard_scalars_use_cumsteps(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with logger_context(tmp_path, 0, "exp", use_summary_writer=True) as log:
        for itr in range(2):
            logger.record_tabular("Iteration", itr)
            logger.record_tabular("CumSteps", 100 * (itr + 1))
            logger.record_tabular("Return", float(itr))
            logger.dump_tabular()
        assert log.get_tf_summary_writer() is not None
    events = EventAccumulator(str(tmp_path / "run_0"))
    events.Reload()
    assert [e.step for e in events.Scalars("Return")] == [100, 200]


def test_missing_tensorboard_warns_and_continues(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.warns(RuntimeWarning, match="TensorBoard logging is off"):
        log = Logger(tmp_path, use_summary_writer=True, console=False)
    log.record_tabular("Iteration", 0)
    log.dump_tabular()
    assert log.get_tf_summary_writer() is None
    assert _read(tmp_path / "progress.csv") == "Iteration\n0\n"
