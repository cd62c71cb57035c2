"""Reports: run_with_report's SagaReport and its StepRecords.

The report's result is typed as run()'s; records and outcomes are read-only.
"""

from __future__ import annotations

from typing import assert_never, assert_type

from returns.result import Result, Success

from typed_saga import SagaReport, StepOutcome, StepRecord, parallel, step


class QuotaError(Exception): ...


def allocate(region: str) -> Result[int, QuotaError]:
    return Success(len(region))


async def allocate_async(region: str) -> Result[int, QuotaError]:
    return Success(len(region))


def describe(region: str) -> Result[str, KeyError]:
    return Success(region)


saga = step("allocate", allocate).named("provision")
report = saga.run_with_report("eu")

# case: the_report_is_typed_like_run
assert_type(report, SagaReport[int, QuotaError])
assert_type(report.result, Result[int, QuotaError])
assert_type(report.name, str | None)

# case: records_and_outcomes
assert_type(report.steps, tuple[StepRecord, ...])
record = report.steps[0]
assert_type(record.name, str)
assert_type(record.outcome, StepOutcome)
assert_type(record.error, object)
assert_type(record.branches, tuple[tuple[StepRecord, ...], ...])

# case: what_is_left_for_a_human
assert_type(report.needs_cleanup, tuple[str, ...])
assert_type(report.left_uncompensated, tuple[str, ...])
assert_type(str(report), str)
assert_type(report.to_mermaid(), str)

# case: an_async_report
async def audit() -> None:
    async_report = await parallel(step("a", allocate_async), step("d", describe)).run_with_report("eu")
    assert_type(async_report, SagaReport[tuple[int, str], QuotaError | KeyError])

# case: outcomes_are_exhaustive
def severity(outcome: StepOutcome) -> int:
    if outcome is StepOutcome.SUCCEEDED or outcome is StepOutcome.COMPENSATED or outcome is StepOutcome.NOT_RUN:
        return 0
    if outcome is StepOutcome.FAILED:
        return 1
    if outcome is StepOutcome.COMPENSATION_FAILED or outcome is StepOutcome.LEFT_UNCOMPENSATED:
        return 2
    assert_never(outcome)


assert_type(severity(record.outcome), int)

# case: a_forgotten_outcome
def forgotten(outcome: StepOutcome) -> int:
    if outcome is StepOutcome.SUCCEEDED or outcome is StepOutcome.COMPENSATED or outcome is StepOutcome.NOT_RUN:
        return 0
    if outcome is StepOutcome.FAILED or outcome is StepOutcome.COMPENSATION_FAILED:
        return 1
    assert_never(outcome)  # expect-error: LEFT_UNCOMPENSATED is not handled

# case: the_report_result_is_read_only
report.result = Success(2)  # expect-error: reports are frozen

# case: a_record_is_read_only
record.outcome = StepOutcome.COMPENSATED  # expect-error: records are frozen

# case: the_report_result_declared_with_the_wrong_error
wrong: Result[int, KeyError] = saga.run_with_report("us").result  # expect-error: the saga fails with QuotaError

# case: an_outcome_that_does_not_exist
StepOutcome.ROLLED_BACK  # expect-error: the outcome is COMPENSATED

# case: an_async_report_not_awaited
async def not_awaited() -> None:
    pending = step("a", allocate_async).run_with_report("eu")
    print(pending.needs_cleanup)  # expect-error: run_with_report of an AsyncSaga must be awaited
