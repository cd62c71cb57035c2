"""Regression tests for what an outside audit found: no lost failure, no lost
exception, no lost cancellation. Each test failed on the runner before the fix
(item numbers follow the audit)."""

from __future__ import annotations

import asyncio
import copy
import functools
import gc
import logging
import pickle
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from returns.maybe import Nothing
from returns.result import Failure, Result, Success

from tests.harness import Runner, World
from typed_saga import (
    Action,
    AsyncSaga,
    Event,
    SagaFailed,
    SagaReport,
    StepFailed,
    StepOutcome,
    StepRecord,
    StepStarted,
    async_step,
    parallel,
    run,
    run_async,
    step,
)
from typed_saga.testing import check_rollback


def _echo(value: object) -> Result[object, str]:
    return Success(value)


# -- 1. a compensation returning Failure(None) has failed --------------------------


def _nothing_to_failure(_: object) -> Result[None, None]:
    from returns.converters import maybe_to_result

    return maybe_to_result(Nothing)  # Failure(None): "nothing" is still a failure


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_1_failure_none_from_a_compensation_fails_it(
    runner: Runner, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.action("b"), _nothing_to_failure),
        runner.step("c", world.failing("c")),
    )
    with caplog.at_level(logging.ERROR, logger="typed_saga"):
        report = runner.run_with_report(saga, "x", on_compensation_failure=policy)
    outcomes = [(r.name, r.outcome, r.error) for r in report.steps]
    assert outcomes[1] == ("b", StepOutcome.COMPENSATION_FAILED, None)
    assert world.undone == (["ua"] if policy == "continue" else [])
    assert "b" in report.needs_cleanup
    assert [r.message for r in caplog.records if "'b'" in r.message] == [
        "compensation of step 'b' failed: None"
    ]


def test_1_failure_none_from_a_go_style_compensation_fails_it() -> None:
    undone: list[str] = []

    def undo_a() -> Result[None, str]:
        undone.append("a")
        return Success(None)

    class Handler:
        def actions(self) -> list[Action[str]]:
            return [
                Action("a", lambda: Success(1), undo_a),
                Action("b", lambda: Success(2), lambda: Failure(None)),
                Action("c", lambda: Failure("c failed")),
            ]

    assert run(Handler()) == Failure("c failed")
    assert undone == []  # "stop": b's compensation failed, a is left


def test_1_check_rollback_sees_a_compensation_failing_with_none() -> None:
    rows: set[str] = set()

    def insert(name: str) -> Result[str, str]:
        rows.add(name)
        return Success(name)

    saga = step("insert", insert, compensate=_nothing_to_failure).then(
        step("notify", _echo)
    )
    with pytest.raises(AssertionError, match="its compensation failed with None"):
        check_rollback(saga, "x", is_restored=lambda: not rows, reset=rows.clear)


# -- 2. logging never changes a run --------------------------------------------------


class Explodes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        raise RuntimeError("a broken log filter")


class ExplodingHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("a broken log handler")

    def handleError(self, record: logging.LogRecord) -> None:
        raise RuntimeError("and a broken handleError")


@pytest.mark.parametrize("breakage", ["filter", "handler"])
@pytest.mark.parametrize("level", [logging.ERROR, logging.DEBUG])
def test_2_a_raising_log_filter_or_handler_changes_nothing(
    runner: Runner, breakage: str, level: int
) -> None:
    logger = logging.getLogger("typed_saga")
    world = World()
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.action("b"), world.undo_failing("ub")),
        runner.step("c", world.failing("c")),
    )
    ok = runner.step("ok", world.action("ok"))
    broken: logging.Filter | logging.Handler = (
        Explodes() if breakage == "filter" else ExplodingHandler()
    )
    old_level = logger.level
    logger.setLevel(level)
    if isinstance(broken, logging.Filter):
        logger.addFilter(broken)
    else:
        logger.addHandler(broken)
    try:
        failed = runner.run(saga, "x", on_compensation_failure="continue")
        succeeded = runner.run(ok, "x")
    finally:
        logger.setLevel(old_level)
        if isinstance(broken, logging.Filter):
            logger.removeFilter(broken)
        else:
            logger.removeHandler(broken)
    assert failed == Failure("c failed")
    assert world.undone == ["ub", "ua"]  # every compensation still ran
    assert succeeded == Success("ok(x)")


