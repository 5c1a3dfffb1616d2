# The two quick-start commands: `make demo` and `make test`. Each creates .venv when missing
# and (re)installs the project only when setup.cfg or pyproject.toml changed. The `student` extra
# is what the student kit installs beside the tools (JupyterLab, pytest): the coach gets it too.
# The install goes through uv (from PyPI, into the venv): the same packages as pip's, faster; compiled
# to bytecode as pip does (team code's sandbox reads site-packages read-only: no .pyc written there
# would mean every sandboxed interpreter compiles pytest, numpy and pandas again); pip check then
# checks what uv installed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := $(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python

.PHONY: install demo serve test test-slow student-kit bench check-azure clean

$(STAMP): setup.cfg pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(UV) -e '.[dev,student]'
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/wth-solution demo

serve: $(STAMP)
	$(BIN)/wth-solution demo --keep-serving

# pytest workers: one per CPU core (pytest-xdist's auto; 0: none, the tests in make's own process);
# each test file runs on one worker, so its module fixtures are built once; the long files first, in the
# order tests/conftest.py gives (xdist's own reorder would start them last)
# ruff first (its rules: pyproject.toml): a lint finding fails the suite in a second, not after it
WORKERS ?= auto
test: $(STAMP)
	$(BIN)/ruff check --quiet .
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

# the tests marked slow (setup.cfg): a fresh venv from the model's requirements, two more deployments
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# What the coach hands to the teams: dist/student-kit/ (a template repository) and dist/student-kit.zip.
# The builder needs only Python's standard library and git: no venv, no install, no pip output.
student-kit:
	$(PYTHON) kit/build.py --out dist

# The `azure` extra installed beside the base in one resolver run, in its own venv: pip check must be
# clean and the Azure ML SDK + MLflow plugin must import and resolve their stores. pip, not uv: uv's
# resolution of this extra took a marshmallow that azure-ai-ml cannot import (2026-12-03).
AZ_VENV := .venv-azure
$(AZ_VENV)/.installed: setup.cfg pyproject.toml
	test -x $(AZ_VENV)/bin/python || $(PYTHON) -m venv $(AZ_VENV)
	$(AZ_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AZ_VENV)/bin/python -m pip install --quiet -e '.[dev,azure]'
	$(AZ_VENV)/bin/python -m pip check
	touch $@

check-azure: $(AZ_VENV)/.installed
	$(AZ_VENV)/bin/python -m pytest tests/azure_extra -q

# the `bench` extra (statsforecast: the interval comparison and the league's anchors) beside the dev install
$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m pip check
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/forecast.py
	$(BIN)/python bench/league.py
	$(BIN)/python bench/endpoint.py
	$(BIN)/python bench/router.py
	$(BIN)/python bench/grader.py
	$(BIN)/python bench/ci.py
	$(BIN)/python bench/suite.py

clean:
	rm -rf $(VENV) $(AZ_VENV) .wth .pytest_cache dist
