# `make run` and `make test` are the README's Quick start: each sets up .venv
# from the committed lock when needed, then runs the default pipeline or the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# requirements/cpu.lock pins every package, torch 2.13.0's CPU build included;
# requirements/cuda.lock pins PyPI's CUDA build of the same torch and its CUDA
# libraries. A host with an NVIDIA driver (nvidia-smi) gets the CUDA lock.
LOCK ?= requirements/$(if $(shell command -v nvidia-smi 2>/dev/null),cuda,cpu).lock
# Where the CPU build of torch comes from: a local wheel folder when the machine
# has one, else PyTorch's CPU index (PyPI only carries the CUDA build for Linux).
CPU_TORCH_SOURCE ?= $(if $(wildcard /opt/wheels/torch-2.13.0+cpu-*),--find-links /opt/wheels,--extra-index-url https://download.pytorch.org/whl/cpu)
TORCH_SOURCE := $(if $(filter requirements/cpu.lock,$(LOCK)),$(CPU_TORCH_SOURCE))
SETUP_STAMP := $(VENV)/.vaeops-setup

export KEDRO_DISABLE_TELEMETRY := 1

.PHONY: setup run test docs lock clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml $(LOCK)
	@echo "setup 1/3: virtual environment in $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: uv $(UV_VERSION), the installer, from PyPI"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@echo "setup 3/3: the pinned packages of $(LOCK), then vaeops itself"
	@$(BIN)/uv pip install --quiet --python $(BIN)/python $(TORCH_SOURCE) -r $(LOCK)
	@$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@
	@echo "setup done: $(VENV) matches $(LOCK)"

run: setup
	$(BIN)/kedro run

# pytest exits 5 when it collected nothing; say so, so an empty suite never looks green.
test: setup
	@$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing." >&2; exit 1; fi; \
	exit $$status

# Print the docs' generated tables (README.md, docs/*.md) from the measurement
# records in docs/results/*.json; record a run with
# `$(BIN)/python -m vaeops.tools.docs_tables record --help`.
docs: setup
	$(BIN)/python -m vaeops.tools.docs_tables

# Re-resolve both locks after a change to pyproject.toml's dependencies.
LOCK_FLAGS := --extra dev --python-version 3.11 --python-platform x86_64-manylinux_2_28 --quiet
lock: setup
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) $(CPU_TORCH_SOURCE) \
	    --constraint requirements/cpu-torch.txt -o requirements/cpu.lock
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) \
	    --constraint requirements/cuda-torch.txt -o requirements/cuda.lock

clean:
	rm -rf $(VENV) mlflow.db mlruns mlartifacts
