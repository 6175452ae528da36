# Two commands on a fresh machine:  `make demo` (the main job)  and  `make test` (the suite).
# Each creates the virtual environment it needs. torch is pinned to the CPU build through
# constraints.txt; on a machine whose pip cannot see that wheel, pass the CPU index, e.g.
#   make demo PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_ARGS) -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/clusterkit demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) data/clusterkit.duckdb data/sample
