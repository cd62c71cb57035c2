"""Bodies: every rule of the design, again, on sagas written as generator
functions — on the sync runner and the async runner (asyncio and trio).

A body's steps are the ones it reached; its local variables are the state.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import weakref
from typing import Any

import anyio
import pytest
from returns.result import Failure, Result, Success

from tests.harness import Runner, World
from typed_saga import (
    AsyncBody,
    Body,
    MultiStep,
    Saga,
    SagaReport,
    StepOutcome,
    current_step,
    parallel,
    saga,
    step,
)


def ok(value: int) -> Result[int, str]:
    return Success(value)


def trip(runner: Runner, world: World, **overrides: Any) -> Any:
    """A body over three steps, each fed an earlier value: ``b`` gets ``a``'s
    output, ``c`` gets both (as one tuple); it returns all three."""
    a = runner.step("a", overrides.get("a", world.action("a")), world.undo("ua"))
    b = runner.step("b", overrides.get("b", world.action("b")), world.undo("ub"))
    c = runner.step("c", overrides.get("c", world.action("c")), world.undo("uc"))

    @runner.body("trip")
    def body(start: str) -> Any:
        first = yield from a(start)
        second = yield from b(first)
        third = yield from c((first, second))
        return (first, second, third)

    return body


# -- rules 1-4: values in, values out, the very Failure, reverse unwinding ------


def test_rule1_each_step_gets_the_value_the_body_passes(runner: Runner) -> None:
    world = World()
    result = runner.run(trip(runner, world), "in")
    assert result == Success(("a(in)", "b(a(in))", "c(('a(in)', 'b(a(in))'))"))
    assert world.calls == [
        ("do", "a", "in"),
        ("do", "b", "a(in)"),
        ("do", "c", ("a(in)", "b(a(in))")),
    ]


def test_rule2_first_failure_ends_the_body(runner: Runner) -> None:
    world = World()
    after: list[str] = []
    a = runner.step("a", world.action("a"), world.undo("ua"))
    b = runner.step("b", world.failing("b"), world.undo("ub"))
    c = runner.step("c", world.action("c"), world.undo("uc"))

    @runner.body("trip")
    def body(start: str) -> Any:
        first = yield from a(start)
        yield from b(first)
        after.append("resumed")  # never: the body is not resumed after a failure
        return (yield from c(first))

    result = runner.run(body, "in")
    assert result == Failure("b failed")
    assert world.done == ["a", "b"]
    assert after == []


@pytest.mark.parametrize("where", ["a", "b", "c"])
def test_rule3_compensations_run_in_reverse_with_their_own_outputs(
    runner: Runner, where: str
) -> None:
    world = World()
    failure = Failure(f"{where} failed")
    saga_ = trip(runner, world, **{where: world.failing(where, failure)})
    result = runner.run(saga_, "in")
    assert result is failure  # rule 4: the very object
    outputs = {"a": "a(in)", "b": "b(a(in))"}
    done_before = {"a": [], "b": ["a"], "c": ["a", "b"]}[where]
    undone = [("undo", "u" + name, outputs[name]) for name in reversed(done_before)]
    assert [call for call in world.calls if call[0] == "undo"] == undone


def test_rule3_a_step_without_compensation_is_skipped(runner: Runner) -> None:
    world = World()
    a = runner.step("a", world.action("a"))
    b = runner.step("b", world.action("b"), world.undo("ub"))
    c = runner.step("c", world.failing("c"))

    @runner.body("trip")
    def body(start: str) -> Any:
        yield from a(start)
        yield from b(start)
        return (yield from c(start))

    assert runner.run(body, "x") == Failure("c failed")
    assert world.undone == ["ub"]


# -- rule 5: failing compensations, Failure(None) included ----------------------


@pytest.mark.parametrize("error", [None, 0, "", False])
@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_rule5_a_compensation_failing_with_a_falsy_value_fails(
    runner: Runner, error: object, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    a = runner.step("a", world.action("a"), world.undo("ua"))
    b = runner.step("b", world.action("b"), world.undo_failing("ub", error))
    c = runner.step("c", world.failing("c"))

    @runner.body("trip")
    def body(start: str) -> Any:
        yield from a(start)
        yield from b(start)
        return (yield from c(start))

    with caplog.at_level(logging.ERROR, logger="typed_saga"):
        report = runner.run_with_report(body, "x", on_compensation_failure=policy)
    assert [(r.name, r.outcome, r.error) for r in report.steps] == [
        (
            "a",
            StepOutcome.COMPENSATED
            if policy == "continue"
            else StepOutcome.LEFT_UNCOMPENSATED,
            None,
        ),
        ("b", StepOutcome.COMPENSATION_FAILED, error),
        ("c", StepOutcome.FAILED, "c failed"),
    ]
    assert world.undone == (["ub", "ua"] if policy == "continue" else ["ub"])
    assert any("compensation of step 'b' failed" in r.message for r in caplog.records)
    assert report.needs_cleanup == (("b",) if policy == "continue" else ("a", "b"))


# -- rule 6: exceptions ----------------------------------------------------------


class Crash(Exception):
    pass


def test_rule6_a_step_that_raises_is_unwound_and_the_same_object_reraised(
    runner: Runner,
) -> None:
    world = World()
    crash = Crash("down")
    saga_ = trip(runner, world, c=world.raising("c", crash))
    with pytest.raises(Crash) as caught:
        runner.run(saga_, "in")
    assert caught.value is crash
    assert world.undone == ["ub", "ua"]
    notes = [n for n in caught.value.__notes__ if n.startswith("typed-saga")]
    assert len(notes) == 1
    assert notes[0].startswith(
        "typed-saga: step 'c' raised; the 2 completed step(s) before it were unwound"
    )


def test_rule6_a_body_that_raises_is_unwound_like_a_step(runner: Runner) -> None:
    world = World()
    crash = Crash("the body itself")
    a = runner.step("a", world.action("a"), world.undo("ua"))

    @runner.body("trip")
    def body(start: str) -> Any:
        yield from a(start)
        raise crash

    with pytest.raises(Crash) as caught:
        runner.run(body, "x")
    assert caught.value is crash
    assert world.undone == ["ua"]
    assert caught.value.__notes__[-1].startswith(
        "typed-saga: body 'trip' raised; the 1 completed step(s) before it"
    )
    report = SagaReport.of(caught.value)
    assert report is not None
    assert [(r.name, r.outcome) for r in report.steps] == [
        ("a", StepOutcome.COMPENSATED),
        ("trip", StepOutcome.FAILED),
    ]
    assert report.steps[-1].error is crash


def test_rule6_keyboard_interrupt_in_a_step_of_a_body(runner: Runner) -> None:
    world = World()
    interrupt = KeyboardInterrupt()
    saga_ = trip(runner, world, b=world.raising("b", interrupt))
    with pytest.raises(KeyboardInterrupt) as caught:
        runner.run(saga_, "in")
    assert caught.value is interrupt
    assert world.undone == ["ua"]


# -- the body is closed, never resumed -------------------------------------------


@pytest.mark.parametrize("how", ["failure", "exception"])
def test_the_body_is_closed_before_the_unwinding(runner: Runner, how: str) -> None:
    world = World()
    order: list[str] = []

    def undo_a(_: object) -> Result[None, str]:
        order.append("undo a")
        return Success(None)

    a = runner.step("a", world.action("a"), undo_a)
    failing = world.failing("b") if how == "failure" else world.raising("b", Crash())
    b = runner.step("b", failing)

    @runner.body("trip")
    def body(start: str) -> Any:
        try:
            yield from a(start)
            yield from b(start)
        finally:
            order.append("finally")
        order.append("after")  # never
        return None

    if how == "failure":
        assert runner.run(body, "x") == Failure("b failed")
    else:
        with pytest.raises(Crash):
            runner.run(body, "x")
    assert order == ["finally", "undo a"]


def test_a_body_that_fails_while_closing_keeps_the_failure(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    failure = Failure("b said no")
    a = runner.step("a", world.action("a"), world.undo("ua"))
    b = runner.step("b", world.failing("b", failure))

    @runner.body("trip")
    def body(start: str) -> Any:
        try:
            yield from a(start)
            yield from b(start)
        finally:
            raise Crash("cleanup broke")

    with caplog.at_level(logging.ERROR, logger="typed_saga"):
        assert runner.run(body, "x") is failure
    assert world.undone == ["ua"]
    assert any(
        "body 'trip' raised while being closed: Crash: cleanup broke" in r.message
        for r in caplog.records
    )


def test_a_body_that_raises_while_closing_after_an_exception_is_noted(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    """The step's exception propagates; the body's own error while being
    closed is logged at ERROR and is a line of that exception's note."""
    world = World()
    crash = Crash("b is down")
    a = runner.step("a", world.action("a"), world.undo("ua"))
    b = runner.step("b", world.raising("b", crash))

    @runner.body("trip")
    def body(start: str) -> Any:
        try:
            yield from a(start)
            yield from b(start)
        finally:
            raise Crash("cleanup broke")

    with (
        caplog.at_level(logging.ERROR, logger="typed_saga"),
        pytest.raises(Crash) as caught,
    ):
        runner.run(body, "x")
    assert caught.value is crash
    assert world.undone == ["ua"]
    closing = "body 'trip' raised while being closed: Crash: cleanup broke"
    assert [r.getMessage() for r in caplog.records] == [closing]
    assert caught.value.__notes__[-1] == (
        "typed-saga: step 'b' raised; the 1 completed step(s) before it were "
        f"unwound (on_compensation_failure='stop')\n  {closing}"
    )


