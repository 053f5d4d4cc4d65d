# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run    creates .venv, installs deepbsde, solves configs/hjb.yaml
#   make test   creates .venv if needed, installs, runs the test suite
# For development: make test-fast (the fast tier: 512 tests, 275 s on 2 cores at a6311f5), make lint (ruff, mypy).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/hjb.yaml
# tensorflow-cpu unless a GPU driver is present (see setup.py).
DEEPBSDE_TENSORFLOW ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 'tensorflow[and-cuda]>=2.16')
export DEEPBSDE_TENSORFLOW
# Test processes (pytest-xdist), each module's tests in one of them: much of a test's time is single-threaded
# (importing TensorFlow, tracing, compiling), so two share 2 cores well
# (the suite at 54b5d32, measured: 1266 s in one process, 858 s in two).
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadscope

.PHONY: install run test test-fast lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.py setup.cfg
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/deepbsde run $(CONFIG)

test: install
	$(BIN)/python -m pytest $(PARALLEL)

test-fast: install
	$(BIN)/python -m pytest $(PARALLEL) -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
