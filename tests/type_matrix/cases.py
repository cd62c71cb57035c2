"""Case files: how a typed usage case says what it expects.

A case file is a Python module under ``typesafety/matrix/``. Its docstring's
first line, up to a colon, names the group (a row of the matrix). Everything before the first
``# case:`` line is a shared preamble (imports, a small domain) that must check
cleanly. Each case runs from its ``# case: name`` line to the next one::

    # case: compensation_for_another_steps_output
    # xfail[pyrefly]: why this checker cannot get it right (required)
    step("allocate", allocate, compensate=release_gpu)  # expect-error: why

* A **positive** case has no ``# expect-error``: no checker may report anything
  in it, and it must use ``assert_type`` (an exact inferred type is the point).
* A **negative** case marks each offending line with a trailing
  ``# expect-error`` (optionally ``: a short description of the mistake``); a
  checker passes it when it reports an error on every marked line and on no
  other line of the case.
* ``# xfail[checker, ...]: reason`` records that a checker gets the case wrong
  because of its own limitation. It is strict: a case that starts passing on
  that checker is reported, so the xfail must then be removed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CHECKERS: Final = ("mypy", "pyright", "basedpyright", "pyrefly", "ty")

_CASE = re.compile(r"^# case: (?P<name>\w+)\s*$")
_XFAIL = re.compile(r"^\s*# xfail\[(?P<checkers>[\w, ]+)\]:(?P<reason>.*)$")
_EXPECT = re.compile(r"#\s*expect-error(?::\s*(?P<why>.*?))?\s*$")


class CaseFileError(ValueError):
    """A case file that does not follow the format above."""


@dataclass(frozen=True)
class Case:
    """One case: a range of lines of a case file and what it expects."""

    path: Path
    group: str
    name: str
    first_line: int
    last_line: int
    expected: Mapping[int, str]
    """Line number -> the human description of the mistake ('' if none)."""
    xfail: Mapping[str, str]
    """Checker -> why it cannot get this case right."""

    @property
    def id(self) -> str:
        """``group::name``, unique across the matrix."""
        return f"{self.group}::{self.name}"

    @property
    def negative(self) -> bool:
        """Whether the case marks wiring mistakes (rather than asserting types)."""
        return bool(self.expected)

    def covers(self, line: int) -> bool:
        """Whether ``line`` belongs to this case."""
        return self.first_line <= line <= self.last_line


@dataclass(frozen=True)
class CaseFile:
    """A group of cases: one module under ``typesafety/matrix/``."""

    path: Path
    group: str
    title: str
    cases: tuple[Case, ...]

    def case_at(self, line: int) -> Case | None:
        """The case ``line`` belongs to (``None`` in the preamble)."""
        for case in self.cases:
            if case.covers(line):
                return case
        return None


def load_case_files(directory: Path, root: Path) -> tuple[CaseFile, ...]:
    """Every case file in ``directory`` (sorted by name), paths relative to ``root``."""
    files = tuple(
        parse_case_file(path.relative_to(root), path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.py"))
    )
    seen: set[str] = set()
    for case_file in files:
        if not case_file.cases:
            raise CaseFileError(f"{case_file.path}: no '# case:' line")
        for case in case_file.cases:
            if case.id in seen:
                raise CaseFileError(f"{case_file.path}: duplicate case {case.id}")
            seen.add(case.id)
    return files


def parse_case_file(path: Path, text: str) -> CaseFile:
    """Split one case file into its cases (see the module docstring)."""
    lines = text.splitlines()
    starts = [
        (number, match["name"])
        for number, line in enumerate(lines, start=1)
        if (match := _CASE.match(line))
    ]
    group = path.stem
    cases = []
    for index, (first, name) in enumerate(starts):
        last = starts[index + 1][0] - 1 if index + 1 < len(starts) else len(lines)
        cases.append(_parse_case(path, group, name, first, lines[first - 1 : last]))
    preamble_end = starts[0][0] if starts else len(lines) + 1
    for number, line in enumerate(lines[: preamble_end - 1], start=1):
        if _EXPECT.search(line) or _XFAIL.match(line):
            raise CaseFileError(f"{path}:{number}: marker outside any case")
    return CaseFile(path, group, _title(path, text), tuple(cases))


def _parse_case(path: Path, group: str, name: str, first: int, body: list[str]) -> Case:
    expected: dict[int, str] = {}
    xfail: dict[str, str] = {}
    for number, line in enumerate(body, start=first):
        if xfail_match := _XFAIL.match(line):
            reason = xfail_match["reason"].strip()
            if not reason:
                raise CaseFileError(f"{path}:{number}: an xfail needs a reason")
            for listed in xfail_match["checkers"].split(","):
                checker = listed.strip()
                if checker not in CHECKERS:
                    raise CaseFileError(f"{path}:{number}: unknown checker {checker!r}")
                xfail[checker] = reason
        elif expect_match := _EXPECT.search(line):
            expected[number] = (expect_match["why"] or "").strip()
    if not expected and not any("assert_type(" in line for line in body):
        raise CaseFileError(
            f"{path}:{first}: case {name!r} has neither '# expect-error' "
            "nor assert_type: say what it checks"
        )
    return Case(path, group, name, first, first + len(body) - 1, expected, xfail)


def _title(path: Path, text: str) -> str:
    docstring = ast.get_docstring(ast.parse(text, filename=str(path)))
    if not docstring:
        raise CaseFileError(f"{path}: a case file starts with a docstring")
    first = docstring.strip().splitlines()[0]
    return first.split(":", 1)[0].rstrip(".")
