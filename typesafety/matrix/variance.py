"""Variance of Saga itself: contravariant input, covariant output and errors.

A saga that takes a broader input or makes a narrower output can stand in for
the declared one; the other way round is a type error. Saga and AsyncSaga are
distinct types.
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
class GpuRequest(Request):
    gpus: int


@dataclass(frozen=True)
class Quota:
    quota_id: str


@dataclass(frozen=True)
class GpuQuota(Quota):
    gpus: int


class QuotaError(Exception): ...


class GpuQuotaError(QuotaError): ...


def allocate(request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(request.tenant))


def allocate_gpu(request: GpuRequest) -> Result[GpuQuota, GpuQuotaError]:
    return Success(GpuQuota(request.tenant, request.gpus))


async def allocate_async(request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(request.tenant))


def takes_a_gpu_saga(saga: Saga[GpuRequest, Quota, QuotaError]) -> Saga[GpuRequest, Quota, QuotaError]:
    return saga


def takes_any_quota_saga(saga: Saga[GpuRequest, object, Exception]) -> None:
    return None


def takes_an_async_saga(saga: AsyncSaga[Request, Quota, QuotaError]) -> None:
    return None


def as_general(saga: Saga[GpuRequest, Quota, QuotaError]) -> Saga[GpuRequest, Quota, QuotaError]:
    return saga


def as_any_async(saga: AsyncSaga[GpuRequest, object, Exception]) -> AsyncSaga[GpuRequest, object, Exception]:
    return saga


general = step("allocate", allocate)
gpu = step("allocate gpu", allocate_gpu)

# case: a_broader_input_stands_in
assert_type(takes_a_gpu_saga(general), Saga[GpuRequest, Quota, QuotaError])

# case: a_narrower_output_and_error_stand_in
assert_type(as_general(gpu), Saga[GpuRequest, Quota, QuotaError])

# case: a_list_of_sagas_under_one_declared_type
sagas: list[Saga[GpuRequest, object, Exception]] = [general, gpu, general.map(str)]
assert_type(sagas[0], Saga[GpuRequest, object, Exception])
takes_any_quota_saga(gpu)

# case: async_sagas_are_variant_too
assert_type(as_any_async(step("allocate", allocate_async)), AsyncSaga[GpuRequest, object, Exception])

# case: then_accepts_a_saga_taking_a_broader_input
def describe(quota: object) -> Result[str, KeyError]:
    return Success(repr(quota))


assert_type(gpu.then(step("describe", describe)), Saga[GpuRequest, str, GpuQuotaError | KeyError])

# case: a_narrower_input_does_not_stand_in
general_from_gpu: Saga[Request, Quota, QuotaError] = gpu  # expect-error: the GPU saga cannot take a plain Request

# case: a_broader_output_does_not_stand_in
quota_from_object: Saga[Request, GpuQuota, QuotaError] = general  # expect-error: a Quota is not a GpuQuota

# case: a_broader_error_does_not_stand_in
narrow_errors: Saga[GpuRequest, GpuQuota, GpuQuotaError] = step("allocate", allocate)  # expect-error: QuotaError is broader than GpuQuotaError

# case: a_sync_saga_is_not_an_async_saga
takes_an_async_saga(general)  # expect-error: Saga and AsyncSaga are different types

# case: an_async_saga_is_not_a_sync_saga
takes_a_gpu_saga(step("allocate", allocate_async))  # expect-error: an AsyncSaga where a Saga is declared

# case: a_saga_is_not_a_result
not_a_result: Result[Quota, QuotaError] = general  # expect-error: run() the saga to get a Result
