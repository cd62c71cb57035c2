# Two entry points, both from a fresh clone with only python3 and make:
#   make demo   install the package and run the provisioning demo
#   make test   install the dev tools and run every check and test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest matrix bench mutation clean

$(VENV)/.installed-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-base
	$(BIN)/python -m pip install -q -e '.[dev,otel]'
	touch $@

demo: $(VENV)/.installed-base
	$(BIN)/python -m typed_saga

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src tests examples benchmarks typesafety/conftest.py
	$(BIN)/basedpyright --pythonpath $(BIN)/python

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

test: lint typecheck pytest

# The checker matrix (mypy, pyright, basedpyright, pyrefly, ty over
# typesafety/matrix/) runs inside `make test` (tests/test_type_matrix.py);
# this refreshes typesafety/matrix/MATRIX.md after a change to the cases.
matrix: $(VENV)/.installed-dev
	$(BIN)/python -m tests.type_matrix --write

# Not part of `make test`: figures go to BENCHMARKS.md (about a minute).
bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,otel,bench]'
	$(BIN)/python benchmarks/run.py

# Mutation testing of the runner modules (several minutes): see README, Testing.
mutation: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,otel,mutation]'
	PYTHON=$(BIN)/python bash scripts/mutation.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis mutants
