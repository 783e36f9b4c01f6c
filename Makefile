# The README's commands. Each target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-quick bench-peers lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tsforecast train configs/quickstart.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/tsforecast bench all

bench-quick: $(STAMP)
	$(BIN)/tsforecast bench all --quick

bench-peers: $(STAMP)
	$(BIN)/python benchmarks/peers.py --setup
	$(BIN)/python benchmarks/peers.py --repeats 3

lint: $(STAMP)
	$(BIN)/ruff check tsforecast tests
	$(BIN)/ruff format --check tsforecast tests

format: $(STAMP)
	$(BIN)/ruff check --fix tsforecast tests
	$(BIN)/ruff format tsforecast tests

clean:
	rm -rf $(VENV) runs .pytest_cache
