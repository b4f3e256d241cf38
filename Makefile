# `make test`: create .venv if missing, install the package with its test extras, lint, type-check, test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test check format lint typecheck unit fast demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/acme tests

unit: $(STAMP)
	$(BIN)/pytest -q

# The tests that need no Pebble: a quick loop while working.
fast: $(STAMP)
	$(BIN)/pytest -q -m "not pebble"

test: lint typecheck unit

# `make check`: lint, types and the fast tests. `make format`: rewrite the code into shape.
check: lint typecheck fast

format: $(STAMP)
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

# `make demo`: create .venv if missing, install the package alone (no test tools), then issue,
# verify, check and revoke a certificate against the in-process test CA on loopback.
DEMO_STAMP := $(VENV)/.installed-demo

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m acme demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# `make bench`: the benchmark suite (benchmarks/README.md): ours vs acme 5.9 vs a bare-bones
# limit against Pebble on loopback; not part of `make test`. BENCH_ARGS=--quick for a short run.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
