"""Callable instances: objects with `__call__` (sync, async, generic) as steps.

A configured object (a client, a retry policy) is often the action itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar, assert_type

from returns.result import Result, Success

from typed_saga import AsyncSaga, Call, Saga, step

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    tenant: str


@dataclass(frozen=True)
class Quota:
    quota_id: str


@dataclass(frozen=True)
class Network:
    network_id: str


class QuotaError(Exception): ...


class NetworkError(Exception): ...


class Allocate:
    def __init__(self, region: str) -> None:
        self.region = region

    def __call__(self, request: Request) -> Result[Quota, QuotaError]:
        return Success(Quota(f"{self.region}/{request.tenant}"))


class Release:
    def __call__(self, quota: Quota) -> Result[None, QuotaError]:
        return Success(None)


class CreateNetwork:
    async def __call__(self, quota: Quota) -> Result[Network, NetworkError]:
        return Success(Network(quota.quota_id))


class DeleteNetwork:
    async def __call__(self, network: Network) -> Result[None, NetworkError]:
        return Success(None)


class Check(Generic[T]):
    def __call__(self, value: T) -> Result[T, ValueError]:
        return Success(value)


class Resize:
    def __call__(self, quota: Quota, size: int) -> Result[Quota, QuotaError]:
        return Success(quota)


class Describe:
    def __call__(self, quota: Quota) -> str:
        return quota.quota_id


# case: a_callable_object_is_a_sync_step
assert_type(step("allocate quota", Allocate("eu"), compensate=Release()), Saga[Request, Quota, QuotaError])

# case: an_async_call_method_is_an_async_step
assert_type(step("create network", CreateNetwork(), compensate=DeleteNetwork()), AsyncSaga[Quota, Network, NetworkError])

# case: callable_objects_chain
chain = step("allocate quota", Allocate("eu"), Release()).then(step("create network", CreateNetwork()))
assert_type(chain, AsyncSaga[Request, Network, QuotaError | NetworkError])

# case: a_generic_callable_object
assert_type(step("check", Check[Request]()), Saga[Request, Request, ValueError])
assert_type(step("allocate quota", Allocate("eu")).then(step("check", Check[Quota]())), Saga[Request, Quota, QuotaError | ValueError])

# case: a_callable_object_taking_the_wrong_input
step("allocate quota", Allocate("eu")).then(step("check", Check[Request]()))  # expect-error: Check[Request] takes a Request, not a Quota

# case: a_callable_object_with_two_parameters_is_for_bodies
resize_step = step("resize", Resize())
assert_type(resize_step(Quota("q-1"), 2), Call[Quota, QuotaError])

# case: a_callable_object_with_two_parameters_linked_with_then
step("allocate quota", Allocate("eu")).then(step("resize", Resize()))  # expect-error: resize takes two arguments: call it from a body

# case: a_callable_object_returning_a_plain_value
step("describe", Describe())  # expect-error: Describe returns a str, not a Result

# case: a_callable_class_instead_of_an_instance
step("allocate quota", Allocate)  # expect-error: Allocate("eu") is the action; the class builds one

# case: a_callable_object_compensating_another_output
step("create network", CreateNetwork(), compensate=Release())  # expect-error: Release takes a Quota, the step makes a Network
