"""Compare what a checker reported with what each case expects."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tests.type_matrix.cases import Case, CaseFile
from tests.type_matrix.checkers import CheckerRun, Diagnostic


class Status(enum.Enum):
    """A case's verdict on one checker."""

    PASS = "pass"
    FAIL = "fail"
    XFAIL = "xfail"
    """Fails, as recorded (``# xfail[checker]: reason``)."""
    XPASS = "xpass"
    """Recorded as failing but passes: the xfail must go (strict)."""


@dataclass(frozen=True)
class Verdict:
    """One case on one checker, with the reasons when it does not pass."""

    case: Case
    checker: str
    status: Status
    problems: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        """Whether the checker did what the case expects (xfail aside)."""
        return not self.problems

    def explain(self) -> str:
        """A readable account: what was expected, what the checker said."""
        head = f"{self.case.id} on {self.checker} ({self.case.path}:"
        head += f"{self.case.first_line}-{self.case.last_line}): {self.status.value}"
        lines = [head, *(f"  {problem}" for problem in self.problems)]
        if self.status is Status.XPASS:
            reason = self.case.xfail[self.checker]
            lines.append(f"  recorded as xfail ({reason}) but passes: remove the xfail")
        return "\n".join(lines)


def judge(case: Case, checker: str, diagnostics: Iterable[Diagnostic]) -> Verdict:
    """The verdict of ``checker`` on ``case``, from its diagnostics in the case."""
    mine = tuple(d for d in diagnostics if d.path == case.path and case.covers(d.line))
    problems = []
    for line, why in sorted(case.expected.items()):
        if not any(d.line == line for d in mine):
            mistake = f" ({why})" if why else ""
            problems.append(f"line {line}: expected an error{mistake}, got none")
    for diagnostic in mine:
        if diagnostic.line not in case.expected:
            problems.append(f"unexpected {diagnostic.describe()}")
    if checker in case.xfail:
        status = Status.XPASS if not problems else Status.XFAIL
    else:
        status = Status.PASS if not problems else Status.FAIL
    return Verdict(case, checker, status, tuple(problems), mine)


def judge_all(
    files: Sequence[CaseFile], runs: Mapping[str, CheckerRun]
) -> list[Verdict]:
    """Every case on every checker that ran."""
    return [
        judge(case, checker, run.diagnostics)
        for case_file in files
        for case in case_file.cases
        for checker, run in runs.items()
    ]


def stray(files: Sequence[CaseFile], run: CheckerRun) -> list[Diagnostic]:
    """Diagnostics outside every case: in a preamble, or in another file."""
    by_path = {case_file.path: case_file for case_file in files}
    return [
        diagnostic
        for diagnostic in run.diagnostics
        if (case_file := by_path.get(diagnostic.path)) is None
        or case_file.case_at(diagnostic.line) is None
    ]
