"""Run each type checker once over the case files and parse what it reports.

Every checker runs with machine-readable output and the settings of
``typesafety/matrix/`` (the project's ``mypy.ini`` for mypy, which is what
the pytest-mypy-plugins cases use too). Errors and warnings count as
diagnostics; notes and ``reveal_type`` output do not. The five run
concurrently: the matrix costs the slowest of them, not their sum.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.type_matrix.cases import CHECKERS

ROOT: Final = Path(__file__).resolve().parents[2]
CASES_DIR: Final = ROOT / "typesafety" / "matrix"


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning: where, which rule, what it says."""

    checker: str
    path: Path
    line: int
    code: str
    message: str

    def describe(self) -> str:
        """``line N: [code] message`` on one line."""
        message = " ".join(self.message.split())
        return f"line {self.line}: [{self.code}] {message}"


@dataclass(frozen=True)
class CheckerRun:
    """What one checker reported over the whole directory."""

    checker: str
    command: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    seconds: float


class CheckerFailed(RuntimeError):
    """A checker crashed or printed something we cannot parse."""


def command(checker: str, files: Sequence[Path], python: Path) -> list[str]:
    """The command line for ``checker`` (run from the repository root)."""
    bindir = python.parent
    names = [str(path) for path in files]
    config = CASES_DIR.relative_to(ROOT)
    if checker == "mypy":
        return [str(bindir / "mypy"), "--config-file", "mypy.ini", "-O", "json", *names]
    if checker in ("pyright", "basedpyright"):
        return [
            str(bindir / checker),
            "--pythonpath",
            str(python),
            "--project",
            str(config / f"{checker}.json"),
            "--outputjson",
        ]
    if checker == "pyrefly":
        return [
            str(bindir / "pyrefly"),
            "check",
            "--config",
            str(config / "pyrefly.toml"),
            "--python-interpreter-path",
            str(python),
            "--output-format",
            "json",
            "--summary=none",
            *names,
        ]
    if checker == "ty":
        return [
            str(bindir / "ty"),
            "check",
            "--config-file",
            str(config / "ty.toml"),
            "--python",
            str(python),
            "--output-format",
            "gitlab",
            "--no-progress",
            *names,
        ]
    raise ValueError(f"unknown checker {checker!r}")


def run_all(
    files: Sequence[Path], python: Path | None = None
) -> Mapping[str, CheckerRun]:
    """Run the five checkers concurrently, each once over ``files``."""
    interpreter = python or Path(sys.executable)
    with ThreadPoolExecutor(max_workers=len(CHECKERS)) as pool:
        futures = {
            checker: pool.submit(run_one, checker, files, interpreter)
            for checker in CHECKERS
        }
        return {checker: future.result() for checker, future in futures.items()}


def run_one(checker: str, files: Sequence[Path], python: Path) -> CheckerRun:
    """Run one checker over ``files`` and parse its report."""
    argv = command(checker, files, python)
    # pyright's PyPI wrapper would otherwise ask PyPI whether it is the latest.
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1", "NO_COLOR": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    diagnostics = _parse(checker, done.stdout, done.stderr, done.returncode, len(files))
    return CheckerRun(checker, tuple(argv), diagnostics, seconds)


def _parse(
    checker: str, stdout: str, stderr: str, returncode: int, expected_files: int
) -> tuple[Diagnostic, ...]:
    # 0: clean, 1: type errors; anything else is the checker failing to run.
    if returncode not in (0, 1):
        raise CheckerFailed(f"{checker} exited {returncode}:\n{stderr}\n{stdout}")
    try:
        diagnostics = _PARSERS[checker](stdout, expected_files)
    except (ValueError, KeyError, TypeError) as error:
        raise CheckerFailed(
            f"cannot parse the output of {checker}: {error!r}\n{stderr}\n{stdout[:2000]}"
        ) from error
    return tuple(sorted(diagnostics, key=lambda d: (str(d.path), d.line)))


def _relative(path: str) -> Path:
    resolved = (ROOT / path).resolve()
    return resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved


def _mypy(stdout: str, _: int) -> list[Diagnostic]:
    out = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if item["severity"] == "error":
            out.append(
                Diagnostic(
                    "mypy",
                    _relative(item["file"]),
                    int(item["line"]),
                    str(item["code"]),
                    str(item["message"]),
                )
            )
    return out


def _pyright(checker: str) -> Callable[[str, int], list[Diagnostic]]:
    def parse(stdout: str, expected_files: int) -> list[Diagnostic]:
        report = json.loads(stdout)
        analyzed = report["summary"]["filesAnalyzed"]
        if analyzed != expected_files:
            raise ValueError(f"analyzed {analyzed} files, not {expected_files}")
        return [
            Diagnostic(
                checker,
                _relative(item["file"]),
                int(item["range"]["start"]["line"]) + 1,  # 0-based in the JSON
                str(item.get("rule", "")),
                str(item["message"]),
            )
            for item in report["generalDiagnostics"]
            if item["severity"] in ("error", "warning")
        ]

    return parse


def _pyrefly(stdout: str, _: int) -> list[Diagnostic]:
    return [
        Diagnostic(
            "pyrefly",
            _relative(item["path"]),
            int(item["line"]),
            str(item["name"]),
            str(item["description"]),
        )
        for item in json.loads(stdout)["errors"]
        if item["severity"] in ("error", "warn")
    ]


def _ty(stdout: str, _: int) -> list[Diagnostic]:
    return [
        Diagnostic(
            "ty",
            _relative(item["location"]["path"]),
            int(item["location"]["positions"]["begin"]["line"]),
            str(item["check_name"]),
            str(item["description"]).removeprefix(f"{item['check_name']}: "),
        )
        for item in json.loads(stdout)
        if item["severity"] != "info"  # GitLab's names: major = error, minor = warning
    ]


_PARSERS: Final[Mapping[str, Callable[[str, int], list[Diagnostic]]]] = {
    "mypy": _mypy,
    "pyright": _pyright("pyright"),
    "basedpyright": _pyright("basedpyright"),
    "pyrefly": _pyrefly,
    "ty": _ty,
}
