#!/usr/bin/env bash
# GPU check: the tests that need CUDA, then Atari throughput with the GPU; one JSON object on
# stdout (progress and the pytest log on stderr). About 8 minutes at most on one GPU.
#
#   benchmarks/gpu_check.sh            # from anywhere; runs in the repository root
#
# Python: the repository's .venv/bin/python, else `python` on PATH. Nothing is downloaded.
# Without CUDA (no NVIDIA driver, or a CPU-only torch) it prints "no CUDA: skipped" on
# stderr and {"gpu_check": "no CUDA: skipped", ...} on stdout, and exits 0.
# Exit status otherwise: 0 when every CUDA test passed, 1 when one failed or timed out
# (the JSON is printed either way), 2 when the Python found cannot import torch.
set -u
cd "$(dirname "$0")/.." || exit 2
PY=.venv/bin/python
[ -x "$PY" ] || PY=python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

skip() {
    echo "gpu_check: no CUDA: skipped ($1)" >&2
    printf '{"gpu_check": "no CUDA: skipped", "cuda": false, "reason": "%s"}\n' "$1"
    exit 0
}

# No driver, no CUDA: decided without starting Python.
if [ ! -e /dev/nvidiactl ] && ! command -v nvidia-smi >/dev/null 2>&1; then
    skip "no NVIDIA driver"
fi
if ! HAS_CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))"); then
    echo "gpu_check: $PY cannot import torch: run it where the repository's venv is" >&2
    exit 2
fi
[ "$HAS_CUDA" = 1 ] || skip "torch.cuda.is_available() is False"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CUDA_TESTS=(
    tests/gpu/test_cuda.py
    tests/agents/qpg/test_ddpg_td3_agents.py::test_cuda_learner_with_shared_cpu_mu
    tests/samplers/test_gpu_sampler.py::test_gpu_sampler_with_agent_on_cuda
)
echo "gpu_check: CUDA tests (at most 240 s)" >&2
timeout -k 10 240 "$PY" -m pytest -q -p no:cacheprovider -rs --junitxml="$TMP/junit.xml" \
    "${CUDA_TESTS[@]}" >&2
TESTS_RC=$?
echo "gpu_check: Atari throughput with the GPU (at most 200 s)" >&2
timeout -k 10 200 "$PY" benchmarks/gpu_throughput.py --seconds 15 --out "$TMP/throughput.json" \
    >/dev/null
THROUGHPUT_RC=$?

"$PY" - "$TMP" "$TESTS_RC" "$THROUGHPUT_RC" <<'EOF'
import json
import os
import sys
import xml.etree.ElementTree as ET

import torch

tmp, tests_rc, throughput_rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tests = {"exit_code": tests_rc, "timed_out": tests_rc == 124}
junit = os.path.join(tmp, "junit.xml")
if os.path.exists(junit):
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    failed = [
        f"{case.get('classname')}::{case.get('name')}"
        for case in suite.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    tests.update(counts, failed=failed)
try:
    with open(os.path.join(tmp, "throughput.json")) as f:
        throughput = json.load(f)
except (OSError, ValueError) as err:
    throughput = {"error": f"exit code {throughput_rc}: {err}"}
print(json.dumps({
    "gpu_check": "ran",
    "cuda": True,
    "device": torch.cuda.get_device_name(0),
    "gpus": torch.cuda.device_count(),
    "torch": torch.__version__,
    "tests": tests,
    "throughput": throughput,
}, indent=2))
EOF
[ "$TESTS_RC" -eq 0 ] || exit 1
