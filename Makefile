# Two commands set everything up: `make demo` and `make test`.
# Each creates or refreshes .venv/ from requirements.txt (pinned) first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.nowmesh-installed
UPY    := $(BIN)/micropython

.PHONY: venv test test-host test-upy fuzz demo bench mutation clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "nowmesh needs Python 3.10+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# The core's unit tests run twice: under CPython (pytest) and under the real
# MicroPython interpreter (tests/upy_runner.py), so the core stays portable.
# The ESP32 port's tests (tests/port) run under MicroPython only, with fakes
# for the board modules.
test: test-host test-upy

test-host: venv
	$(BIN)/python -m pytest tests examples/greenhouse

test-upy: venv
	MICROPYPATH=firmware:tests/core:tests $(UPY) -X heapsize=2M tests/upy_runner.py tests/core
	MICROPYPATH=.frozen:firmware:tests/port:tests $(UPY) -X heapsize=4M tests/upy_runner.py tests/port

# The adversarial suite (tests/security) at length: NOWMESH_FUZZ_EXAMPLES
# (default 5600) examples per property, a fresh seed each run (printed at
# the end; FUZZ_ARGS=--hypothesis-seed=N repeats a run). Prints the number
# of cases and of escapes; fails on an escape or below 100,000 cases.
# `make test` runs the same properties derandomised, 100 examples each.
fuzz: venv
	NOWMESH_HYPOTHESIS_PROFILE=fuzz NOWMESH_FUZZ_EXAMPLES=$${NOWMESH_FUZZ_EXAMPLES:-5600} \
		$(BIN)/python -m pytest tests/security -q -p no:cacheprovider $(FUZZ_ARGS)

# First a simulated 12-node farm on a virtual clock (seconds), then a live
# mesh of 6 emulated boards running the real firmware (about 40 s).
demo: venv
	$(BIN)/nowmesh sim --demo
	@echo
	$(BIN)/python -m nowmesh.emulation.live_demo

bench: venv
	$(BIN)/python bench/run.py

# Mutation testing of the mesh core (firmware/mesh/) with its own tests
# (tests/core), by mutmut, one module at a time (each in build/mutation/<module>/;
# modules whose last complete run matches the current core and tests are kept),
# then one table of every module's score and bench/results/mutation.json.
# MUTATION_JOBS mutants at a time (default 2). See docs/testing.md.
mutation: venv
	$(BIN)/python bench/mutation.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info host_tools/*.egg-info
