"""Generic steps: generic actions, compensations and saga factories.

A generic step is solved from where it is used (the previous step's output),
and a user's own generic helper that returns a saga keeps its type variables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, assert_type

from returns.result import Failure, Result, Success

from typed_saga import Saga, step

T = TypeVar("T")
U = TypeVar("U")
E = TypeVar("E")


class HasId(Protocol):
    @property
    def resource_id(self) -> str: ...


R = TypeVar("R", bound=HasId)


@dataclass(frozen=True)
class Request:
    tenant: str


@dataclass(frozen=True)
class Quota:
    resource_id: str


@dataclass(frozen=True)
class Network:
    resource_id: str


@dataclass(frozen=True)
class Envelope(Generic[T]):
    payload: T
    trace_id: str


class QuotaError(Exception): ...


class ValidationError(Exception): ...


class NetworkError(Exception): ...


def allocate_quota(request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(request.tenant))


def create_network(quota: Quota) -> Result[Network, NetworkError]:
    return Success(Network(quota.resource_id))


def not_empty(value: T) -> Result[T, ValidationError]:
    return Success(value) if value else Failure(ValidationError("empty"))


def tag(resource: R) -> Result[R, ValidationError]:
    return Success(resource)


def forget(value: T) -> Result[T, str]:
    return Success(value)


def wrap(value: T) -> Result[Envelope[T], ValidationError]:
    return Success(Envelope(value, "trace-1"))


def validate_request(request: Request) -> Result[Request, ValidationError]:
    return Success(request)


def unwrap_quota(envelope: Envelope[Quota]) -> Result[Quota, ValidationError]:
    return Success(envelope.payload)


def first_of(values: Sequence[Quota]) -> Result[Quota, ValidationError]:
    return Success(values[0]) if values else Failure(ValidationError("none"))


def all_quotas(request: Request) -> Result[list[Quota], QuotaError]:
    return Success([Quota(request.tenant)])


def audited(name: str, action: Callable[[T], Result[U, E]]) -> Saga[T, U, E]:
    return step(name, action, compensate=forget)


def twice(name: str, saga: Saga[T, T, E]) -> Saga[T, T, E]:
    return saga.then(saga.named(f"{name} again"))


# case: a_generic_step_is_solved_from_the_previous_output
# xfail[pyrefly, ty]: does not solve a generic function's type variables from the saga that then() expects
assert_type(step("allocate quota", allocate_quota).then(step("validate", not_empty)), Saga[Request, Quota, QuotaError | ValidationError])

# case: a_bounded_generic_step
# xfail[pyrefly, ty]: does not solve a generic function's type variables from the saga that then() expects
assert_type(step("allocate quota", allocate_quota).then(step("tag", tag)), Saga[Request, Quota, QuotaError | ValidationError])

# case: a_generic_compensation
assert_type(step("allocate quota", allocate_quota, compensate=forget), Saga[Request, Quota, QuotaError])

# case: a_generic_payload_threads_through
# xfail[pyrefly]: does not solve a generic function's type variables from the saga that then() expects
wrapped = step("allocate quota", allocate_quota).then(step("wrap", wrap)).then(step("unwrap", unwrap_quota))
assert_type(wrapped, Saga[Request, Quota, QuotaError | ValidationError])

# case: a_list_output_feeds_a_sequence_input
assert_type(step("all quotas", all_quotas).then(step("first", first_of)), Saga[Request, Quota, QuotaError | ValidationError])

# case: a_users_generic_factory_keeps_its_types
assert_type(audited("allocate quota", allocate_quota), Saga[Request, Quota, QuotaError])
assert_type(twice("validate", step("validate", validate_request)), Saga[Request, Request, ValidationError])

# case: a_generic_step_then_the_wrong_next_step
step("allocate quota", allocate_quota).then(step("validate", not_empty)).then(step("again", allocate_quota))  # expect-error: the validated value is a Quota, allocate_quota takes a Request

# case: a_bounded_generic_step_on_a_type_outside_the_bound
step("validate", validate_request).then(step("tag", tag))  # expect-error: tag needs a resource_id, a Request has none

# case: a_generic_factory_run_with_the_wrong_input
audited("allocate quota", allocate_quota).run(Quota("q-1"))  # expect-error: the saga takes a Request

# case: a_generic_payload_of_the_wrong_type
# xfail[pyrefly, ty]: does not solve a generic function's type variables from the saga that then() expects
wrapped_request = step("validate", validate_request).then(step("wrap", wrap))
wrapped_request.then(step("unwrap", unwrap_quota))  # expect-error: an Envelope[Request] is not an Envelope[Quota]

# case: a_sequence_output_into_a_list_input
def pick(values: list[Quota]) -> Result[Quota, ValidationError]:
    return Success(values[0])


def some_quotas(request: Request) -> Result[Sequence[Quota], QuotaError]:
    return Success([Quota(request.tenant)])


step("some quotas", some_quotas).then(step("pick", pick))  # expect-error: a Sequence is not a list

# case: a_generic_factory_declared_with_the_wrong_error
def audited_narrow(name: str, action: Callable[[T], Result[U, E]]) -> Saga[T, U, str]:
    return step(name, action)  # expect-error: the saga's errors are E, not str
