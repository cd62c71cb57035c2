"""The build-time rewrite of docstrings for the API reference
(scripts/griffe_docstrings.py): roles become code, doctests become fences."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "griffe_docstrings.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("griffe_docstrings", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_roles_become_code() -> None:
    markdown = _load().markdown
    assert markdown(":class:`~typed_saga.Saga` and :meth:`run`") == (
        "``Saga`` and ``run``"
    )
    assert markdown(":func:`typed_saga.step`") == "``typed_saga.step``"


def test_doctest_runs_are_fenced_with_their_output() -> None:
    markdown = _load().markdown
    source = "Text.\n\n    >>> 1 + 1  # doctest: +ELLIPSIS\n    2\n    >>> print('x')\n    x\n\nMore."
    assert markdown(source) == (
        "Text.\n\n    ```pycon\n    >>> 1 + 1\n    2\n    >>> print('x')\n    x\n"
        "    ```\n\nMore."
    )
