"""Listeners: callables taking any Event, on a definition or on one run.

Events are a closed union of frozen dataclasses, narrowed by isinstance or
match.
"""

from __future__ import annotations

from typing import assert_type

from returns.result import Result, Success

from typed_saga import (
    AsyncSaga,
    CompensationFailed,
    Event,
    Listener,
    Saga,
    SagaFailed,
    StepFailed,
    StepSucceeded,
    step,
)


def allocate(region: str) -> Result[int, KeyError]:
    return Success(len(region))


async def allocate_async(region: str) -> Result[int, KeyError]:
    return Success(len(region))


seen: list[Event] = []


def record(event: Event) -> None:
    seen.append(event)


class Metrics:
    def __init__(self) -> None:
        self.failures = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepFailed):
            self.failures += 1


def only_failures(event: StepFailed) -> None:
    print(event.error)


def two_arguments(event: Event, extra: str) -> None:
    print(event, extra)


def no_argument() -> None:
    print("event")


saga = step("allocate", allocate)

# case: functions_methods_and_objects_are_listeners
assert_type(saga.with_listeners(record, seen.append, Metrics(), print), Saga[str, int, KeyError])
assert_type(step("allocate", allocate_async).with_listeners(record), AsyncSaga[str, int, KeyError])

# case: listeners_for_one_run
assert_type(saga.run("eu", listeners=[record, Metrics()]), Result[int, KeyError])

# case: a_listener_variable_of_the_protocol_type
listener: Listener = Metrics()
assert_type(saga.with_listeners(listener).named("provision"), Saga[str, int, KeyError])

# case: events_narrow_by_match
def describe(event: Event) -> str:
    match event:
        case StepSucceeded(step=name, duration=seconds):
            assert_type(seconds, float)
            return f"{name} took {seconds:.3f}s"
        case SagaFailed(left_uncompensated=left):
            assert_type(left, tuple[str, ...])
            return ", ".join(left)
        case CompensationFailed(error=error):
            assert_type(error, object)
            return repr(error)
        case _:
            return event.run_id

# case: a_listener_for_one_kind_of_event
saga.with_listeners(only_failures)  # expect-error: a listener must accept every event: take Event and narrow

# case: a_per_run_listener_for_one_kind_of_event
saga.run("eu", listeners=[only_failures])  # expect-error: a listener must accept every event

# case: a_listener_taking_two_arguments
saga.with_listeners(two_arguments)  # expect-error: a listener takes one event

# case: a_listener_taking_no_argument
saga.with_listeners(no_argument)  # expect-error: a listener takes the event

# case: a_list_of_listeners_to_with_listeners
saga.with_listeners([record])  # expect-error: pass listeners as separate arguments, not a list

# case: an_event_is_immutable
def mutate(event: StepSucceeded) -> None:
    event.duration = 0.0  # expect-error: events are frozen

# case: an_attribute_not_on_every_event
def step_of(event: Event) -> str:
    return event.step  # expect-error: SagaStarted and SagaSucceeded have no step: narrow first
