"""``benchmarks/gpu_check.sh`` starts and skips cleanly on a machine without CUDA."""

import json
import os
import subprocess

import pytest
import torch

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "gpu_check.sh")


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA the script runs the whole check")
@pytest.mark.timeout(60)
def test_gpu_check_without_cuda_says_skipped_prints_json_and_exits_0(tmp_path):
    # Run from elsewhere: the script finds the repository root itself.
    proc = subprocess.run(
        ["bash", SCRIPT], capture_output=True, text=True, cwd=tmp_path, timeout=50
    )
    assert proc.returncode == 0, proc.stderr
    assert "gpu_check: no CUDA: skipped" in proc.stderr
    out = json.loads(proc.stdout)
    assert out["gpu_check"] == "no CUDA: skipped" and out["cuda"] is False
    assert out["reason"] in ("no NVIDIA driver", "torch.cuda.is_available() is False")