# -- rule 7: bad returns, bad yields, bad definitions ----------------------------


def test_rule7_a_step_returning_a_non_result_is_a_type_error_after_unwinding(
    runner: Runner,
) -> None:
    world = World()
    saga_ = trip(runner, world, b=lambda _: 42)
    with pytest.raises(TypeError, match=r"step 'b' returned a builtins\.int"):
        runner.run(saga_, "in")
    assert world.undone == ["ua"]


@pytest.mark.parametrize(
    ("yielded", "message"),
    [
        (42, r"yielded a builtins\.int; a body only yields step calls: `output = "),
        ("saga", r"yielded the saga <Saga \['a'\]> itself; call it with its input"),
    ],
)
def test_rule7_a_body_yielding_a_non_step_is_a_type_error_after_unwinding(
    yielded: object, message: str
) -> None:
    world = World()
    a = step("a", world.action("a"), world.undo("ua"))
    bad = a if yielded == "saga" else yielded

    @saga("trip")
    def body(start: str) -> Body[object, str]:
        yield from a(start)
        yield bad  # type: ignore[misc]  # the mistake under test
        return None

    with pytest.raises(TypeError, match=message):
        body.run("x")
    assert world.undone == ["ua"]


def test_an_async_step_in_a_sync_body_unwinds_and_says_to_declare_asyncbody() -> None:
    world = World()

    async def later(value: object) -> Result[object, str]:
        return Success(value)

    a = step("a", world.action("a"), world.undo("ua"))
    slow = step("slow", later)

    @saga("trip")
    def body(start: str) -> Body[object, str]:
        yield from a(start)
        return (yield from slow(start))  # type: ignore[misc]  # under test

    with pytest.raises(
        TypeError,
        match=r"sync Body but called step 'slow', which is async\. Annotate the body",
    ):
        body.run("x")
    assert world.undone == ["ua"]


