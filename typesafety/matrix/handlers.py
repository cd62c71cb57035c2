"""Go-style handlers: Action, a Handler's actions(), run(handler).

Actions and compensations take no argument and return a Result; the errors
of the actions add up in the handler's declared Action[...] type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import assert_type

from returns.result import Result, Success

from typed_saga import Action, Handler, run


class QuotaError(Exception): ...


class VolumeError(Exception): ...


class CreateVolume:
    def __init__(self, size_gb: int) -> None:
        self.size_gb = size_gb
        self.quota_id: str | None = None
        self.volume_id: str | None = None

    def actions(self) -> list[Action[QuotaError | VolumeError]]:
        return [
            Action("validate", self.validate),
            Action("allocate quota", self.allocate_quota, self.release_quota),
            Action("create volume", self.create_volume, self.delete_volume),
        ]

    def validate(self) -> Result[None, VolumeError]:
        return Success(None)

    def allocate_quota(self) -> Result[str, QuotaError]:
        self.quota_id = "q-1"
        return Success(self.quota_id)

    def release_quota(self) -> Result[None, QuotaError]:
        self.quota_id = None
        return Success(None)

    def create_volume(self) -> Result[None, VolumeError]:
        self.volume_id = "vol-1"
        return Success(None)

    def delete_volume(self) -> Result[None, VolumeError]:
        return Success(None)


class Yielding:
    def actions(self) -> Iterator[Action[QuotaError]]:
        yield Action("allocate quota", allocate)


def allocate() -> Result[int, QuotaError]:
    return Success(1)


def release() -> Result[None, QuotaError]:
    return Success(None)


def allocate_for(region: str) -> Result[int, QuotaError]:
    return Success(len(region))


async def allocate_async() -> Result[int, QuotaError]:
    return Success(1)


def release_silently() -> None:
    return None


def plain_count() -> int:
    return 1


# case: an_action_infers_its_error_type
assert_type(Action("allocate quota", allocate, release), Action[QuotaError])
assert_type(Action("allocate quota", allocate).name, str)

# case: run_returns_none_or_the_union_of_errors
assert_type(run(CreateVolume(100)), Result[None, QuotaError | VolumeError])
assert_type(run(CreateVolume(100), on_compensation_failure="continue"), Result[None, QuotaError | VolumeError])

# case: actions_may_be_yielded
assert_type(run(Yielding()), Result[None, QuotaError])

# case: a_handler_is_a_protocol
def start(handler: Handler[QuotaError | VolumeError]) -> Result[None, QuotaError | VolumeError]:
    return run(handler)


assert_type(start(CreateVolume(10)), Result[None, QuotaError | VolumeError])
assert_type(start(Yielding()), Result[None, QuotaError | VolumeError])

# case: a_lambda_compensation_of_no_argument
assert_type(Action("allocate quota", allocate, lambda: release()), Action[QuotaError])

# case: an_action_taking_an_argument
Action("allocate quota", allocate_for)  # expect-error: actions take no argument: use lambda: allocate_for(self.region)

# case: a_compensation_returning_none
Action("allocate quota", allocate, release_silently)  # expect-error: a compensation returns a Result

# case: an_async_action_for_run_async
assert_type(Action("allocate quota", allocate_async), Action[QuotaError])

# case: an_action_returning_a_plain_value
Action("count", plain_count)  # expect-error: an action returns a Result

# case: an_action_with_an_error_the_handler_does_not_declare
class Undeclared:
    def actions(self) -> list[Action[QuotaError]]:
        return [Action("validate", CreateVolume(1).validate)]  # expect-error: validate fails with VolumeError, the handler declares QuotaError

# case: a_handler_without_actions
class NoActions:
    def steps(self) -> list[Action[QuotaError]]:
        return []


run(NoActions())  # expect-error: a handler has an actions() method

# case: actions_returning_functions
class Functions:
    def actions(self) -> list[object]:
        return [allocate]


run(Functions())  # expect-error: actions() returns Action objects

# case: run_with_an_unknown_policy
run(CreateVolume(1), on_compensation_failure="rollback")  # expect-error: the policy is "stop" or "continue"

# case: the_result_declared_with_too_few_errors
narrow: Result[None, QuotaError] = run(CreateVolume(1))  # expect-error: the handler can also fail with VolumeError

# case: the_action_called_instead_of_passed
Action("allocate quota", allocate())  # expect-error: pass the method, not its result
