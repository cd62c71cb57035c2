"""``typed_saga.__version__`` is the installed distribution's version, and that
is the version pyproject.toml declares (a stale install would differ)."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import typed_saga

ROOT = Path(__file__).resolve().parent.parent


def test_version_is_the_distributions() -> None:
    assert typed_saga.__version__ == importlib.metadata.version("typed-saga")


def test_version_is_the_one_pyproject_declares() -> None:
    with (ROOT / "pyproject.toml").open("rb") as file:
        declared = tomllib.load(file)["project"]["version"]
    assert typed_saga.__version__ == declared
    assert declared.count(".") == 2, "MAJOR.MINOR.PATCH"