class Stray:
    """Not a step call: what a buggy body yields."""


@pytest.mark.parametrize("yielded", ["stray", "saga"])
def test_rule7_every_runner_names_a_bad_yield_and_reports_the_body(
    runner: Runner, yielded: str
) -> None:
    world = World()
    a = runner.step("a", world.action("a"), world.undo("ua"))
    bad: object = a if yielded == "saga" else Stray()

    @runner.body("trip")
    def body(start: str) -> Any:
        yield from a(start)
        yield bad
        return None

    with pytest.raises(TypeError) as caught:
        runner.run(body, "x")
    hint = (
        f"it yielded the saga {a!r} itself; call it with its input: "
        "`output = yield from that_saga(value)`"
        if yielded == "saga"
        else "it yielded a tests.test_bodies.Stray; a body only yields step calls: "
        "`output = yield from some_step(value)` (with `from`)"
    )
    assert str(caught.value) == (
        f"body 'trip' yielded something that is not a step: {hint}"
    )
    assert world.undone == ["ua"]
    report = SagaReport.of(caught.value)
    assert report is not None
    assert [(r.name, r.outcome) for r in report.steps] == [
        ("a", StepOutcome.COMPENSATED),
        ("trip", StepOutcome.FAILED),
    ]


@pytest.mark.parametrize(
    ("name", "called"),
    [(None, "saga ['p', 'q']"), ("pair", "saga 'pair'")],
)
def test_a_sync_body_calling_an_async_saga_names_that_saga(
    runner: Runner, name: str | None, called: str
) -> None:
    """The same error whether the sync body runs on its own or inside an
    async saga (where it is still a sync body)."""
    world = World()

    async def later(value: object) -> Result[object, str]:
        return Success(value)

    pair = step("p", later).then(step("q", later))
    if name is not None:
        pair = pair.named(name)

    @saga("trip")
    def body(start: str) -> Body[object, str]:
        return (yield from pair(start))  # type: ignore[misc]  # under test

    whole = runner.chain(runner.step("start", world.action("start")), body)
    with pytest.raises(TypeError) as caught:
        runner.run(whole, "x")
    assert str(caught.value) == (
        f"body 'trip' is a sync Body but called {called}, which is async. "
        "Annotate the body function's return type as `AsyncBody[...]` so that "
        "@saga makes it an AsyncSaga, then `await` its run."
    )


