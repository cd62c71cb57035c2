"""Settings for the type tests in this directory.

* ``pytest-mypy-plugins`` looks ``mypy`` up on ``PATH`` (even with
  ``--mypy-same-process``), and ``make test`` / ``.ci/run`` call
  ``.venv/bin/pytest`` without activating the virtual environment: put the
  interpreter's ``bin`` first.
* Its mypy cache defaults to the system temp directory, which every clone on
  the machine shares; mypy's cache is not safe to share (a concurrent run, or
  another clone's typed_saga, crashed mypy with "Cannot find component
  '_retry'"), so each clone keeps its own, in ``.pytest-mypy/``.
* The checker-matrix cases are checked by five type checkers, never imported:
  their negative cases raise when run (``tests/test_type_matrix.py``).
"""

import os
import sys
import tempfile
from pathlib import Path

import pytest

_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join((_BIN, os.environ.get("PATH", "")))

_TESTING_BASE = Path(__file__).resolve().parent.parent / ".pytest-mypy"

collect_ignore = ["matrix"]


def pytest_configure(config: pytest.Config) -> None:
    """Give the YAML cases a mypy cache of this clone's own."""
    if config.option.mypy_testing_base == tempfile.gettempdir():
        _TESTING_BASE.mkdir(exist_ok=True)
        config.option.mypy_testing_base = str(_TESTING_BASE)
