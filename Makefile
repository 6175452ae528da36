# Two commands on a fresh machine:  `make demo` (the main job)  and  `make test` (the suite).
# Each creates the virtual environment it needs. torch is pinned to the CPU build through
# constraints.txt; on a machine whose pip cannot see that wheel, pass the CPU index, e.g.
#   make demo PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean browser lab

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_ARGS) -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/clusterkit demo

lint: $(STAMP)
	$(BIN)/ruff check .

# The report is tested in a real headless Chromium: Debian's package, installed when missing.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  || (echo "could not install chromium: run 'apt-get install chromium' as root" >&2; exit 1)

test: lint browser
	CLUSTERKIT_REQUIRE_BROWSER=1 $(BIN)/python -m pytest

# JupyterLab for the notebooks in notebooks/
lab: $(STAMP)
	$(BIN)/python -m pip install $(PIP_ARGS) -c constraints.txt -e ".[dev,lab]"
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) data/clusterkit.duckdb data/sample data/report.html