# -- 3. the very exception, whatever it is -----------------------------------------


@dataclass(frozen=True)
class FrozenError(Exception):
    code: int


class TupleNotes(Exception):
    def __init__(self) -> None:
        super().__init__("tuple notes")
        self.__notes__ = ("a note of the caller's",)  # type: ignore[assignment]


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot show myself")


@pytest.mark.parametrize(
    "exc",
    [FrozenError(7), TupleNotes(), Unprintable()],
    ids=["frozen", "tuple-notes", "unprintable"],
)
def test_3_an_exception_that_refuses_notes_propagates_unchanged(
    runner: Runner, exc: Exception
) -> None:
    world = World()
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo_raising("ua", Unprintable())),
        runner.step("b", world.raising("b", exc)),
    )
    with pytest.raises(type(exc)) as caught:
        runner.run(saga, "x")
    assert caught.value is exc
    assert world.undone == ["ua"]


def _notes_refusing(kind: str) -> Exception:
    if kind == "frozen":
        return FrozenError(7)
    if kind == "tuple-notes":
        return TupleNotes()
    renoted = RuntimeError("raised again")
    renoted.__notes__ = (  # type: ignore[assignment]
        "a note of the caller's",
        "typed-saga: from an earlier run",
    )
    return renoted


@pytest.mark.parametrize("kind", ["frozen", "tuple-notes", "tuple-with-ours"])
def test_3_an_exception_that_refuses_add_note_gets_the_note_all_the_same(
    runner: Runner, kind: str
) -> None:
    """``add_note`` fails on a frozen dataclass and on a tuple of notes; the
    note is set directly instead, after the caller's own notes (and in place
    of a typed-saga note from an earlier run)."""
    world = World()
    exc = _notes_refusing(kind)
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.raising("b", exc)),
    )
    with pytest.raises(type(exc)) as caught:
        runner.run(saga, "x")
    assert caught.value is exc
    callers = [] if kind == "frozen" else ["a note of the caller's"]
    assert exc.__notes__ == [
        *callers,
        "typed-saga: step 'b' raised; the 1 completed step(s) before it were "
        "unwound (on_compensation_failure='stop')",
    ]


def test_3_a_reused_exception_carries_one_typed_saga_note(runner: Runner) -> None:
    world = World()
    crash = RuntimeError("shared")
    crash.add_note("the caller's own note")
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.raising("b", crash)),
    )
    for _ in range(3):
        with pytest.raises(RuntimeError):
            runner.run(saga, "x")
    notes = crash.__notes__
    assert notes[0] == "the caller's own note"
    assert len([n for n in notes if n.startswith("typed-saga:")]) == 1


def test_3_stop_iteration_cannot_cross_await_so_it_is_the_cause(backend: str) -> None:
    """Python turns a StopIteration leaving a coroutine into RuntimeError
    (PEP 479); the runner unwinds first, and the RuntimeError's ``__cause__``
    is the step's very StopIteration."""
    world = World()
    stop = StopIteration("from a sync step")

    async def first(value: object) -> Result[object, str]:
        return Success(value)

    saga = step("a", first, compensate=world.undo("ua")).then(
        step("b", world.raising("b", stop))
    )
    with pytest.raises(RuntimeError) as caught:
        anyio.run(saga.run, "x", backend=backend)
    assert caught.value.__cause__ is stop
    assert world.undone == ["ua"]


# -- 4. parallel loses nothing ---------------------------------------------------------


class BranchError(Exception):
    pass


