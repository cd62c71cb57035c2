"""FutureResult: returns' async container as an action or compensation.

Functions returning a FutureResult, and functions decorated with returns'
`@future_safe` and `@safe`, are steps like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_type

from returns.future import FutureResult, future_safe
from returns.io import IOResult, IOSuccess
from returns.result import Result, Success, safe

from typed_saga import AsyncSaga, Saga, step


@dataclass(frozen=True)
class Volume:
    volume_id: str


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str


class VolumeError(Exception): ...


def create_volume(name: str) -> FutureResult[Volume, VolumeError]:
    return FutureResult.from_value(Volume(name))


def delete_volume(volume: Volume) -> FutureResult[None, VolumeError]:
    return FutureResult.from_value(None)


def delete_snapshot(snapshot: Snapshot) -> FutureResult[None, VolumeError]:
    return FutureResult.from_value(None)


def snapshot(volume: Volume) -> FutureResult[Snapshot, VolumeError]:
    return FutureResult.from_value(Snapshot(volume.volume_id))


def reserve_name(name: str) -> Result[str, KeyError]:
    return Success(name)


@future_safe
async def fetch_size(volume: Volume) -> int:
    return len(volume.volume_id)


@safe
def parse_size(text: str) -> int:
    return int(text)


def read_label(volume: Volume) -> IOResult[str, VolumeError]:
    return IOSuccess(volume.volume_id)


def create_volume_value(name: str) -> FutureResult[Volume, VolumeError]:
    return create_volume(name)


# case: a_future_result_action_is_an_async_step
assert_type(step("create volume", create_volume, compensate=delete_volume), AsyncSaga[str, Volume, VolumeError])

# case: a_future_result_compensation_makes_a_sync_step_async
assert_type(step("reserve name", reserve_name, compensate=lambda name: FutureResult[None, str].from_value(None)), AsyncSaga[str, str, KeyError])

# case: future_result_steps_chain
chain = step("reserve name", reserve_name).then(step("create volume", create_volume)).then(step("snapshot", snapshot))
assert_type(chain, AsyncSaga[str, Snapshot, KeyError | VolumeError])

# case: future_safe_and_safe_decorated_functions
assert_type(step("fetch size", fetch_size), AsyncSaga[Volume, int, Exception])
assert_type(step("parse size", parse_size), Saga[str, int, Exception])

# case: a_future_result_step_after_a_sync_one
assert_type(step("parse size", parse_size).map(str).then(step("create volume", create_volume_value)), AsyncSaga[str, Volume, Exception | VolumeError])

# case: a_future_result_step_taking_the_wrong_input
step("reserve name", reserve_name).then(step("snapshot", snapshot))  # expect-error: snapshot takes a Volume, not a str

# case: a_future_result_compensation_for_another_output
step("create volume", create_volume, compensate=delete_snapshot)  # expect-error: delete_snapshot takes a Snapshot, the step makes a Volume

# case: an_io_result_is_not_a_result
step("read label", read_label)  # expect-error: IOResult is not a Result: use .unsafe_perform_io() or a Result

# case: a_future_safe_step_run_with_the_wrong_input
async def run_fetch() -> None:
    await step("fetch size", fetch_size).run("vol-1")  # expect-error: the saga takes a Volume

# case: a_future_result_saga_declared_sync
def volume_saga() -> Saga[str, Volume, VolumeError]:
    return step("create volume", create_volume)  # expect-error: a FutureResult step makes an AsyncSaga
