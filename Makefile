# The two quick-start commands: `make demo` and `make test`. Each creates .venv when missing
# and (re)installs the project only when setup.cfg or pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo serve test bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/wth-solution demo

serve: $(STAMP)
	$(BIN)/wth-solution demo --keep-serving

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/forecast.py
	$(BIN)/python bench/endpoint.py
	$(BIN)/python bench/grader.py

clean:
	rm -rf $(VENV) .wth .pytest_cache
