"""Running a saga: the input, the policy literal, keyword-only options.

`run` takes the first step's input; `on_compensation_failure` is "stop" or
"continue", nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, assert_type

from returns.result import Result, Success

from typed_saga import Policy, step


@dataclass(frozen=True)
class Request:
    tenant: str


class QuotaError(Exception): ...


def allocate(request: Request) -> Result[int, QuotaError]:
    return Success(len(request.tenant))


async def allocate_async(request: Request) -> Result[int, QuotaError]:
    return Success(len(request.tenant))


saga = step("allocate", allocate)
async_saga = step("allocate", allocate_async)
POLICY: Final = "continue"

# case: both_policies
assert_type(saga.run(Request("acme"), on_compensation_failure="stop"), Result[int, QuotaError])
assert_type(saga.run(Request("acme"), on_compensation_failure="continue"), Result[int, QuotaError])

# case: a_policy_variable
policy: Policy = "continue"
assert_type(saga.run(Request("acme"), on_compensation_failure=policy), Result[int, QuotaError])
assert_type(saga.run_with_report(Request("acme"), on_compensation_failure=POLICY).result, Result[int, QuotaError])

# case: a_policy_from_configuration
def from_config(value: str) -> Policy:
    return "continue" if value == "continue" else "stop"


assert_type(saga.run(Request("acme"), on_compensation_failure=from_config("stop")), Result[int, QuotaError])

# case: async_options
async def main() -> None:
    result = await async_saga.run(Request("acme"), on_compensation_failure="continue", compensation_timeout=2)
    assert_type(result, Result[int, QuotaError])

# case: a_policy_that_does_not_exist
saga.run(Request("acme"), on_compensation_failure="abort")  # expect-error: "stop" or "continue"

# case: a_policy_from_a_plain_string
def from_environment(text: str) -> None:
    saga.run(Request("acme"), on_compensation_failure=text)  # expect-error: a str is not a Policy: check it, or annotate it Policy

# case: a_policy_for_an_async_run
async def async_policy() -> None:
    await async_saga.run(Request("acme"), on_compensation_failure="rollback")  # expect-error: "stop" or "continue"

# case: the_policy_passed_positionally
saga.run(Request("acme"), "continue")  # expect-error: the policy is keyword-only

# case: run_with_the_wrong_input
saga.run("acme")  # expect-error: the saga takes a Request, not its tenant

# case: run_without_input
saga.run()  # expect-error: run takes the first step's input

# case: a_timeout_that_is_not_a_number
async def timeout() -> None:
    await async_saga.run(Request("acme"), compensation_timeout="5s")  # expect-error: seconds, as a float

# case: a_policy_literal_of_another_spelling
def policy_of(kind: Literal["stop", "continue", "retry"]) -> None:
    saga.run(Request("acme"), on_compensation_failure=kind)  # expect-error: "retry" is not a policy