def test_a_sync_body_inside_an_async_saga_runs_its_sync_steps(backend: str) -> None:
    world = World()
    a = step("a", world.action("a"), world.undo("ua"))

    @saga("glue")
    def body(value: str) -> Body[str, str]:
        return (yield from a(value))

    async def first(value: str) -> Result[str, str]:
        await anyio.sleep(0)
        return Success(f"first({value})")

    whole = step("first", first).then(body)
    assert anyio.run(whole.run, "x", backend=backend) == Success("a(first(x))")


def not_a_generator(x: int) -> Body[int, str]:
    return x  # type: ignore[return-value]


async def a_coroutine(x: int) -> int:
    return x


async def an_async_generator(x: int) -> Any:
    yield x


def no_parameter() -> Body[int, str]:
    yield from ()
    return 1


def two_parameters(x: int, y: int) -> Body[int, str]:
    yield from ()
    return x + y


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (not_a_generator, "not a generator"),
        (a_coroutine, "got an `async def` function"),
        (an_async_generator, "got an `async def` function"),
        (no_parameter, "got a function of 0 parameter"),
        (two_parameters, "got a function of 2 parameter"),
        (42, "takes a function, got int"),
    ],
)
def test_bad_bodies_are_refused_when_defined(function: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message) as caught:
        saga("bad")(function)
    assert "a body is a plain generator function of one parameter" in str(caught.value)


def test_a_body_name_is_checked_when_defined() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        saga("  ")


# -- rules 8-10: immutability, concurrency, 100,000 steps, once --------------------


def test_rule8_one_body_definition_from_eight_threads() -> None:
    def echo(value: tuple[int, int]) -> Result[tuple[int, int], str]:
        return Success(value)

    undone: list[tuple[int, int]] = []

    def undo(value: tuple[int, int]) -> Result[None, str]:
        undone.append(value)
        return Success(None)

    def stop_odd(v: tuple[int, int]) -> Result[tuple[int, int], tuple[int, int]]:
        return Failure(v) if v[0] % 2 else Success(v)

    hop = step("hop", echo, compensate=undo)
    stop = step("stop", stop_odd)

    @saga("per thread")
    def body(thread: int) -> Body[tuple[int, int], str | tuple[int, int]]:
        value = (thread, 0)
        for i in range(50):
            value = yield from hop((thread, i))
        return (yield from stop(value))

    results: dict[int, object] = {}

    def work(thread: int) -> None:
        for _ in range(20):
            results[thread] = body.run(thread)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for thread in range(8):
        expected = (thread, 49)
        assert results[thread] == (
            Failure(expected) if thread % 2 else Success(expected)
        )
    # each odd thread's 20 runs undid its own 50 hops, newest first
    for thread in (1, 3, 5, 7):
        mine = [v for v in undone if v[0] == thread]
        assert mine == [(thread, i) for i in reversed(range(50))] * 20


def test_rule8_one_body_definition_from_ten_thousand_tasks(backend: str) -> None:
    async def echo(value: int) -> Result[int, str]:
        await anyio.sleep(0)
        return Success(value)

    undone: list[int] = []

    def undo(value: int) -> Result[None, str]:
        undone.append(value)
        return Success(None)

    def refuse(value: int) -> Result[int, int]:
        return Failure(value)

    hop = step("hop", echo, compensate=undo)
    no = step("no", refuse)

    @saga("per task")
    def body(n: int) -> AsyncBody[int, int | str]:
        first = yield from hop(n)
        if n % 3 == 0:
            yield from no(first)
        return (yield from hop(first + 1))

    results: dict[int, object] = {}

    async def one(n: int) -> None:
        results[n] = await body.run(n)

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            for n in range(10_000):
                tasks.start_soon(one, n)

    anyio.run(main, backend=backend)
    for n in range(10_000):
        assert results[n] == (Failure(n) if n % 3 == 0 else Success(n + 1))
    assert sorted(undone) == [n for n in range(10_000) if n % 3 == 0]


def test_rule9_a_loop_of_100_000_steps_runs_and_unwinds_without_recursion() -> None:
    count = 100_000
    undone: list[int] = []

    def undo(value: int) -> Result[None, str]:
        undone.append(value)
        return Success(None)

    def plus_one(n: int) -> Result[int, str]:
        return Success(n + 1)

    def stop_at(n: int) -> Result[int, str]:
        return Failure(f"stopped at {n}")

    inc = step("inc", plus_one, compensate=undo)
    boom = step("boom", stop_at)

    @saga("long")
    def body(n: int) -> Body[int, str]:
        for _ in range(count):
            n = yield from inc(n)
        return (yield from boom(n))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a body loop must not recurse at all
    try:
        result = body.run(0)
    finally:
        sys.setrecursionlimit(limit)
    assert result == Failure(f"stopped at {count}")
    assert undone == list(range(count, 0, -1))