def test_4_a_branch_exception_and_another_branch_failure_are_both_kept(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One branch returns a Failure, the other raises, in the same turn of the
    loop: whichever came first is the group's outcome; the other is logged at
    ERROR and kept in the note (when the outcome is raised) — never dropped."""
    crash = BranchError("second branch")
    arrived: list[str] = []
    go = anyio.Event()

    async def together(name: str) -> None:
        arrived.append(name)
        if len(arrived) == 2:
            go.set()
        else:
            await go.wait()

    async def fails(_: object) -> Result[object, str]:
        await together("a")
        return Failure("first branch")

    async def raises(_: object) -> Result[object, str]:
        await together("b")
        raise crash

    saga = parallel(step("a", fails), step("b", raises), name="fan")
    with caplog.at_level(logging.ERROR, logger="typed_saga"):
        try:
            result = anyio.run(saga.run, 1, backend=backend)
        except BranchError as error:
            assert error is crash
            assert error.__notes__[-1].endswith(
                "also failed: step 'a' of branch 1 of parallel group 'fan': "
                "'first branch'"
            )
            logged = "step 'a' of branch 1 of parallel group 'fan': 'first branch'"
        else:
            assert result == Failure("first branch")
            logged = (
                "step 'b' of branch 2 of parallel group 'fan': BranchError: "
                "second branch"
            )
    assert [r.message for r in caplog.records if "also failed" in r.message] == [
        f"also failed: {logged}"
    ]


def test_4_every_branch_failure_is_visible_when_several_fail(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    crashes = [BranchError(f"branch {n}") for n in range(3)]
    waiting: list[int] = []
    go = anyio.Event()

    def raising(n: int) -> Callable[[object], Any]:
        async def act(_: object) -> Result[object, str]:
            waiting.append(n)
            if len(waiting) == 3:
                go.set()  # the other two wake now, before any cancellation
            else:
                await go.wait()
            raise crashes[n]  # three raises in one turn of the loop: none is lost

        return act

    saga = parallel(*(step(f"s{n}", raising(n)) for n in range(3)), name="fan")
    with (
        caplog.at_level(logging.ERROR, logger="typed_saga"),
        pytest.raises(BranchError) as caught,
    ):
        anyio.run(saga.run, 1, backend=backend)
    first = caught.value
    assert first in crashes
    others = [c for c in crashes if c is not first]
    note = first.__notes__[-1]
    for other in others:
        assert f"BranchError: {other}" in note
        assert any(f"BranchError: {other}" in r.message for r in caplog.records)


def test_4_two_fatal_compensations_in_branches_raise_one_not_a_group(
    backend: str,
) -> None:
    interrupts = [KeyboardInterrupt("first"), KeyboardInterrupt("second")]

    def undo(n: int) -> Callable[[object], Any]:
        async def comp(_: object) -> Result[None, str]:
            await anyio.sleep(0)
            raise interrupts[n]

        return comp

    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    saga = parallel(step("a", ok, undo(0)), step("b", ok, undo(1))).then(
        step("c", lambda _: Failure("c failed"))
    )
    with pytest.raises(KeyboardInterrupt) as caught:
        anyio.run(saga.run, 1, backend=backend)
    assert caught.value in interrupts
    assert not isinstance(caught.value, BaseExceptionGroup)


# -- 5. a cancellation is never lost --------------------------------------------------


def test_5_task_cancel_while_unwinding_after_a_raise_is_not_swallowed() -> None:
    undone: list[str] = []
    crash = BranchError("the action raised")

    async def main() -> None:
        task: asyncio.Task[Any] | None = None

        async def slow_undo(_: object) -> Result[None, str]:
            assert task is not None
            task.cancel()  # arrives while the runner unwinds
            await anyio.sleep(0.01)
            undone.append("a")
            return Success(None)

        async def ok(value: object) -> Result[object, str]:
            return Success(value)

        async def boom(_: object) -> Result[object, str]:
            raise crash

        saga = step("a", ok, slow_undo).then(step("b", boom))

        async def caller() -> str:
            try:
                await saga.run(1)
            except BranchError:
                await asyncio.sleep(1)  # the next await must be cancelled
                return "kept running"
            return "returned"

        task = asyncio.ensure_future(caller())
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    anyio.run(main, backend="asyncio")
    assert undone == ["a"]


def test_5_a_cancellation_rearmed_after_the_unwinding_keeps_its_message() -> None:
    """The cancellation that arrived while the runner unwound is delivered
    again at the caller's next await, as it was sent (its message too)."""
    seen: list[tuple[object, ...]] = []

    async def main() -> None:
        task: asyncio.Task[Any] | None = None

        async def cancelling_undo(_: object) -> Result[None, str]:
            assert task is not None
            task.cancel("shutting down")
            await anyio.sleep(0)
            return Success(None)

        async def ok(value: object) -> Result[object, str]:
            return Success(value)

        async def boom(_: object) -> Result[object, str]:
            raise BranchError("the action raised")

        saga = step("a", ok, cancelling_undo).then(step("b", boom))

        async def caller() -> None:
            with pytest.raises(BranchError):
                await saga.run(1)
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError as cancelled:
                seen.append(cancelled.args)
                raise

        task = asyncio.ensure_future(caller())
        with pytest.raises(asyncio.CancelledError):
            await task

    anyio.run(main, backend="asyncio")
    assert seen == [("shutting down",)]


# -- 6. KeyboardInterrupt from a compensation ---------------------------------------


def test_6_keyboard_interrupt_from_a_compensation_is_reported(runner: Runner) -> None:
    world = World()
    interrupt = KeyboardInterrupt()
    events: list[Event] = []

    def interrupted(_: object) -> Result[None, str]:
        raise interrupt

    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.action("b"), interrupted),
        runner.step("c", world.failing("c")),
    )
    with pytest.raises(KeyboardInterrupt) as caught:
        runner.run(saga, "x", listeners=[events.append])
    assert caught.value is interrupt
    failed = [e for e in events if isinstance(e, SagaFailed)]
    assert len(failed) == 1
    assert failed[0].left_uncompensated == ("a",)
    report = SagaReport.of(interrupt)
    assert report is not None
    assert [(r.name, r.outcome) for r in report.steps] == [
        ("a", StepOutcome.LEFT_UNCOMPENSATED),
        ("b", StepOutcome.COMPENSATION_FAILED),
        ("c", StepOutcome.FAILED),
    ]
    assert report.needs_cleanup == ("a", "b")
    assert "KeyboardInterrupt raised while unwinding" in interrupt.__notes__[-1]


