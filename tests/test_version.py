"""``typed_saga.__version__`` is the installed distribution's version, and it
is the one place the version is written (the build reads it from there)."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import typed_saga

ROOT = Path(__file__).resolve().parent.parent


def test_version_is_the_distributions() -> None:
    assert typed_saga.__version__ == importlib.metadata.version("typed-saga")


def test_version_is_written_once() -> None:
    with (ROOT / "pyproject.toml").open("rb") as file:
        pyproject = tomllib.load(file)
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "src/typed_saga/__init__.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+", typed_saga.__version__), "MAJOR.MINOR.PATCH"


def test_importing_the_package_does_not_load_the_async_runner() -> None:
    """Sync-only users pay for neither asyncio nor importlib.metadata."""
    import subprocess
    import sys

    code = (
        "import sys, typed_saga; "
        "print(sorted(m for m in ('asyncio', 'anyio', 'importlib.metadata', "
        "'typed_saga._afold') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
