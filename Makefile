# `make test`: create .venv if missing, install the package with its dev extras (test tools,
# linters, docs), lint, type-check, test, build the documentation.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test check format lint typecheck unit fast docs demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

LINTED := src tests docs examples

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/acme tests

unit: $(STAMP)
	$(BIN)/pytest -q

# `make docs`: the Sphinx site in docs/_build/html; any warning fails the build.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# The tests that need no Pebble: a quick loop while working.
fast: $(STAMP)
	$(BIN)/pytest -q -m "not pebble"

test: lint typecheck unit docs

# `make check`: lint, types and the fast tests. `make format`: rewrite the code into shape.
check: lint typecheck fast

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

# `make demo`: create .venv if missing, install the package alone (no test tools), then issue,
# verify, check and revoke a certificate against the in-process test CA on loopback.
DEMO_STAMP := $(VENV)/.installed-demo

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m acme demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache docs/_build build dist

# `make bench`: the benchmark suite (benchmarks/README.md): ours vs acme 5.9 vs a bare-bones
# limit against Pebble on loopback; not part of `make test`. BENCH_ARGS=--quick for a short run.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