def test_6_the_note_and_report_of_an_interrupt_name_the_failure_it_interrupted(
    runner: Runner,
) -> None:
    world = World()
    interrupt = KeyboardInterrupt("stop")

    def interrupted(_: object) -> Result[None, str]:
        raise interrupt

    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.action("b"), interrupted),
        runner.step("c", world.failing("c")),
    ).named("provision")
    with pytest.raises(KeyboardInterrupt):
        runner.run(saga, "x")
    assert interrupt.__notes__ == [
        "typed-saga: KeyboardInterrupt raised while unwinding the 2 completed "
        "step(s) before step 'c' (which failed with 'c failed'); the unwinding "
        "stopped there\n"
        "  compensation of step 'b' failed: KeyboardInterrupt: stop\n"
        "  left un-compensated: 'a'"
    ]
    report = SagaReport.of(interrupt)
    assert report is not None
    assert report.name == "provision"
    assert report.steps[-1] == StepRecord("c", StepOutcome.FAILED, "c failed")
    assert report.steps[1].error is interrupt


def test_6_the_opentelemetry_span_ends_after_an_interrupt() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from typed_saga.otel import OpenTelemetryListener

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    listener = OpenTelemetryListener(provider.get_tracer("test"))

    def interrupted(_: object) -> Result[None, str]:
        raise KeyboardInterrupt

    saga = step("a", _echo, interrupted).then(step("b", lambda _: Failure("no")))
    with pytest.raises(KeyboardInterrupt):
        saga.run(1, listeners=[listener])
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left current
    names = [span.name for span in exporter.get_finished_spans()]
    assert names[-1].startswith("saga")


# -- 7. compensation_timeout is honoured ------------------------------------------------


