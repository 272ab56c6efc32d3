# vidaffect developer commands.  `make demo` and `make test` work on a fresh machine:
# they create the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Extras needed by the test suite (optional features are tested too).
TEST_EXTRAS ?= test,report-test,all
# Exact dev versions (torch); pyproject.toml itself declares ranges.
CONSTRAINTS ?= constraints/dev.txt
# Python 3.13 (NumPy 2) check in its own environment: `make test-py313 PY313=/path/to/python3.13`.
# Default: python3.13 when it runs (a pyenv shim may exist but fail), else pyenv's 3.13.0.
PY313 ?= $(shell python3.13 -c '' >/dev/null 2>&1 && echo python3.13 || echo $(HOME)/.pyenv/versions/3.13.0/bin/python3.13)
VENV313 ?= .venv313
BIN313 := $(VENV313)/bin

.PHONY: demo test test-py313 print-py313 venv bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The install step is re-run when pyproject.toml changes.
$(VENV)/.installed-%: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[$*]"
	touch $@

$(BIN313)/python:
	$(PY313) -m venv $(VENV313)
	$(BIN313)/pip install --quiet --upgrade pip

# On Python 3.13 pip takes torch from PyPI: a CUDA build (several GB).
$(VENV313)/.installed-%: pyproject.toml $(CONSTRAINTS) | $(BIN313)/python
	$(BIN313)/pip install --quiet -c $(CONSTRAINTS) -e ".[$*]"
	touch $@

venv: $(VENV)/.installed-$(TEST_EXTRAS)

## Run the main job on the embedded demo video and print where the results are.
demo: $(VENV)/.installed-$(TEST_EXTRAS)
	$(BIN)/vidaffect demo -o demo_out

## Run the test suite.
test: $(VENV)/.installed-$(TEST_EXTRAS)
	$(BIN)/python -m pytest -q --durations=15

## Run the test suite on Python 3.13 (environment $(VENV313)).
test-py313: $(VENV313)/.installed-$(TEST_EXTRAS)
	$(BIN313)/python -m pytest -q --durations=5

print-py313:
	@echo $(PY313)

## Speed/memory benchmarks (print tables).
bench: $(VENV)/.installed-$(TEST_EXTRAS)
	$(BIN)/python benchmarks/pipeline_speed.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
