# Newcomer entry points: `make demo` runs the main job, `make test` runs the tests.
# Each creates .venv and installs faultlab (CPU torch pinned by constraints-cpu.txt) on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FAULTLAB_DATA_DIR ?= $(abspath ../shared/data)
export MPLBACKEND := Agg

.PHONY: install demo test test-cluster lint bench clean

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints-cpu.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints-cpu.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/faultlab benchmark configs/cwru-quick.yaml --out runs/cwru-quick

# The cluster tests (real PostgreSQL and Ray servers, minutes) run in their own target.
# Two pytest workers, one test file each at a time (a module's fixtures, e.g. its Ray
# instance, stay in one process), the slowest files first (tests/conftest.py SLOW_MODULES;
# xdist's own reordering by test count would leave the one-test kill check for last);
# the 15 slowest tests are listed at the end.
# Without ../shared/data (or with FAULTLAB_DATA_DIR=/nonexistent) the tests marked `shared` skip;
# `-m "not shared"` runs only the rest.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/pyright
	$(BIN)/python -m pytest -q -m "not cluster" -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

test-cluster: $(STAMP)
	$(BIN)/python -m pytest -m cluster -v

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/pyright

clean:
	rm -rf $(VENV) runs .pytest_cache