@pytest.mark.parametrize("how", ["inline", "thread"])
def test_7_a_compensation_over_its_timeout_counts_as_failed(
    backend: str, how: str
) -> None:
    def block(_: object) -> Result[None, str]:
        time.sleep(0.3)
        return Success(None)

    async def in_thread(value: object) -> Result[None, str]:
        return await anyio.to_thread.run_sync(block, value, abandon_on_cancel=True)

    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    undo = block if how == "inline" else in_thread
    saga = step("a", ok, undo).then(step("b", lambda _: Failure("no")))

    async def main() -> SagaReport[Any, Any]:
        return await saga.run_with_report(1, compensation_timeout=0.05)

    report = anyio.run(main, backend=backend)
    record = report.steps[0]
    assert record.outcome == StepOutcome.COMPENSATION_FAILED
    assert isinstance(record.error, TimeoutError)
    expected = "finished after" if how == "inline" else "did not finish within"
    assert expected in str(record.error)


# -- 8. the testing toolkit cannot pass vacuously ---------------------------------------


def test_8_an_async_is_restored_given_to_the_sync_checker_is_refused() -> None:
    async def is_restored() -> bool:
        return False  # would be a leak, if anyone looked

    saga = step("a", _echo, lambda _: Success(None))
    with pytest.raises(TypeError, match="check_rollback_async"):
        check_rollback(saga, 1, is_restored=is_restored)  # type: ignore[arg-type]


def test_8_an_assert_only_is_restored_returning_none_counts_as_restored() -> None:
    rows: set[int] = set()

    def insert(n: int) -> Result[int, str]:
        rows.add(n)
        return Success(n)

    def delete(n: int) -> Result[None, str]:
        rows.discard(n)
        return Success(None)

    def restored() -> None:
        assert not rows

    saga = step("insert", insert, delete).then(step("notify", _echo))
    result = check_rollback(saga, 1, is_restored=restored, reset=rows.clear)
    assert result.runs == 5


# -- 9. types and run time agree -------------------------------------------------------


def test_9_async_step_is_async_where_step_cannot_see_it(backend: str) -> None:
    async def fetch(order: int) -> Result[str, str]:
        return Success(f"order {order}")

    hidden: Any = step("fetch", lambda o: fetch(o))  # noqa: PLW0108  # under test
    with pytest.raises(TypeError, match=r"async_step\(\.\.\.\)"):
        hidden.run(1)
    explicit = async_step("fetch", lambda o: fetch(o))  # noqa: PLW0108
    assert isinstance(explicit, AsyncSaga)
    assert anyio.run(explicit.run, 7, backend=backend) == Success("order 7")


def test_9_map_of_an_async_function_is_refused_when_defined() -> None:
    async def slow(value: int) -> int:
        return value

    with pytest.raises(TypeError, match="plain"):
        step("a", _echo).map(slow)  # type: ignore[arg-type]


# -- 10. the smaller ones --------------------------------------------------------------


def test_10_then_and_map_keep_the_name_and_listeners(runner: Runner) -> None:
    heard: list[Event] = []
    world = World()
    named = runner.step("a", world.action("a")).named("provision")
    named = named.with_listeners(heard.append)
    whole = named.then(runner.step("b", world.action("b"))).map(str)
    assert whole.name == "provision"
    runner.run(whole, "x")
    assert [e.step for e in heard if isinstance(e, StepStarted)] == ["a", "b"]


def test_10_a_wraps_wrapper_around_an_async_action_may_return_a_failure(
    backend: str,
) -> None:
    async def reserve(value: int) -> Result[int, str]:
        return Success(value)

    @functools.wraps(reserve)
    def guarded(value: int) -> Any:
        if value < 0:
            return Failure("negative")  # short-circuits without awaiting
        return reserve(value)

    saga = step("reserve", guarded)
    assert isinstance(saga, AsyncSaga)
    assert anyio.run(saga.run, -1, backend=backend) == Failure("negative")
    assert anyio.run(saga.run, 2, backend=backend) == Success(2)


class Ok(Success[object]):  # type: ignore[misc]  # returns marks it final
    """A Success subclass: still a success."""


def test_10_a_success_subclass_continues_the_run(runner: Runner) -> None:
    world = World()
    saga = runner.chain(
        runner.step("a", Ok),
        runner.step("b", world.action("b")),
    )
    assert runner.run(saga, "x") == Success("b(x)")


