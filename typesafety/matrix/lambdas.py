"""Lambdas: as compensations, map stages and steps after another step.

A lambda has no annotations: its parameter type must come from the saga
around it (the step's output, the previous step's output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_type

from returns.result import Result, Success

from typed_saga import AsyncSaga, Saga, step


@dataclass(frozen=True)
class Request:
    tenant: str


@dataclass(frozen=True)
class Quota:
    quota_id: str
    cpus: int


class QuotaError(Exception): ...


def allocate_quota(request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(request.tenant, 4))


async def allocate_quota_async(request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(request.tenant, 4))


def release_by_id(quota_id: str) -> Result[None, QuotaError]:
    return Success(None)


def lookup(quota_id: str) -> Result[int, KeyError]:
    return Success(len(quota_id))


quota_step = step("allocate quota", allocate_quota)

# case: a_lambda_compensation
assert_type(step("allocate quota", allocate_quota, compensate=lambda quota: release_by_id(quota.quota_id)), Saga[Request, Quota, QuotaError])

# case: a_lambda_compensation_of_an_async_step
assert_type(step("allocate quota", allocate_quota_async, compensate=lambda quota: release_by_id(quota.quota_id)), AsyncSaga[Request, Quota, QuotaError])

# case: a_lambda_map_stage
assert_type(quota_step.map(lambda quota: quota.cpus * 2), Saga[Request, int, QuotaError])

# case: a_lambda_step_after_another_step
# xfail[pyrefly]: does not infer a lambda step's parameter from the saga that then() expects, so it is an implicit Any (reported by the strict preset)
assert_type(quota_step.then(step("look up", lambda quota: lookup(quota.quota_id))), Saga[Request, int, QuotaError | KeyError])

# case: a_lambda_step_with_a_compensation
# xfail[pyrefly]: does not infer a lambda step's or compensation's parameter from the saga that then() expects, so it is an implicit Any (reported by the strict preset)
assert_type(quota_step.then(step("look up", lambda quota: lookup(quota.quota_id), compensate=lambda count: release_by_id(str(count)))), Saga[Request, int, QuotaError | KeyError])

# case: a_lambda_step_with_a_compensation_calling_with_the_wrong_type
quota_step.then(step("look up", lambda quota: lookup(quota.cpus), compensate=lambda count: release_by_id(str(count))))  # expect-error: lookup takes a str, cpus is an int

# case: a_lambda_step_returning_a_plain_value
# xfail[ty]: infers no parameter type for a lambda passed to an overloaded function, so the lambda returns Unknown and the whole step is Unknown, silently
quota_step.then(step("cpus", lambda quota: quota.cpus))  # expect-error: a step returns a Result: use .map(lambda quota: quota.cpus)

# case: a_lambda_compensation_returning_none
step("allocate quota", allocate_quota, compensate=lambda quota: None)  # expect-error: a compensation returns a Result

# case: a_lambda_compensation_using_a_missing_attribute
step("allocate quota", allocate_quota, compensate=lambda quota: release_by_id(quota.region))  # expect-error: Quota has no region

# case: a_lambda_map_stage_using_a_missing_attribute
quota_step.map(lambda quota: quota.region)  # expect-error: Quota has no region

# case: a_lambda_step_calling_with_the_wrong_type
quota_step.then(step("look up", lambda quota: lookup(quota.cpus)))  # expect-error: lookup takes a str, cpus is an int
