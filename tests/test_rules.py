"""Every rule of the design, on the sync runner and the async runner (asyncio and
trio): the ``runner`` fixture runs each scenario three ways."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from returns.result import Failure, Result, Success

from tests.harness import Mode, Runner, World
from typed_saga import StepOutcome, step

# -- the reference runner's own cases -------------------------------------------


def three_steps(runner: Runner, world: World, **overrides: Callable[[Any], Any]) -> Any:
    parts = []
    for name in ("a1", "a2", "a3"):
        action = overrides.get(name, world.action(name))
        compensate = overrides.get("c" + name[1], world.undo("c" + name[1]))
        parts.append(runner.step(name, action, compensate))
    return runner.chain(*parts)


def test_all_succeed_no_compensation_runs(runner: Runner) -> None:
    world = World()
    result = runner.run(three_steps(runner, world), "in")
    assert result == Success("a3(a2(a1(in)))")
    assert world.done == ["a1", "a2", "a3"]
    assert world.undone == []


def test_first_action_fails_nothing_compensated(runner: Runner) -> None:
    world = World()
    result = runner.run(three_steps(runner, world, a1=world.failing("a1")), "in")
    assert result == Failure("a1 failed")
    assert world.done == ["a1"]
    assert world.undone == []


def test_third_action_fails_compensates_second_then_first(runner: Runner) -> None:
    world = World()
    result = runner.run(three_steps(runner, world, a3=world.failing("a3")), "in")
    assert result == Failure("a3 failed")
    assert world.undone == ["c2", "c1"]


def test_compensation_two_fails_stops_under_default_policy(runner: Runner) -> None:
    world = World()
    saga = three_steps(
        runner, world, a3=world.failing("a3"), c2=world.undo_failing("c2")
    )
    result = runner.run(saga, "in")
    assert result == Failure("a3 failed")
    assert world.undone == ["c2"]  # c1 does NOT run


# -- rule 1: threading the value ------------------------------------------------


def test_rule1_each_output_is_the_next_input(runner: Runner) -> None:
    world = World()
    runner.run(three_steps(runner, world), 7)
    assert [value for _, _, value in world.calls] == [7, "a1(7)", "a2(a1(7))"]


def test_rule1_map_transforms_the_output(runner: Runner) -> None:
    world = World()
    saga = runner.step("a", world.action("a")).map(len).map(lambda n: n * 10)
    assert runner.run(saga, "xy") == Success(50)


def test_rule1_then_flattens_nested_sagas(runner: Runner) -> None:
    world = World()
    left = runner.chain(runner.step("a", world.action("a"), world.undo("ua")))
    inner = runner.chain(
        runner.step("b", world.action("b"), world.undo("ub")),
        runner.step("c", world.action("c"), world.undo("uc")),
    )
    tail = runner.step("d", world.failing("d"))
    saga = left.then(inner.then(tail))
    runner.run(saga, 0)
    assert world.undone == ["uc", "ub", "ua"]  # compensation crosses the boundaries
    assert saga.step_names == ("a", "b", "c", "d")


# -- rule 2: the first Failure ends the forward path ------------------------------


def test_rule2_later_actions_do_not_run(runner: Runner) -> None:
    world = World()
    saga = runner.chain(
        runner.step("a", world.action("a")),
        runner.step("b", world.failing("b")),
        runner.step("c", world.action("c")),
        runner.step("d", world.action("d")),
    )
    runner.run(saga, 0)
    assert world.done == ["a", "b"]


# -- rule 3: reverse order, own output, failing step not compensated ---------------


def test_rule3_reverse_order_with_own_outputs(runner: Runner) -> None:
    world = World()
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.action("b")),  # no compensation: skipped
        runner.step("c", world.action("c"), world.undo("uc")),
        runner.step("d", world.failing("d"), world.undo("ud")),
    )
    runner.run(saga, 0)
    undo_calls = [(name, value) for kind, name, value in world.calls if kind == "undo"]
    assert undo_calls == [("uc", "c(b(a(0)))"), ("ua", "a(0)")]


# -- rule 4: the very Failure object ------------------------------------------------


@pytest.mark.parametrize("compensation", ["ok", "failure", "raise", "non-result"])
def test_rule4_returns_the_identical_failure(runner: Runner, compensation: str) -> None:
    world = World()
    failure: Failure[Any] = Failure(ValueError("x"))
    compensate = {
        "ok": world.undo("ua"),
        "failure": world.undo_failing("ua"),
        "raise": world.undo_raising("ua", RuntimeError("boom")),
        "non-result": lambda _: 42,
    }[compensation]
    saga = runner.chain(
        runner.step("a", world.action("a"), compensate),
        runner.step("b", world.failing("b", failure)),
    )
    assert runner.run(saga, 0) is failure
    assert runner.run_with_report(saga, 0).result is failure


# -- rule 5: compensation failures, logging, policies --------------------------------


def test_rule5_failure_is_logged_with_step_and_error(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    saga = runner.chain(
        runner.step("allocate quota", world.action("a"), world.undo("ua")),
        runner.step(
            "create network", world.action("b"), world.undo_failing("ub", "net busy")
        ),
        runner.step("create server", world.failing("c")),
    )
    with caplog.at_level(logging.WARNING, logger="typed_saga"):
        runner.run(saga, 0)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "typed_saga"
    assert "create network" in errors[0].getMessage()
    assert "net busy" in errors[0].getMessage()
    assert errors[0].__dict__["saga_step"] == "create network"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'allocate quota'" in warnings[0].getMessage()


def test_rule5_raising_compensation_counts_as_failed(runner: Runner) -> None:
    world = World()
    saga = three_steps(
        runner,
        world,
        a3=world.failing("a3"),
        c2=world.undo_raising("c2", OSError("disk")),
    )
    report = runner.run_with_report(saga, 0)
    assert [r.outcome for r in report.steps] == [
        StepOutcome.LEFT_UNCOMPENSATED,
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.FAILED,
    ]
    assert isinstance(report.steps[1].error, OSError)
    assert report.left_uncompensated == ("a1",)
    assert report.needs_cleanup == ("a1", "a2")


def test_rule5_continue_attempts_every_compensation(runner: Runner) -> None:
    world = World()
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo_failing("ua")),
        runner.step(
            "b", world.action("b"), world.undo_raising("ub", RuntimeError("x"))
        ),
        runner.step("c", world.action("c"), world.undo("uc")),
        runner.step("d", world.failing("d")),
    )
    report = runner.run_with_report(saga, 0, on_compensation_failure="continue")
    assert world.undone == ["uc", "ub", "ua"]
    assert [r.outcome for r in report.steps] == [
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.COMPENSATED,
        StepOutcome.FAILED,
    ]


def test_rule5_stop_logs_the_steps_left(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    saga = runner.chain(
        runner.step("first", world.action("a"), world.undo("ua")),
        runner.step("second", world.action("b"), world.undo("ub")),
        runner.step("third", world.action("c"), world.undo_failing("uc")),
        runner.step("fourth", world.failing("d")),
    )
    with caplog.at_level(logging.WARNING, logger="typed_saga"):
        runner.run(saga, 0)
    assert world.undone == ["uc"]
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "'second'" in warning.getMessage()
    assert "'first'" in warning.getMessage()


@pytest.mark.parametrize("policy", ["abort", "STOP", None, ""])
def test_rule5_unknown_policy_is_rejected_before_running(
    runner: Runner, policy: object
) -> None:
    world = World()
    saga = runner.step("a", world.action("a"))
    with pytest.raises(ValueError, match="'stop', 'continue'"):
        runner.run(saga, 0, on_compensation_failure=policy)
    assert world.calls == []


# -- rule 6: exceptions unwind, then the same object is re-raised ---------------------


@pytest.mark.parametrize(
    "exc_type",
    [RuntimeError, KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError],
)
def test_rule6_exception_unwinds_and_reraises_same_object(
    runner: Runner, exc_type: type[BaseException]
) -> None:
    if exc_type is GeneratorExit and runner.is_async:
        pytest.skip(
            "GeneratorExit inside a coroutine means the coroutine is being closed"
        )
    world = World()
    exc = exc_type("boom")
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.action("b"), world.undo("ub")),
        runner.step("create server", world.raising("c", exc)),
    )
    with pytest.raises(exc_type) as caught:
        runner.run(saga, 0)
    assert caught.value is exc
    assert world.undone == ["ub", "ua"]
    assert any("'create server'" in note for note in exc.__notes__)


def test_rule6_note_names_failed_compensations(runner: Runner) -> None:
    world = World()
    exc = RuntimeError("boom")
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("b", world.action("b"), world.undo_failing("ub", "still attached")),
        runner.step("c", world.raising("c", exc)),
    )
    with pytest.raises(RuntimeError):
        runner.run(saga, 0)
    notes = "\n".join(exc.__notes__)
    assert "compensation of step 'b' failed" in notes
    assert "still attached" in notes
    assert "left un-compensated: 'a'" in notes


# -- rule 7: programming errors ----------------------------------------------------


@pytest.mark.parametrize("returned", [None, 42, "ok", (1, 2)])
def test_rule7_non_result_unwinds_then_type_error(
    runner: Runner, returned: object
) -> None:
    world = World()
    saga = runner.chain(
        runner.step("a", world.action("a"), world.undo("ua")),
        runner.step("create network", lambda _: returned),
    )
    with pytest.raises(TypeError, match="step 'create network' returned") as caught:
        runner.run(saga, 0)
    assert world.undone == ["ua"]
    assert "Success(value) or Failure(error)" in str(caught.value)
    expected = "None" if returned is None else f"a builtins.{type(returned).__name__}"
    assert f"returned {expected}" in str(caught.value)


def test_rule7_definition_errors() -> None:
    def ok(_: object) -> Success[None]:
        return Success(None)

    with pytest.raises(ValueError, match="non-empty"):
        step("", ok)
    with pytest.raises(ValueError, match="non-empty"):
        step("   ", ok)
    with pytest.raises(TypeError, match="must be a str"):
        step(None, ok)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="action of step 'x' must be callable"):
        step("x", 42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="compensation of step 'x' must be callable"):
        step("x", ok, compensate="undo")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="then\\(\\) takes a saga"):
        step("x", ok).then(ok)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="map\\(\\) takes a function"):
        step("x", ok).map(3)  # type: ignore[arg-type]


# -- rule 8: immutable definitions, concurrent runs -------------------------------------


def test_rule8_then_and_map_leave_the_original_unchanged(runner: Runner) -> None:
    world = World()
    a = runner.step("a", world.action("a"))
    before = a.step_names
    a.then(runner.step("b", world.action("b")))
    a.map(str)
    assert a.step_names == before == ("a",)
    assert runner.run(a, 1) == Success("a(1)")


def test_rule8_definitions_reject_mutation() -> None:
    def ident(n: int) -> Result[int, str]:
        return Success(n)

    saga = step("a", ident)
    with pytest.raises(AttributeError, match="immutable"):
        saga._parts = ()
    with pytest.raises(AttributeError, match="immutable"):
        saga.anything = 1  # type: ignore[attr-defined]


def test_rule8_one_definition_from_eight_threads() -> None:
    undone: list[tuple[int, int]] = []
    lock = threading.Lock()

    def make(n: int) -> Callable[[int], Any]:
        def act(value: int) -> Any:
            return Success(value + n)

        return act

    def undo(value: int) -> Success[None]:
        with lock:
            undone.append((threading.get_ident(), value))
        return Success(None)

    def last(value: int) -> Any:
        return Failure(value) if value % 2 else Success(value)

    saga = (
        step("a", make(1), compensate=undo)
        .then(step("b", make(10)))
        .then(step("c", last))
    )
    barrier = threading.Barrier(8)
    results: dict[int, list[tuple[int, object]]] = {}

    def worker(index: int) -> None:
        barrier.wait()
        mine = [(v, saga.run(v)) for v in range(index * 1000, index * 1000 + 500)]
        results[index] = mine

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for mine in results.values():
        for value, result in mine:
            expected = value + 11
            assert result == (Failure(expected) if expected % 2 else Success(expected))
    failed_inputs = sorted(
        v + 1 for mine in results.values() for v, r in mine if (v + 11) % 2
    )
    assert sorted(value for _, value in undone) == failed_inputs


# -- rule 9: long sagas, no recursion, linear ------------------------------------------


def test_rule9_hundred_thousand_steps_forward_and_unwound() -> None:
    count = 100_000
    undone: list[int] = []

    def inc(value: int) -> Success[int]:
        return Success(value + 1)

    def undo(value: int) -> Success[None]:
        undone.append(value)
        return Success(None)

    saga = step("s0", inc, compensate=undo)
    for index in range(1, count):
        saga = saga.then(step(f"s{index}", inc, compensate=undo))
    assert saga.run(0) == Success(count)
    failing = saga.then(step("fail", lambda _: Failure("late")))
    result = failing.run(0)
    assert result == Failure("late")
    assert undone[:3] == [count, count - 1, count - 2]
    assert len(undone) == count
    assert undone[-1] == 1


@pytest.mark.parametrize("mode", ["asyncio", "trio"])
def test_rule9_async_ten_thousand_steps(mode: Mode) -> None:
    runner = Runner(mode)
    world = World()
    saga = runner.step("s0", lambda v: Success(v + 1), world.undo("u"))
    for index in range(1, 10_000):
        saga = saga.then(
            runner.step(f"s{index}", lambda v: Success(v + 1), world.undo("u"))
        )
    saga = saga.then(runner.step("fail", world.failing("fail")))
    assert runner.run(saga, 0) == Failure("fail failed")
    assert len(world.undone) == 10_000


# -- rule 10: at most once ---------------------------------------------------------------


def test_rule10_each_compensation_runs_at_most_once(runner: Runner) -> None:
    world = World()
    shared_undo = world.undo("shared")
    saga = runner.chain(
        runner.step("a", world.action("a"), shared_undo),
        runner.step("b", world.action("b"), shared_undo),
        runner.step("c", world.failing("c"), shared_undo),
    )
    runner.run(saga, 0)
    undo_args = [value for kind, _, value in world.calls if kind == "undo"]
    assert undo_args == ["b(a(0))", "a(0)"]
    # a second run of the same definition is a new run: its own compensations
    runner.run(saga, 1)
    assert len([c for c in world.calls if c[0] == "undo"]) == 4


# -- report --------------------------------------------------------------------------


def test_report_outcomes_and_table(runner: Runner) -> None:
    world = World()
    saga = runner.chain(
        runner.step("allocate quota", world.action("a"), world.undo("ua")),
        runner.step("validate", world.action("v")),
        runner.step("create network", world.action("b"), world.undo("ub")),
        runner.step("create server", world.failing("c", Failure("no capacity"))),
        runner.step("attach ip", world.action("d"), world.undo("ud")),
    ).map(str)
    report = runner.run_with_report(saga, 0)
    assert [(r.name, r.outcome, r.error) for r in report.steps] == [
        ("allocate quota", StepOutcome.COMPENSATED, None),
        ("validate", StepOutcome.SUCCEEDED, None),
        ("create network", StepOutcome.COMPENSATED, None),
        ("create server", StepOutcome.FAILED, "no capacity"),
        ("attach ip", StepOutcome.NOT_RUN, None),
    ]
    table = str(report)
    assert table.splitlines()[0] == "saga failed at step 'create server'"
    assert "create server   failed" in table
    assert "attach ip       not_run" in table


def test_report_on_success(runner: Runner) -> None:
    world = World()
    report = runner.run_with_report(three_steps(runner, world), 0)
    assert report.result == Success("a3(a2(a1(0)))")
    assert {r.outcome for r in report.steps} == {StepOutcome.SUCCEEDED}
    assert report.left_uncompensated == ()
