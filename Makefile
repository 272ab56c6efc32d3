# vidaffect developer commands.  `make demo` and `make test` work on a fresh machine:
# they create the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Extras needed by the test suite (optional features are tested too).
TEST_EXTRAS ?= test,report-test,all
# Exact dev versions (torch); pyproject.toml itself declares ranges.
CONSTRAINTS ?= constraints/dev.txt

.PHONY: demo test venv bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The install step is re-run when pyproject.toml changes.
$(VENV)/.installed-%: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[$*]"
	touch $@

venv: $(VENV)/.installed-$(TEST_EXTRAS)

## Run the main job on the embedded demo video and print where the results are.
demo: $(VENV)/.installed-$(TEST_EXTRAS)
	$(BIN)/vidaffect demo -o demo_out

## Run the test suite.
test: $(VENV)/.installed-$(TEST_EXTRAS)
	$(BIN)/python -m pytest -q --durations=15

## Speed/memory benchmarks (print tables).
bench: $(VENV)/.installed-$(TEST_EXTRAS)
	$(BIN)/python benchmarks/pipeline_speed.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