def test_rule9_an_async_loop_of_100_000_steps(backend: str) -> None:
    count = 100_000
    undone: list[int] = []

    def undo(value: int) -> Result[None, str]:
        undone.append(value)
        return Success(None)

    def plus_one(n: int) -> Result[int, str]:
        return Success(n + 1)

    inc = step("inc", plus_one, compensate=undo)

    async def boom(n: int) -> Result[int, str]:
        return Failure(f"stopped at {n}")

    @saga("long")
    def body(n: int) -> AsyncBody[int, str]:
        for _ in range(count):
            n = yield from inc(n)
        return (yield from step("boom", boom)(n))

    assert anyio.run(body.run, 0, backend=backend) == Failure(f"stopped at {count}")
    assert undone == list(range(count, 0, -1))


def test_rule10_a_step_called_in_a_loop_is_compensated_once_per_call(
    runner: Runner,
) -> None:
    world = World()
    attach = runner.step("attach", world.action("attach"), world.undo("detach"))
    boom = runner.step("boom", world.failing("boom"))

    @runner.body("volumes")
    def body(volumes: list[str]) -> Any:
        for volume in volumes:
            yield from attach(volume)
        return (yield from boom(volumes))

    report = runner.run_with_report(body, ["v1", "v2", "v3"])
    assert [c for c in world.calls if c[0] == "undo"] == [
        ("undo", "detach", "attach(v3)"),
        ("undo", "detach", "attach(v2)"),
        ("undo", "detach", "attach(v1)"),
    ]
    assert [r.name for r in report.steps] == [
        "attach",
        "attach #2",
        "attach #3",
        "boom",
    ]


# -- conditions, nesting, chains around bodies --------------------------------------


@pytest.mark.parametrize("express", [True, False])
def test_a_condition_is_a_conditional_step(runner: Runner, express: bool) -> None:
    world = World()
    check = runner.step("check", world.action("check"), world.undo("uncheck"))
    ship = runner.step("ship", world.failing("ship"))

    @runner.body("order")
    def body(fast: bool) -> Any:
        if not fast:
            yield from check(fast)
        return (yield from ship(fast))

    report = runner.run_with_report(body, express)
    assert [r.name for r in report.steps] == (
        ["ship"] if express else ["check", "ship"]
    )
    assert world.undone == ([] if express else ["uncheck"])


def test_bodies_nest_in_bodies_and_chains(runner: Runner) -> None:
    world = World()
    a = runner.step("a", world.action("a"), world.undo("ua"))
    b = runner.step("b", world.action("b"), world.undo("ub"))
    c = runner.step("c", world.failing("c"))

    @runner.body("inner")
    def inner(value: str) -> Any:
        return (yield from b(value))

    @runner.body("outer")
    def outer(value: str) -> Any:
        first = yield from a(value)
        second = yield from inner(first)
        return (yield from c(second))

    whole = runner.step("z", world.action("z"), world.undo("uz")).then(outer)
    report = runner.run_with_report(whole, "in")
    assert report.result == Failure("c failed")
    assert world.undone == ["ub", "ua", "uz"]
    assert [r.name for r in report.steps] == ["z", "a", "b", "c"]


def test_a_body_calls_a_chain_and_sees_only_its_output(runner: Runner) -> None:
    world = World()
    chain = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.action("b"), world.undo("ub")),
    ).map(str.upper)
    c = runner.step("c", world.failing("c"))

    @runner.body("outer")
    def outer(value: str) -> Any:
        upper = yield from chain(value)
        return (yield from c(upper))

    assert runner.run(outer, "in") == Failure("c failed")
    assert world.calls[-3:] == [
        ("do", "c", "B(A(IN))"),
        ("undo", "ub", "b(a(in))"),
        ("undo", "ua", "a(in)"),
    ]


def test_values_flow_through_steps_around_a_body_and_into_a_nested_body(
    runner: Runner,
) -> None:
    world = World()
    inside = runner.step("inside", world.action("inside"))

    @runner.body("inner")
    def inner(value: str) -> Any:
        return (yield from inside(value))

    @runner.body("outer")
    def outer(value: str) -> Any:
        return (yield from inner(value))

    whole = runner.chain(
        runner.step("before", world.action("before")),
        outer,
        runner.step("after", world.action("after")),
    )
    assert runner.run(whole, "x") == Success("after(inside(before(x)))")
    assert world.calls == [
        ("do", "before", "x"),
        ("do", "inside", "before(x)"),
        ("do", "after", "inside(before(x))"),
    ]


