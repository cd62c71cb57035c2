"""Known gaps: where an Any gets in, and the typed way around each.

Each gap is recorded against the checkers it affects, with the reason; the
case after it shows the typed alternative, which every checker gets right.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Never, assert_type

from returns.result import Failure, Result, Success

from typed_saga import Saga, step


@dataclass(frozen=True)
class Request:
    tenant: str


@dataclass(frozen=True)
class Quota:
    quota_id: str


class QuotaError(Exception): ...


def allocate(request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(request.tenant))


def allocate_in(region: str, request: Request) -> Result[Quota, QuotaError]:
    return Success(Quota(f"{region}/{request.tenant}"))


def allocate_loosely(request: Request) -> Success[Quota] | Failure[QuotaError]:
    return Success(Quota(request.tenant))


def quota_id(quota: Quota) -> Result[str, Never]:
    return Success(quota.quota_id)


def recover(error: QuotaError) -> Result[Quota, Never]:
    return Success(Quota(f"fallback for {error}"))


saga = step("allocate", allocate)

# case: a_partial_step
# xfail[mypy]: types a functools.partial(...) step as Saga[Any, Any, Any] (the partial's __call__ is not matched against the Callable overloads)
assert_type(step("allocate", functools.partial(allocate_in, "eu")), Saga[Request, Quota, QuotaError])

# case: a_closure_instead_of_a_partial
def allocate_in_region(region: str) -> Saga[Request, Quota, QuotaError]:
    def allocate_here(request: Request) -> Result[Quota, QuotaError]:
        return allocate_in(region, request)

    return step(f"allocate in {region}", allocate_here)


assert_type(allocate_in_region("eu"), Saga[Request, Quota, QuotaError])

# case: narrowing_a_run_result_with_match
# xfail[mypy]: returns' Success and Failure extend Result[V, Any], so a class pattern narrows the value to Any
def describe(outcome: Result[Quota, QuotaError]) -> str:
    match outcome:
        case Success(quota):
            assert_type(quota, Quota)
            return quota.quota_id
        case Failure(error):
            assert_type(error, QuotaError)
            return str(error)
        case _:
            return "unreachable"

# case: narrowing_a_run_result_with_isinstance
# xfail[mypy]: returns' Success and Failure extend Result[V, Any], so isinstance narrows to Success[Any] / Failure[Any]
narrowed = saga.run(Request("acme"))
if isinstance(narrowed, Success):
    assert_type(narrowed.unwrap(), Quota)
else:
    assert_type(narrowed.failure(), QuotaError)

# case: typed_alternatives_to_narrowing
result = saga.run(Request("acme"))
assert_type(result.unwrap(), Quota)
assert_type(result.failure(), QuotaError)
assert_type(result.map(lambda quota: quota.quota_id), Result[str, QuotaError])
assert_type(result.value_or(None), Quota | None)
assert_type(result.alt(str), Result[Quota, str])

# case: lash_keeps_types_too
# xfail[pyright, basedpyright]: returns types lash() through its higher-kinded KindN, which strict mode reports as partially unknown
assert_type(saga.run(Request("acme")).lash(recover), Result[Quota, Never])

# case: an_action_annotated_success_or_failure
# xfail[mypy, pyright, basedpyright, ty]: Success[Quota] | Failure[QuotaError] is Result[Quota, Any] | Result[Any, QuotaError]: annotate -> Result[Quota, QuotaError]
assert_type(step("allocate", allocate_loosely), Saga[Request, Quota, QuotaError])

# case: a_lambda_first_step
# xfail[mypy, pyright, basedpyright, pyrefly, ty]: nothing gives a lambda's parameter a type when the step is first: define a function
assert_type(step("allocate", lambda request: allocate(request)), Saga[Request, Quota, QuotaError])

# case: a_lambda_step_returning_success_directly
# xfail[mypy, pyright, basedpyright, pyrefly, ty]: returns types Success(x) as Result[X, Any]: call a function annotated -> Result[X, E] instead
assert_type(saga.then(step("id", lambda quota: Success(quota.quota_id))), Saga[Request, str, QuotaError])

# case: a_lambda_step_calling_a_typed_function
# xfail[pyrefly]: does not infer a lambda step's parameter from the saga that then() expects, so it is an implicit Any (reported by the strict preset)
assert_type(saga.then(step("id", lambda quota: quota_id(quota))), Saga[Request, str, QuotaError])
