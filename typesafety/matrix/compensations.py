"""Compensations: each takes its own step's output and returns a Result.

The most common wiring mistake is a compensation written for a neighbouring
step: it type-checks on its own, only the pairing is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_type

from returns.future import FutureResult
from returns.result import Result, Success

from typed_saga import AsyncSaga, Saga, step


@dataclass(frozen=True)
class Request:
    tenant: str


@dataclass(frozen=True)
class Quota:
    quota_id: str


@dataclass(frozen=True)
class GpuQuota:
    quota_id: str
    gpus: int


@dataclass(frozen=True)
class Network:
    network_id: str


class QuotaError(Exception): ...


def allocate_quota(request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(request.tenant))


async def allocate_quota_async(request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(request.tenant))


def allocate_quota_later(request: Request) -> FutureResult[Quota, QuotaError]:
    return FutureResult.from_value(Quota(request.tenant))


def release_quota(quota: Quota) -> Result[None, QuotaError]:
    return Success(None)


def release_gpu_quota(quota: GpuQuota) -> Result[None, QuotaError]:
    return Success(None)


async def release_gpu_quota_async(quota: GpuQuota) -> Result[None, QuotaError]:
    return Success(None)


def release_gpu_quota_later(quota: GpuQuota) -> FutureResult[None, QuotaError]:
    return FutureResult.from_value(None)


def release_by_id(quota_id: str) -> Result[None, QuotaError]:
    return Success(None)


def cancel_request(request: Request) -> Result[None, QuotaError]:
    return Success(None)


def log_undo(anything: object) -> Result[None, str]:
    return Success(None)


def release_and_report(quota: Quota) -> Result[int, KeyError]:
    return Success(1)


def release_quietly(quota: Quota) -> None:
    return None


def release_with_reason(quota: Quota, reason: str) -> Result[None, QuotaError]:
    return Success(None)


def release_everything() -> Result[None, QuotaError]:
    return Success(None)


# case: a_compensation_of_the_steps_output
assert_type(step("allocate quota", allocate_quota, compensate=release_quota), Saga[Request, Quota, QuotaError])

# case: a_compensation_taking_a_supertype
assert_type(step("allocate quota", allocate_quota, compensate=log_undo), Saga[Request, Quota, QuotaError])

# case: the_compensations_result_types_do_not_matter
assert_type(step("allocate quota", allocate_quota, release_and_report), Saga[Request, Quota, QuotaError])

# case: a_lambda_compensation_gets_the_steps_output
assert_type(step("allocate quota", allocate_quota, compensate=lambda quota: release_by_id(quota.quota_id)), Saga[Request, Quota, QuotaError])

# case: an_async_compensation_makes_an_async_saga
async def release_quota_async(quota: Quota) -> Result[None, QuotaError]:
    return Success(None)


assert_type(step("allocate quota", allocate_quota, compensate=release_quota_async), AsyncSaga[Request, Quota, QuotaError])

# case: a_sync_compensation_in_an_async_step
assert_type(step("allocate quota", allocate_quota_async, compensate=release_quota), AsyncSaga[Request, Quota, QuotaError])

# case: a_compensation_for_another_steps_output
step("allocate quota", allocate_quota, compensate=release_gpu_quota)  # expect-error: release_gpu_quota takes a GpuQuota, the step makes a Quota

# case: an_async_compensation_for_another_steps_output
step("allocate quota", allocate_quota_async, compensate=release_gpu_quota_async)  # expect-error: async: GpuQuota is not the step's Quota

# case: a_sync_compensation_for_another_output_in_an_async_step
step("allocate quota", allocate_quota_async, compensate=release_gpu_quota)  # expect-error: GpuQuota is not the step's Quota

# case: an_async_compensation_for_another_output_in_a_sync_step
step("allocate quota", allocate_quota, compensate=release_gpu_quota_async)  # expect-error: GpuQuota is not the step's Quota

# case: a_future_result_compensation_for_another_output
step("allocate quota", allocate_quota_later, compensate=release_gpu_quota_later)  # expect-error: GpuQuota is not the step's Quota

# case: a_compensation_of_the_steps_input
step("allocate quota", allocate_quota, compensate=cancel_request)  # expect-error: a compensation gets the step's output (Quota), not its input

# case: a_compensation_returning_none
step("allocate quota", allocate_quota, compensate=release_quietly)  # expect-error: a compensation returns a Result

# case: a_compensation_with_two_parameters
step("allocate quota", allocate_quota, compensate=release_with_reason)  # expect-error: a compensation takes one argument

# case: a_compensation_with_no_parameter
step("allocate quota", allocate_quota, compensate=release_everything)  # expect-error: a compensation takes the step's output

# case: a_compensation_by_id_without_the_lambda
step("allocate quota", allocate_quota, compensate=release_by_id)  # expect-error: release_by_id takes a str; pass lambda quota: release_by_id(quota.quota_id)

# case: a_lambda_compensation_using_a_missing_attribute
step("allocate quota", allocate_quota, compensate=lambda quota: release_by_id(quota.gpus))  # expect-error: Quota has no gpus

# case: the_result_of_a_compensation_instead_of_the_function
step("allocate quota", allocate_quota, compensate=release_quota(Quota("q-1")))  # expect-error: pass the function, not its result
