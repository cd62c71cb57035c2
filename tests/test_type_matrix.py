"""The checker matrix under pytest: one test per case and checker.

The five checkers run once each, concurrently, over ``typesafety/matrix/``
(the first test that needs them pays for it); each test then only judges one
case's share of one checker's report. A case recorded as a checker's
limitation (``# xfail[checker]: reason``) is a strict xfail here: if it starts
passing, the test fails and the record must go.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import pytest

from tests.type_matrix.__main__ import MATRIX, README
from tests.type_matrix.cases import CHECKERS, Case, load_case_files
from tests.type_matrix.checkers import CASES_DIR, ROOT, CheckerRun, run_all
from tests.type_matrix.report import matrix_markdown, readme_with_table, summary_table
from tests.type_matrix.verdicts import judge, judge_all, stray

FILES = load_case_files(CASES_DIR, ROOT)
CASES = [case for case_file in FILES for case in case_file.cases]


@pytest.fixture(scope="session")
def runs() -> Mapping[str, CheckerRun]:
    """Every checker's report over every case file (run once per session)."""
    return run_all([case_file.path for case_file in FILES])


def _params() -> list[object]:
    return [
        pytest.param(
            case,
            checker,
            id=f"{case.id}[{checker}]",
            marks=[pytest.mark.xfail(reason=case.xfail[checker], strict=True)]
            if checker in case.xfail
            else [],
        )
        for case in CASES
        for checker in CHECKERS
    ]


@pytest.mark.parametrize(("case", "checker"), _params())
def test_case(case: Case, checker: str, runs: Mapping[str, CheckerRun]) -> None:
    verdict = judge(case, checker, runs[checker].diagnostics)
    assert verdict.ok, verdict.explain()


@pytest.mark.parametrize("checker", CHECKERS)
def test_nothing_reported_outside_the_cases(
    checker: str, runs: Mapping[str, CheckerRun]
) -> None:
    outside = stray(FILES, runs[checker])
    assert not outside, "\n".join(f"{d.path}: {d.describe()}" for d in outside)


def test_matrix_md_is_up_to_date(runs: Mapping[str, CheckerRun]) -> None:
    fresh = matrix_markdown(FILES, judge_all(FILES, runs))
    committed = MATRIX.read_text(encoding="utf-8") if MATRIX.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            "MATRIX.md (committed)",
            "MATRIX.md (from this run)",
        )
    )
    assert not diff, f"refresh it with `make matrix`:\n{diff}"


def test_the_readme_shows_the_same_matrix(runs: Mapping[str, CheckerRun]) -> None:
    table = summary_table(judge_all(FILES, runs))
    readme = README.read_text(encoding="utf-8")
    assert readme_with_table(readme, table) == readme, (
        "the README's checker matrix is stale: refresh it with `make matrix`"
    )


# Beyond the verdicts: on pyright, a sync step's mistake is explained against
# the sync overload of step(), not against an async-only compensation or a
# FutureResult action (the order of step()'s overloads; see _step.py).
SYNC_MISTAKES = (
    "compensations::a_compensation_for_another_steps_output",
    "compensations::a_compensation_returning_none",
    "callables::a_callable_object_returning_a_plain_value",
    "methods::a_method_returning_a_plain_value",
    "future_result::an_io_result_is_not_a_result",
)


@pytest.mark.parametrize("checker", ["pyright", "basedpyright"])
@pytest.mark.parametrize("case_id", SYNC_MISTAKES)
def test_pyright_explains_sync_mistakes_against_the_sync_overload(
    case_id: str, checker: str, runs: Mapping[str, CheckerRun]
) -> None:
    case = next(case for case in CASES if case.id == case_id)
    said = " ".join(
        d.message for d in judge(case, checker, runs[checker].diagnostics).diagnostics
    )
    assert (
        "Result[_Out@step, _Err@step]" in said or "Compensation[_Out@step]" in said
    ), said
    assert "FutureResult" not in said, said
    assert "_AsyncOnlyCompensation" not in said, said