def test_an_engine_is_handed_every_step_around_and_inside_a_body() -> None:
    from typed_saga import engine

    world = World()
    handed: list[str] = []

    def invoke(info: engine.StepInfo, value: object) -> object:
        handed.append(f"do {info.name}")
        return info.action(value)

    def undo(info: engine.StepInfo, output: object) -> object:
        handed.append(f"undo {info.name}")
        assert info.compensate is not None
        return info.compensate(output)

    inside = step("inside", world.action("inside"), world.undo("u-inside"))

    @saga("glue")
    def body(value: str) -> Body[str, str]:
        return (yield from inside(value))

    whole = (
        step("before", world.action("before"), world.undo("u-before"))
        .then(body)
        .then(step("after", world.failing("after")))
    )
    assert engine.run(whole, "x", invoke=invoke, undo=undo) == Failure("after failed")
    assert handed == [
        "do before",
        "do inside",
        "do after",
        "undo inside",
        "undo before",
    ]
    assert world.undone == ["u-inside", "u-before"]


# -- several parameters ------------------------------------------------------------


def test_a_step_of_several_parameters_takes_them_all() -> None:
    seen: list[tuple[object, ...]] = []

    def charge(card: str, amount: int, *, currency: str = "EUR") -> Result[str, str]:
        seen.append((card, amount, currency))
        return Success(f"{amount} {currency} on {card}")

    undone: list[str] = []

    def refund(receipt: str) -> Result[None, str]:
        undone.append(receipt)
        return Success(None)

    def no(_: str) -> Result[str, str]:
        return Failure("no")

    pay = step("charge", charge, compensate=refund)
    assert isinstance(pay, MultiStep)

    @saga("pay")
    def body(card: str) -> Body[str, str]:
        first = yield from pay(card, 10)
        yield from pay(card, 20, currency="USD")
        yield from step("no", no)(first)
        return first

    assert body.run("visa") == Failure("no")
    assert seen == [("visa", 10, "EUR"), ("visa", 20, "USD")]
    assert undone == ["20 USD on visa", "10 EUR on visa"]


def test_a_revert_that_needs_the_value_it_replaces() -> None:
    """The compensation idiom for an update: the body reads the old value,
    and the update step's output carries it, so its compensation can put it
    back."""
    settings = {"plan": "basic"}

    def read(key: str) -> Result[str, str]:
        return Success(settings[key])

    def write(key: str, new: str, old: str) -> Result[tuple[str, str], str]:
        settings[key] = new
        return Success((key, old))

    def restore(written: tuple[str, str]) -> Result[None, str]:
        key, old = written
        settings[key] = old
        return Success(None)

    current = step("read plan", read)
    update = step("update plan", write, compensate=restore)

    def decline(_: str) -> Result[str, str]:
        return Failure("card declined")

    bill = step("bill", decline)

    @saga("upgrade")
    def upgrade(plan: str) -> Body[str, str]:
        old = yield from current("plan")
        yield from update("plan", plan, old)
        return (yield from bill(plan))

    assert upgrade.run("pro") == Failure("card declined")
    assert settings == {"plan": "basic"}


# -- parallel in async bodies --------------------------------------------------------


def test_parallel_over_calls_with_different_inputs(backend: str) -> None:
    world = World()

    async def book(value: str) -> Result[str, str]:
        await anyio.sleep(0)
        return world.action("book")(value)

    reserve = step("reserve", book, compensate=world.undo("cancel"))

    def decline(pair: tuple[str, str]) -> Result[str, str]:
        return Failure(f"declined {pair}")

    charge = step("charge", decline)

    @saga("trip")
    def body(city: str) -> AsyncBody[object, str]:
        flight, hotel = yield from parallel(
            reserve(f"flight {city}"), reserve(f"hotel {city}")
        )
        return (yield from charge((flight, hotel)))

    result = anyio.run(body.run, "Oslo", backend=backend)
    assert result == Failure("declined ('book(flight Oslo)', 'book(hotel Oslo)')")
    assert sorted(c[2] for c in world.calls if c[0] == "undo") == [  # type: ignore[type-var]
        "book(flight Oslo)",
        "book(hotel Oslo)",
    ]