def test_10_a_success_subclass_ends_a_run_a_stretch_and_a_body_call(
    runner: Runner,
) -> None:
    world = World()
    last = runner.chain(runner.step("a", world.action("a")), runner.step("ok", Ok))
    result = runner.run(last, "x")
    assert type(result) is Ok
    assert result.unwrap() == "a(x)"

    ok = runner.step("ok", Ok)
    b = runner.step("b", world.action("b"))

    @runner.body("glue")
    def glue(value: object) -> Any:
        first = yield from ok(value)
        return (yield from b(first))

    assert runner.run(runner.chain(ok, glue), "y") == Success("b(y)")


def test_10_a_success_subclass_from_a_branch_or_a_compensation(backend: str) -> None:
    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    async def undo(_: object) -> Result[object, str]:
        return Ok(None)

    saga = parallel(step("a", ok, undo), step("b", Ok), name="fan").then(
        step("c", lambda _: Failure("no"))
    )
    report = anyio.run(saga.run_with_report, 1, backend=backend)
    assert report.result == Failure("no")
    assert [(r.name, r.outcome) for r in report.steps] == [
        ("fan", StepOutcome.COMPENSATED),
        ("c", StepOutcome.FAILED),
    ]


def test_10_a_forgotten_inner_await_is_named_as_such(backend: str) -> None:
    async def inner(value: object) -> Result[object, str]:
        return Success(value)

    async def outer(value: object) -> Any:
        return inner(value)  # forgot `await`

    saga = step("outer", outer)
    with pytest.raises(TypeError, match="is an `await` missing inside it"):
        anyio.run(saga.run, 1, backend=backend)


def test_10_async_go_style_actions_run_with_run_async(backend: str) -> None:
    undone: list[str] = []

    async def allocate() -> Result[None, str]:
        return Success(None)

    async def release() -> Result[None, str]:
        undone.append("quota")
        return Success(None)

    class Handler:
        def actions(self) -> list[Action[str]]:
            return [
                Action("quota", allocate, release),
                Action("server", lambda: Failure("no capacity")),
            ]

    with pytest.raises(TypeError, match=r"await typed_saga\.run_async\(handler\)"):
        run(Handler())
    assert anyio.run(run_async, Handler(), backend=backend) == Failure("no capacity")
    assert undone == ["quota"]


def test_10_a_partial_map_stage_is_named_by_its_function_not_its_arguments() -> None:
    def sign(key: str, value: int) -> int:
        raise RuntimeError("bad")

    saga = step("a", _echo).map(functools.partial(sign, "s3cr3t-key"))
    with pytest.raises(RuntimeError) as caught:
        saga.run(1)
    note = caught.value.__notes__[-1]
    assert "s3cr3t" not in note
    assert "map(partial(test_10_a_partial_map_stage_is_named_by_its_function" in note


def test_10_definitions_copy_deepcopy_and_pickle() -> None:
    saga = step("a", _pickled_action, _pickled_undo).then(step("b", _pickled_action))
    assert copy.copy(saga) is saga
    assert copy.deepcopy(saga) is saga
    again = pickle.loads(pickle.dumps(saga))
    assert again.step_names == ("a", "b")
    assert again.run(1) == Success(1)


def _pickled_action(value: int) -> Result[int, str]:
    return Success(value)


def _pickled_undo(value: int) -> Result[None, str]:
    return Success(None)


def test_10_outputs_are_released_after_a_raise() -> None:
    """Sync: nothing of the runner's keeps an output alive once the exception
    is dropped. (On asyncio the event loop's own task holds the exception in a
    cycle; the runner's trace still lets go of the outputs.)"""
    runner = Runner("sync")

    class Output:
        pass

    refs: list[weakref.ref[Output]] = []

    def make(_: object) -> Result[Output, str]:
        out = Output()
        refs.append(weakref.ref(out))
        return Success(out)

    def boom(_: object) -> Result[object, str]:
        raise BranchError("boom")

    saga = runner.chain(
        runner.step("a", make, lambda _: Success(None)), runner.step("b", boom)
    )
    gc.collect()
    gc.disable()
    try:
        with pytest.raises(BranchError):
            runner.run(saga, 1)
        assert refs
        assert refs[0]() is None
    finally:
        gc.enable()


