# The README's commands. Each target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs reference bench bench-quick bench-peers lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tsforecast train configs/quickstart.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# The site, into site/: the reference pages regenerated from the code, then a strict build.
docs: reference
	$(BIN)/mkdocs build --strict

# docs/reference/ from the config schema and the click commands.
reference: $(STAMP)
	$(BIN)/python docs/gen_reference.py

bench: $(STAMP)
	$(BIN)/tsforecast bench all

bench-quick: $(STAMP)
	$(BIN)/tsforecast bench all --quick

bench-peers: $(STAMP)
	$(BIN)/python benchmarks/peers.py --setup
	$(BIN)/python benchmarks/peers.py --repeats 3

lint: $(STAMP)
	$(BIN)/ruff check tsforecast tests docs/*.py
	$(BIN)/ruff format --check tsforecast tests docs/*.py

format: $(STAMP)
	$(BIN)/ruff check --fix tsforecast tests docs/*.py
	$(BIN)/ruff format tsforecast tests docs/*.py

clean:
	rm -rf $(VENV) runs site .pytest_cache