@pytest.mark.parametrize("count", [0, 1, 5])
def test_parallel_over_a_list_of_any_length(backend: str, count: int) -> None:
    world = World()

    async def attach(value: str) -> Result[str, str]:
        await anyio.sleep(0)
        return world.action("attach")(value)

    volume = step("attach", attach, compensate=world.undo("detach"))

    @saga("volumes")
    def body(names: list[str]) -> AsyncBody[list[str], str]:
        attached = yield from parallel([volume(name) for name in names])
        return attached

    names = [f"v{i}" for i in range(count)]
    result = anyio.run(body.run, names, backend=backend)
    assert result == Success([f"attach({name})" for name in names])


def test_a_failing_branch_of_a_list_unwinds_the_others(backend: str) -> None:
    world = World()

    async def attach(value: str) -> Result[str, str]:
        await anyio.sleep(0)
        if value == "bad":
            return Failure("bad volume")
        return world.action("attach")(value)

    volume = step("attach", attach, compensate=world.undo("detach"))

    @saga("volumes")
    def body(names: list[str]) -> AsyncBody[list[str], str]:
        return (yield from parallel([volume(name) for name in names]))

    report = anyio.run(body.run_with_report, ["a", "bad", "c"], backend=backend)
    assert report.result == Failure("bad volume")
    done = sorted(f"attach({c[2]})" for c in world.calls if c[0] == "do")
    assert sorted(str(c[2]) for c in world.calls if c[0] == "undo") == done
    group = report.steps[0]
    assert group.outcome == StepOutcome.FAILED
    assert [b[0].outcome for b in group.branches][1] == StepOutcome.FAILED


# -- reports, pictures, context ------------------------------------------------------


def test_the_report_lists_the_steps_the_body_reached_in_order(runner: Runner) -> None:
    world = World()
    report = runner.run_with_report(trip(runner, world, b=world.failing("b")), "in")
    assert [(r.name, r.outcome) for r in report.steps] == [
        ("a", StepOutcome.COMPENSATED),
        ("b", StepOutcome.FAILED),
    ]
    assert report.name == "trip"
    assert "saga 'trip' failed at step 'b'" in str(report)


def test_a_body_definition_says_what_its_picture_cannot_show() -> None:
    a = step("a", ok)

    @saga("trip")
    def body(x: int) -> Body[int, str]:
        return (yield from a(x))

    picture = body.to_mermaid()
    assert "trip" in picture
    assert "body trip<br/>its steps are known only when it runs" in picture


@pytest.mark.parametrize(("failing", "reached"), [("a", ["a"]), ("b", ["a", "b"])])
def test_the_report_of_a_run_with_a_body_ends_at_the_failed_step(
    runner: Runner, failing: str, reached: list[str]
) -> None:
    """A definition with a body reports the steps its run reached: a stretch
    of steps before the body ends at the one that failed."""
    world = World()
    steps = [
        runner.step(
            name,
            world.failing(name) if name == failing else world.action(name),
            world.undo(f"u{name}"),
        )
        for name in "abc"
    ]

    @runner.body("glue")
    def glue(value: str) -> Any:
        return (yield from steps[0](value))

    report = runner.run_with_report(runner.chain(*steps, glue), "x")
    assert report.result == Failure(f"{failing} failed")
    assert [r.name for r in report.steps] == reached
    assert report.steps[-1].outcome is StepOutcome.FAILED


def test_current_step_names_the_saga(runner: Runner) -> None:
    seen: list[str | None] = []

    def note(value: str) -> Result[str, str]:
        seen.append(current_step().saga)
        return Success(value)

    named = runner.chain(runner.step("a", note), runner.step("b", note))
    runner.run(named.named("provision"), "x")
    assert seen == ["provision", "provision"]


def test_current_step_numbers_a_step_called_again(runner: Runner) -> None:
    keys: list[str] = []

    def note(value: str) -> Result[str, str]:
        keys.append(current_step().key)
        return Success(value)

    noted = runner.step("note", note)

    @runner.body("notes")
    def body(value: str) -> Any:
        for _ in range(3):
            yield from noted(value)
        return value

    runner.run(body, "x", run_id="run-1")
    assert keys == ["run-1/note", "run-1/note #2", "run-1/note #3"]


def test_current_step_is_not_available_in_the_body_between_steps() -> None:
    seen: list[str] = []

    @saga("glue")
    def body(x: int) -> Body[int, str]:
        try:
            current_step()
        except LookupError as error:
            seen.append(str(error))
        return (yield from step("a", ok)(x))

    assert body.run(1) == Success(1)
    assert seen
    assert "no step is running" in seen[0]


def test_step_outputs_are_released_when_a_body_raises() -> None:
    class Output:
        pass

    made: list[weakref.ref[Output]] = []

    def produce(_: object) -> Result[Output, str]:
        out = Output()
        made.append(weakref.ref(out))
        return Success(out)

    make = step("make", produce, compensate=lambda _: Success(None))

    @saga("leaky?")
    def body(x: int) -> Body[object, str]:
        yield from make(x)
        raise Crash("boom")

    gc.disable()
    try:
        try:
            body.run(1)
        except Crash as error:
            kept = error
        del kept
        assert made
        assert made[0]() is None
    finally:
        gc.enable()


