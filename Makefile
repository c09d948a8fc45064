# rlpyt developer commands. `make test` is what CI runs (.ci/run).
#
#   make demo                 create .venv if needed, train PPO on CartPole-v1 (~1 min), plot
#   make test                 create .venv if needed, install, run the test suite
#   make test TEST_ARGS="-k buffer -x"
#   make test-numerics        the learning tests again on other floating-point paths (CI runs it)
#   make lint | format | docs | bench | clean | distclean
#
# torch is installed first and pinned, so installing the package never chooses a torch build by
# itself: on the CI machine pip's configured find-links supply the pinned CPU wheel, whereas an
# unpinned `torch` from PyPI on Linux is the multi-GB CUDA build. Elsewhere pick the build with
# TORCH_PIP_ARGS (e.g. --index-url https://download.pytorch.org/whl/cpu) and TORCH_SPEC.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
EXTRAS ?= dev,mujoco,tb,ray,bench,docs,envpool
TEST_ARGS ?=
# Run number of `make demo`: a fresh one each time (the CLI refuses to overwrite a run).
RUN ?= $$(date +%s)

VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-numerics lint format docs bench clean distclean

venv: $(STAMP)

# The stamp makes `venv` idempotent: reinstall only when pyproject.toml changes (or the stamp is gone).
$(STAMP): pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	# Repeat the torch pin so resolving the extras can never replace the installed build.
	$(VPY) -m pip install -e ".[$(EXTRAS)]" "$(TORCH_SPEC)"
	touch $@

demo: venv
	$(VPY) -m rlpyt train --algo ppo --env CartPole-v1 --steps 100000 --seed 1 --log-dir data/demo --run-id $(RUN)

test: venv
	$(VPY) -m pytest -q --durations=30 $(TEST_ARGS)

# Seeded learning tests follow a different trajectory on each CPU family (MKL and ATen pick
# kernels by instruction set). These paths emulate other machines here, so a threshold tuned
# to one CPU fails in CI rather than on a user's machine. Set before torch loads: per process.
NUMERIC_PATHS ?= MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default
test-numerics: venv
	set -e; for path in $(NUMERIC_PATHS); do \
		echo "== learning tests with $$path"; \
		env $$path $(VPY) -m pytest -q -m slow tests/learning $(TEST_ARGS); \
	done

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

docs: venv
	$(VENV)/bin/sphinx-build -b html docs docs/_build/html

bench: venv
	$(VPY) benchmarks/env_overhead.py

clean:
	rm -rf build dist *.egg-info docs/_build .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
