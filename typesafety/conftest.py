"""Make the type tests find the ``mypy`` of the interpreter running pytest.

``pytest-mypy-plugins`` looks ``mypy`` up on ``PATH`` (even with
``--mypy-same-process``), and ``make test`` / ``.ci/run`` call
``.venv/bin/pytest`` without activating the virtual environment.
"""

import os
import sys
from pathlib import Path

_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join((_BIN, os.environ.get("PATH", "")))

# The checker-matrix cases are checked by five type checkers, never imported:
# their negative cases raise when run (tests/test_type_matrix.py runs them).
collect_ignore = ["matrix"]