def test_saga_is_a_saga() -> None:
    @saga("typed")
    def body(x: int) -> Body[int, str]:
        return (yield from step("a", ok)(x))

    assert isinstance(body, Saga)
    assert repr(body) == "<Saga 'typed' ['typed']>"


# -- proving a body's rollback -------------------------------------------------------


def ok_name(name: str) -> Result[str, str]:
    return Success(name)


def _volumes_world() -> tuple[set[str], Any, Any]:
    attached: set[str] = set()

    def attach(name: str) -> Result[str, str]:
        attached.add(name)
        return Success(name)

    def detach(name: str) -> Result[None, str]:
        attached.discard(name)
        return Success(None)

    return attached, attach, detach


def test_check_rollback_faults_every_step_a_body_reaches() -> None:
    from typed_saga.testing import check_rollback

    attached, attach, detach = _volumes_world()
    volume = step("attach", attach, compensate=detach)

    def count(names: list[str]) -> Result[int, str]:
        return Success(len(names))

    boot = step("boot", count)

    @saga("server")
    def body(names: list[str]) -> Body[int, str]:
        for name in names:
            yield from volume(name)
        return (yield from boot(names))

    result = check_rollback(
        body, ["a", "b"], is_restored=lambda: not attached, reset=attached.clear
    )
    assert result.steps == ("attach", "attach #2", "boot")
    assert (
        result.runs == 1 + 2 * 4
    )  # untouched, then both faults at each step and after


def test_check_rollback_names_the_leaky_step_of_a_body() -> None:
    from typed_saga.testing import check_rollback

    attached, attach, detach = _volumes_world()

    def forgetful(name: str) -> Result[None, str]:
        return Success(None)  # does not detach the second volume

    first = step("attach", attach, compensate=detach)
    second = step("attach spare", attach, compensate=forgetful)
    boot = step("boot", ok_name)

    @saga("server")
    def body(name: str) -> Body[str, str]:
        yield from first(name)
        yield from second(name + "-spare")
        return (yield from boot(name))

    with pytest.raises(AssertionError, match="Leaky step: 'attach spare'"):
        check_rollback(body, "v", is_restored=lambda: not attached)


def test_check_rollback_async_over_a_body_with_parallel(backend: str) -> None:
    from typed_saga.testing import check_rollback_async

    attached: set[str] = set()

    async def attach(name: str) -> Result[str, str]:
        await anyio.sleep(0)
        attached.add(name)
        return Success(name)

    async def detach(name: str) -> Result[None, str]:
        attached.discard(name)
        return Success(None)

    volume = step("attach", attach, compensate=detach)

    @saga("server")
    def body(names: list[str]) -> AsyncBody[list[str], str]:
        return (yield from parallel([volume(n) for n in names]))

    async def main() -> tuple[str, ...]:
        checked = await check_rollback_async(
            body, ["a", "b"], is_restored=lambda: not attached, reset=attached.clear
        )
        return checked.steps

    steps = anyio.run(main, backend=backend)
    assert sorted(steps) == [
        "parallel(attach x2)/1/attach",
        "parallel(attach x2)/2/attach",
    ]


def test_a_body_run_is_traced_by_opentelemetry_like_a_chain() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from typed_saga.otel import OpenTelemetryListener

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    world = World()
    hop = step("hop", world.action("hop"), world.undo("unhop"))
    stop = step("stop", world.failing("stop"))

    @saga("traced")
    def body(value: str) -> Body[object, str]:
        yield from hop(value)
        yield from hop(value)
        return (yield from stop(value))

    body.run("x", listeners=[OpenTelemetryListener(provider.get_tracer("t"))])
    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == sorted(
        [
            "saga traced",
            "step hop",
            "step hop #2",
            "step stop",
            "compensate hop #2",
            "compensate hop",
        ]
    )


def test_the_picture_of_a_body_run_shows_the_steps_it_reached() -> None:
    world = World()
    hop = step("hop", world.action("hop"), world.undo("unhop"))
    stop = step("stop", world.failing("stop"))

    @saga("drawn")
    def body(value: str) -> Body[object, str]:
        yield from hop(value)
        return (yield from stop(value))

    picture = body.run_with_report("x").to_mermaid()
    assert '["hop"]:::compensated' in picture
    assert 's1["stop<br/>' in picture
    assert ":::failed" in picture
