# Two entry points, both from a fresh clone with only python3 and make:
#   make demo   install the package (with the dbos extra, for the durable
#               scene) and run the provisioning demo
#   make test   install the dev tools and run every check and test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench mutation clean

$(VENV)/.installed-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dbos]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-base
	$(BIN)/python -m pip install -q -e '.[dev,otel,dbos]'
	touch $@

demo: $(VENV)/.installed-base
	$(BIN)/python -m typed_saga

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src tests examples benchmarks typesafety/pyright_usage.py typesafety/pyright_dbos.py typesafety/conftest.py
	$(BIN)/basedpyright --pythonpath $(BIN)/python

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

test: lint typecheck pytest

# Not part of `make test`: figures go to BENCHMARKS.md (a few minutes; the
# DBOS section starts its own Postgres, as the tests do).
bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,otel,dbos,bench]'
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/bench_dbos.py

# Mutation testing of the runner modules (several minutes): see README, Testing.
mutation: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,otel,dbos,mutation]'
	PYTHON=$(BIN)/python bash scripts/mutation.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis mutants
