# `make run` and `make test` are the README's Quick start: each sets up .venv
# when needed, then runs the default pipeline or the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Pinned so pip takes one exact build: on this CPU machine the local CPU wheel,
# on a GPU host PyPI's CUDA build. See README "Install for GPU" for other CUDA versions.
TORCH_SPEC ?= torch==2.13.0
# e.g. https://download.pytorch.org/whl/cu128 to choose the CUDA build explicitly.
TORCH_INDEX_URL ?=
SETUP_STAMP := $(VENV)/.vaeops-setup

export KEDRO_DISABLE_TELEMETRY := 1

.PHONY: setup run test clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: setup
	$(BIN)/kedro run

# pytest exits 5 when it collected nothing; say so, so an empty suite never looks green.
test: setup
	@$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing." >&2; exit 1; fi; \
	exit $$status

clean:
	rm -rf $(VENV) mlflow.db mlruns mlartifacts