def test_10_a_per_run_listener_that_is_not_callable_is_refused_up_front() -> None:
    world = World()
    saga = step("a", world.action("a"))
    with pytest.raises(TypeError, match="listener 0 is a NoneType"):
        saga.run(1, listeners=[None])  # type: ignore[list-item]
    assert world.done == []  # nothing ran


def test_10_an_error_class_merely_named_cancelled_keeps_its_details() -> None:
    class Cancelled(Exception):  # the user's own, not a loop's
        pass

    def refuse(_: object) -> Result[object, Cancelled]:
        return Failure(Cancelled("order 7 was cancelled by the customer"))

    report = step("a", refuse).run_with_report(1)
    assert "order 7 was cancelled by the customer" in str(report)


def test_10_the_note_counts_steps_not_map_stages() -> None:
    def boom(_: object) -> Result[object, str]:
        raise BranchError("boom")

    saga = step("a", _echo).map(str).map(len).then(step("b", boom))
    with pytest.raises(BranchError) as caught:
        saga.run(1)
    assert "the 1 completed step(s) before it" in caught.value.__notes__[-1]


def test_10_actions_returning_none_is_explained() -> None:
    class Handler:
        def actions(self) -> list[Action[str]]:
            return None  # type: ignore[return-value]  # forgot the return

    with pytest.raises(TypeError, match=r"actions\(\) returned None; it must return"):
        run(Handler())


def test_10_the_empty_action_name_error_reads_well() -> None:
    with pytest.raises(ValueError, match=r"^an action name must be a non-empty string"):
        Action("", lambda: Success(None))


def test_10_duplicate_step_names_are_told_apart_in_reports(runner: Runner) -> None:
    world = World()
    saga = runner.chain(
        runner.step("copy", world.action("copy"), world.undo("uncopy")),
        runner.step("copy", world.action("copy"), world.undo_failing("uncopy")),
        runner.step("fail", world.failing("fail")),
    )
    report = runner.run_with_report(saga, "x")
    assert [r.name for r in report.steps] == ["copy", "copy #2", "fail"]
    assert report.needs_cleanup == ("copy", "copy #2")


def test_10_the_report_of_a_run_that_raised_is_on_the_exception(runner: Runner) -> None:
    world = World()
    crash = BranchError("down")
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.raising("b", crash)),
    )
    with pytest.raises(BranchError):
        runner.run_with_report(saga, "x")
    report = SagaReport.of(crash)
    assert report is not None
    assert report.result == Failure(crash)
    assert [(r.name, r.outcome, r.error) for r in report.steps] == [
        ("a", StepOutcome.COMPENSATED, None),
        ("b", StepOutcome.FAILED, crash),
    ]
    assert SagaReport.of(BranchError("never raised by a run")) is None
    events: list[Event] = []
    with pytest.raises(BranchError):
        runner.run(saga, "x", listeners=[events.append])
    assert any(isinstance(e, StepFailed) and e.error is crash for e in events)


def test_10_the_report_kept_on_a_raised_exception_never_refers_to_it(
    backend: str,
) -> None:
    """Its records name the exception by a placeholder, in a group's branches
    too, so the report adds no reference cycle through the traceback;
    ``SagaReport.of`` puts the exception back."""
    crash = BranchError("down")

    async def boom(_: object) -> Result[object, str]:
        raise crash

    saga = parallel(step("a", _echo), step("b", boom), name="fan")
    with pytest.raises(BranchError):
        anyio.run(saga.run, 1, backend=backend)
    assert not [r for r in gc.get_referrers(crash) if isinstance(r, StepRecord)]
    report = SagaReport.of(crash)
    assert report is not None
    assert report.steps[0].branches[1] == (StepRecord("b", StepOutcome.FAILED, crash),)


def test_10_the_report_on_a_raised_exception_names_the_saga(runner: Runner) -> None:
    world = World()
    crash = BranchError("down")
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.raising("b", crash)),
    ).named("provision")
    with pytest.raises(BranchError):
        runner.run(saga, "x")
    report = SagaReport.of(crash)
    assert report is not None
    assert report.name == "provision"
    assert str(report).startswith("saga 'provision' failed at step 'b'")
