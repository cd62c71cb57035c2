"""``parallel(...)``: typed fan-out with compensation (issue 4), on both backends.

A :class:`World` records every action and compensation with its argument; the
tests build branches of several sync and async steps and check what ran, what
was undone, in which order, with which argument, and what the run returned
or raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
import trio
from returns.result import Failure, Result, Success

from typed_saga import (
    AsyncBody,
    AsyncSaga,
    Event,
    Saga,
    SagaFailed,
    StepOutcome,
    StepRecord,
    current_step,
    parallel,
    saga,
    step,
)

AnySaga = Saga[Any, Any, Any] | AsyncSaga[Any, Any, Any]


@dataclass
class World:
    """Records ``("do", name, input)`` and ``("undo", name, output)``."""

    calls: list[tuple[str, str, object]] = field(default_factory=list)

    def sync(self, name: str, undo: bool = True) -> Saga[Any, str, str]:
        """A sync step ``name`` whose output is ``name(input)``."""

        def act(value: object) -> Result[str, str]:
            self.calls.append(("do", name, value))
            return Success(f"{name}({value})")

        return step(name, act, compensate=self.undo_sync(name) if undo else None)

    def async_(
        self, name: str, delay: float = 0.0, *, awaits: int = 2, undo: bool = True
    ) -> AsyncSaga[Any, str, str]:
        """An async step that awaits ``awaits`` times (``delay`` seconds in all)."""

        async def act(value: object) -> Result[str, str]:
            for _ in range(awaits):
                await anyio.sleep(delay / awaits)
            self.calls.append(("do", name, value))
            return Success(f"{name}({value})")

        return step(name, act, compensate=self.undo_async(name) if undo else None)

    def failing(self, name: str, failure: Failure[str], delay: float = 0.0) -> AnySaga:
        """An async step that fails with ``failure`` after ``delay`` seconds."""

        async def act(value: object) -> Result[str, str]:
            await anyio.sleep(delay)
            self.calls.append(("do", name, value))
            return failure

        return step(name, act, compensate=self.undo_async(name))

    def raising(self, name: str, exc: BaseException, delay: float = 0.0) -> AnySaga:
        """An async step that raises ``exc`` after ``delay`` seconds."""

        async def act(value: object) -> Result[str, str]:
            await anyio.sleep(delay)
            self.calls.append(("do", name, value))
            raise exc

        return step(name, act, compensate=self.undo_async(name))

    def hanging(self, name: str, started: Callable[[], None] | None = None) -> AnySaga:
        """An async step that never finishes (until cancelled)."""

        async def act(value: object) -> Result[str, str]:
            if started is not None:
                started()
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        return step(name, act, compensate=self.undo_async(name))

    def undo_sync(self, name: str) -> Callable[[object], Result[None, str]]:
        """A sync compensation recording its argument."""

        def comp(value: object) -> Result[None, str]:
            self.calls.append(("undo", name, value))
            return Success(None)

        return comp

    def undo_async(
        self, name: str
    ) -> Callable[[object], Coroutine[Any, Any, Result[None, str]]]:
        """An async compensation that awaits twice, then records its argument."""

        async def comp(value: object) -> Result[None, str]:
            await anyio.sleep(0)
            await anyio.sleep(0)
            self.calls.append(("undo", name, value))
            return Success(None)

        return comp

    def undo_failing(
        self, name: str
    ) -> Callable[[object], Coroutine[Any, Any, Result[None, str]]]:
        """An async compensation that records its call, then fails."""

        async def comp(value: object) -> Result[None, str]:
            await anyio.sleep(0)
            self.calls.append(("undo", name, value))
            return Failure(f"cannot undo {name}")

        return comp

    @property
    def done(self) -> list[str]:
        """Actions that finished, in order."""
        return [name for kind, name, _ in self.calls if kind == "do"]

    @property
    def undone(self) -> list[str]:
        """Compensations that finished, in order."""
        return [name for kind, name, _ in self.calls if kind == "undo"]

    def argument(self, kind: str, name: str) -> object:
        """The argument ``name``'s action or compensation was called with."""
        [value] = [v for k, n, v in self.calls if k == kind and n == name]
        return value


def same(value: object) -> Result[object, str]:
    """A sync action that passes its input on."""
    return Success(value)


def run(backend: str, saga: AnySaga, value: object, **options: Any) -> Any:
    """``await saga.run(value)`` on ``backend``."""

    async def main() -> Any:
        assert isinstance(saga, AsyncSaga)
        return await saga.run(value, **options)

    return anyio.run(main, backend=backend)


def report_of(backend: str, saga: AnySaga, value: object, **options: Any) -> Any:
    """``await saga.run_with_report(value)`` on ``backend``."""

    async def main() -> Any:
        assert isinstance(saga, AsyncSaga)
        return await saga.run_with_report(value, **options)

    return anyio.run(main, backend=backend)


# -- success ---------------------------------------------------------------------


@pytest.mark.parametrize("k", range(2, 7))
def test_two_to_six_branches_of_several_steps(backend: str, k: int) -> None:
    """Every branch gets the same input, runs its sync and async steps in
    order, and the output is the tuple of branch outputs, in branch order."""
    world = World()
    branches: list[AnySaga] = []
    for b in range(k):
        branch: AnySaga = world.sync(f"b{b}.1")
        for s in range(2, b + 3):  # branch b has b + 2 steps
            part = world.async_(f"b{b}.{s}") if s % 2 == 0 else world.sync(f"b{b}.{s}")
            branch = branch.then(part)
        branches.append(branch)
    saga = world.sync("before").then(parallel(*branches)).map(list)

    result = run(backend, saga, "in")
    expected = []
    for b in range(k):
        value = "before(in)"
        for s in range(1, b + 3):
            value = f"b{b}.{s}({value})"
        expected.append(value)
    assert result == Success(expected)
    for b in range(k):
        assert world.argument("do", f"b{b}.1") == "before(in)"
        mine = [name for name in world.done if name.startswith(f"b{b}.")]
        assert mine == [f"b{b}.{s}" for s in range(1, b + 3)]
    assert world.undone == []


def test_branches_that_are_bodies_run_and_unwind_like_chains(backend: str) -> None:
    world = World()
    l1, l2, r1 = world.async_("l.1"), world.sync("l.2"), world.async_("r.1")

    @saga("left")
    def left(value: str) -> AsyncBody[str, str]:
        first = yield from l1(value)
        return (yield from l2(first))

    @saga("right")
    def right(value: str) -> AsyncBody[str, str]:
        return (yield from r1(value))

    both = parallel(left, right, name="both")
    assert run(backend, both, "x") == Success(("l.2(l.1(x))", "r.1(x)"))

    world.calls.clear()
    report = report_of(backend, both.then(world.failing("late", Failure("no"))), "x")
    assert report.result == Failure("no")
    assert report.steps[0].branches == (
        (
            StepRecord("l.1", StepOutcome.COMPENSATED),
            StepRecord("l.2", StepOutcome.COMPENSATED),
        ),
        (StepRecord("r.1", StepOutcome.COMPENSATED),),
    )
    assert world.undone.index("l.2") < world.undone.index("l.1")
    assert world.argument("undo", "l.2") == "l.2(l.1(x))"
    assert world.argument("undo", "r.1") == "r.1(x)"


def test_sync_only_branches_make_an_async_saga(backend: str) -> None:
    """``parallel`` of plain ``Saga`` values is an ``AsyncSaga``."""
    world = World()
    saga = parallel(world.sync("a"), world.sync("b"))
    assert isinstance(saga, AsyncSaga)
    assert run(backend, saga, 1) == Success(("a(1)", "b(1)"))


def test_three_slow_branches_run_concurrently(backend: str) -> None:
    """Three branches of 0.3 s each finish together (a loose bound on purpose;
    precise figures are in benchmarks/bench_async.py)."""
    world = World()
    saga = parallel(
        world.async_("a", 0.3, awaits=1),
        world.async_("b", 0.3, awaits=1),
        world.async_("c", 0.3, awaits=1),
    )
    started = time.perf_counter()
    result = run(backend, saga, 0)
    elapsed = time.perf_counter() - started
    assert result == Success(("a(0)", "b(0)", "c(0)"))
    assert elapsed < 0.6, f"three 0.3 s branches took {elapsed:.3f} s"


# -- a failing branch ----------------------------------------------------------------


def test_failing_branch_unwinds_everything_and_returns_its_failure(
    backend: str,
) -> None:
    """Branch ``fast`` finished: compensated, in reverse. Branch ``slow`` was
    cut in its second step: its first step is unwound, the cut one is not.
    The failing branch's own first step is unwound. The step before the group
    is compensated last. The very ``Failure`` object is returned."""
    world = World()
    failure = Failure("region b has no quota")
    saga = (
        world.async_("before")
        .then(
            parallel(
                world.sync("fast.1").then(world.async_("fast.2")),
                world.async_("bad.1").then(world.failing("bad.2", failure, delay=0.05)),
                world.async_("slow.1").then(world.async_("slow.2", delay=30)),
            )
        )
        .then(world.async_("after"))
    )
    report = report_of(backend, saga, "x")
    assert report.result is failure
    assert "slow.2" not in world.done
    assert "after" not in world.done
    assert sorted(world.undone) == sorted(
        ["fast.2", "fast.1", "bad.1", "slow.1", "before"]
    )
    assert world.undone[-1] == "before"
    assert world.undone.index("fast.2") < world.undone.index("fast.1")
    # each compensation got its own step's output
    assert world.argument("undo", "fast.2") == "fast.2(fast.1(before(x)))"
    assert world.argument("undo", "slow.1") == "slow.1(before(x))"
    assert world.argument("undo", "before") == "before(x)"

    before, group, after = report.steps
    assert before.outcome is StepOutcome.COMPENSATED
    assert group.outcome is StepOutcome.FAILED
    assert group.error == "region b has no quota"
    assert after.outcome is StepOutcome.NOT_RUN
    fast, bad, slow = group.branches
    assert [r.outcome for r in fast] == [StepOutcome.COMPENSATED] * 2
    assert [(r.name, r.outcome) for r in bad] == [
        ("bad.1", StepOutcome.COMPENSATED),
        ("bad.2", StepOutcome.FAILED),
    ]
    assert bad[1].error == "region b has no quota"
    assert [(r.name, r.outcome) for r in slow] == [
        ("slow.1", StepOutcome.COMPENSATED),
        ("slow.2", StepOutcome.FAILED),  # cut short by the cancellation
    ]


def test_a_branch_that_fails_midway_reports_its_later_steps_not_run(
    backend: str,
) -> None:
    world = World()
    saga = parallel(
        world.sync("a.1")
        .then(world.failing("a.2", Failure("no")))
        .then(world.sync("a.3")),
        world.sync("b.1"),
        name="fan",
    )
    report = report_of(backend, saga, 0)
    assert report.result == Failure("no")
    assert report.steps[0].branches == (
        (
            StepRecord("a.1", StepOutcome.COMPENSATED),
            StepRecord("a.2", StepOutcome.FAILED, "no"),
            StepRecord("a.3", StepOutcome.NOT_RUN),
        ),
        (StepRecord("b.1", StepOutcome.COMPENSATED),),
    )


def test_first_failure_in_time_wins(backend: str) -> None:
    """Two branches fail; the one that failed first is returned, by identity."""
    world = World()
    early, late = Failure("early"), Failure("late")
    saga = parallel(
        world.failing("late", late, delay=0.2),
        world.failing("early", early, delay=0.0),
    )
    assert run(backend, saga, 0) is early
    assert "late" not in world.done  # cancelled before it could fail


def test_failure_after_the_group_unwinds_every_branch_then_earlier_steps(
    backend: str,
) -> None:
    """Each branch in reverse, every branch before the steps before the group,
    and the steps before the group in reverse."""
    world = World()
    failure = Failure("server refused")
    saga = (
        world.sync("first")
        .then(world.async_("second"))
        .then(
            parallel(
                world.async_("a.1").then(world.sync("a.2")).then(world.async_("a.3")),
                world.sync("b.1").then(world.async_("b.2")),
                world.async_("c.1", undo=False).then(world.async_("c.2")),
            )
        )
        .then(world.failing("last", failure))
    )
    report = report_of(backend, saga, 0)
    assert report.result is failure
    undone = world.undone
    assert sorted(undone[:6]) == ["a.1", "a.2", "a.3", "b.1", "b.2", "c.2"]
    assert undone[6:] == ["second", "first"]
    assert [n for n in undone if n.startswith("a.")] == ["a.3", "a.2", "a.1"]
    assert [n for n in undone if n.startswith("b.")] == ["b.2", "b.1"]
    assert world.argument("undo", "a.2") == "a.2(a.1(second(first(0))))"
    assert world.argument("undo", "c.2") == "c.2(c.1(second(first(0))))"
    group = report.steps[2]
    assert group.outcome is StepOutcome.COMPENSATED
    assert [[r.outcome for r in branch] for branch in group.branches] == [
        [StepOutcome.COMPENSATED] * 3,
        [StepOutcome.COMPENSATED] * 2,
        [StepOutcome.SUCCEEDED, StepOutcome.COMPENSATED],  # c.1 has nothing to undo
    ]


def test_branch_compensations_run_concurrently(backend: str) -> None:
    """Branches unwind at the same time: each branch's compensation waits
    until all three have started, which only concurrent unwinding allows (a
    sequential one would leave the first waiting alone, and it gives up)."""
    started: list[str] = []
    undone: list[str] = []

    def rendezvous_undo(
        name: str,
    ) -> Callable[[object], Coroutine[Any, Any, Result[None, str]]]:
        async def comp(value: object) -> Result[None, str]:
            started.append(name)
            for _ in range(1000):  # checkpoints, not seconds
                if len(started) == 3:
                    undone.append(name)
                    return Success(None)
                await anyio.sleep(0)
            return Failure(f"{name} unwound alone: branches were not concurrent")

        return comp

    saga = parallel(
        *(step(name, same, compensate=rendezvous_undo(name)) for name in "abc")
    ).then(step("refuse", lambda _: Failure("no")))
    report = report_of(backend, saga, 0)
    assert report.result == Failure("no")
    assert sorted(undone) == ["a", "b", "c"]
    assert report.steps[0].outcome is StepOutcome.COMPENSATED


# -- exceptions in a branch ------------------------------------------------------------


def test_exception_in_a_branch_reraised_after_everything_unwound(backend: str) -> None:
    """Rule 6 for the whole saga: same object, note naming the step, raised
    only once every branch and every earlier step is unwound."""
    world = World()
    boom = ConnectionError("region b unreachable")
    saga = world.async_("before").then(
        parallel(
            world.async_("a.1").then(world.async_("a.2")),
            world.async_("b.1").then(world.raising("b.2", boom, delay=0.05)),
            world.async_("c.1").then(world.async_("c.2", delay=30)),
        )
    )
    with pytest.raises(ConnectionError) as info:
        run(backend, saga, 0)
    assert info.value is boom
    assert sorted(world.undone) == ["a.1", "a.2", "b.1", "before", "c.1"]
    assert world.undone[-1] == "before"
    assert world.undone.index("a.2") < world.undone.index("a.1")
    notes = "\n".join(boom.__notes__)
    assert "'b.2'" in notes
    assert "parallel" in notes


class BranchError(Exception):
    pass


def test_every_other_branch_failure_is_noted_in_time_order_and_logged(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Three branches raise without a checkpoint, so all three fail: the
    first is raised; the note names it, then the others in the order they
    failed; each other one is logged at ERROR with the run's id."""
    order: list[str] = []
    crashes = {name: BranchError(name) for name in "abc"}
    number = {"a": 1, "b": 2, "c": 3}

    def raising(name: str) -> Callable[[object], Result[object, str]]:
        def act(_: object) -> Result[object, str]:
            order.append(name)
            raise crashes[name]

        return act

    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    saga = step("s0", ok).then(
        parallel(*(step(name, raising(name)) for name in "abc"), name="fan")
    )
    with (
        caplog.at_level(logging.ERROR, logger="typed_saga"),
        pytest.raises(BranchError) as caught,
    ):
        run(backend, saga, 1, run_id="run-7")
    first, *others = order
    assert sorted(order) == ["a", "b", "c"]
    assert caught.value is crashes[first]
    also = [
        f"also failed: step {name!r} of branch {number[name]} of parallel group "
        f"'fan': BranchError: {name}"
        for name in others
    ]
    assert caught.value.__notes__[-1].splitlines()[1:] == [
        f"  raised in step {first!r} of branch {number[first]} of parallel group 'fan'",
        *(f"  {line}" for line in also),
    ]
    logged = [r for r in caplog.records if r.getMessage().startswith("also failed")]
    assert [r.getMessage() for r in logged] == also
    assert [getattr(r, "saga_run_id", None) for r in logged] == ["run-7"] * 2


@pytest.mark.parametrize("how", ["raise", "failure"])
def test_a_failing_branch_keeps_the_failed_and_left_compensations_of_another(
    backend: str, how: str
) -> None:
    """Branch a completed; branch b then fails. Under "stop", a.2's failed
    compensation leaves a.1: the note (when b raised) and the ``SagaFailed``
    event name both, by their step names."""
    world = World()
    events: list[Event] = []
    crash = BranchError("b is down")
    a2 = step("a.2", same, compensate=world.undo_failing("a.2"))
    b = (
        world.raising("b", crash)
        if how == "raise"
        else world.failing("b", Failure("b refused"))
    )
    saga = parallel(world.sync("a.1").then(a2), b, name="fan")
    if how == "raise":
        with pytest.raises(BranchError) as caught:
            run(backend, saga, 0, listeners=[events.append])
        assert caught.value.__notes__[-1] == (
            "typed-saga: parallel group 'fan' raised; the 0 completed step(s) "
            "before it were unwound (on_compensation_failure='stop')\n"
            "  compensation of step 'a.2' failed: 'cannot undo a.2'\n"
            "  left un-compensated: 'a.1'\n"
            "  raised in step 'b' of branch 2 of parallel group 'fan'"
        )
    else:
        assert run(backend, saga, 0, listeners=[events.append]) == Failure("b refused")
    [failed] = [e for e in events if isinstance(e, SagaFailed)]
    assert failed.left_uncompensated == ("a.1",)
    assert world.undone == ["a.2"]


def test_of_two_fatal_branch_compensations_the_first_is_raised_the_other_noted(
    backend: str,
) -> None:
    raised: list[str] = []

    async def undo_first(_: object) -> Result[None, str]:
        raised.append("first")
        raise KeyboardInterrupt("first")

    async def undo_second(_: object) -> Result[None, str]:
        while not raised:  # raises after the first one did, whatever the order
            await anyio.sleep(0)
        raise KeyboardInterrupt("second")

    saga = parallel(
        step("a", same, compensate=undo_first), step("b", same, compensate=undo_second)
    ).then(step("c", lambda _: Failure("c failed")))
    with pytest.raises(KeyboardInterrupt) as caught:
        run(backend, saga, 0)
    assert caught.value.args == ("first",)
    assert caught.value.__notes__[-1].endswith(
        "\n  a compensation also raised KeyboardInterrupt: second"
    )


def test_a_cancellation_raised_by_a_step_is_a_branch_failure_that_loses_to_another() -> (
    None
):
    """Under trio, a step that raises asyncio's ``CancelledError`` has not
    been cancelled by this run: it fails its branch, and a real failure of
    another branch, even a later one, is the group's result."""
    stray = asyncio.CancelledError("from another loop")

    def cancelled(_: object) -> Result[object, str]:
        raise stray

    async def refuse_later(_: object) -> Result[object, str]:
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0)  # fails after the other branch, in any order
        return Failure("b refused")

    saga = parallel(step("a", cancelled), step("b", refuse_later), name="fan")
    assert run("trio", saga, 0) == Failure("b refused")


def test_a_cancellation_raised_by_a_step_is_raised_when_nothing_else_failed() -> None:
    world = World()
    stray = asyncio.CancelledError("from another loop")

    def cancelled(_: object) -> Result[object, str]:
        raise stray

    saga = parallel(step("a", cancelled), world.sync("b"), name="fan")
    with pytest.raises(asyncio.CancelledError) as caught:
        run("trio", saga, 0)
    assert caught.value is stray
    assert world.undone == ["b"]


def test_keyboard_interrupt_in_a_branch_is_never_swallowed(backend: str) -> None:
    """One branch fails; a sibling, inside its own shielded section, then
    raises ``KeyboardInterrupt``: the interrupt must still reach the caller
    (after the unwinding), not vanish behind the first ``Failure``."""
    interrupt = KeyboardInterrupt()
    refused = anyio.Event()

    def refuse(value: object) -> Result[str, str]:
        refused.set()
        return Failure("refused")

    async def interrupted(value: object) -> Result[str, str]:
        with anyio.CancelScope(shield=True):
            await refused.wait()  # whatever order the scheduler picks
        raise interrupt

    saga = parallel(step("refuse", refuse), step("interrupted", interrupted))
    with pytest.raises(KeyboardInterrupt) as info:
        run(backend, saga, 0)
    assert info.value is interrupt


# -- reports -----------------------------------------------------------------------------


def test_report_shows_each_branch_and_reads_well(backend: str) -> None:
    """``StepRecord.branches`` holds one tuple of records per branch;
    ``str(report)`` lists them under the group, numbered by branch."""
    world = World()
    saga = (
        world.sync("reserve")
        .then(
            parallel(
                world.async_("net.create").then(world.sync("net.attach")),
                world.async_("volume.create"),
                name="provision",
            )
        )
        .then(world.failing("boot", Failure("no capacity")))
    )
    report = report_of(backend, saga, "req")
    assert [r.name for r in report.steps] == ["reserve", "provision", "boot"]
    group = report.steps[1]
    assert group.branches == (
        (
            StepRecord("net.create", StepOutcome.COMPENSATED),
            StepRecord("net.attach", StepOutcome.COMPENSATED),
        ),
        (StepRecord("volume.create", StepOutcome.COMPENSATED),),
    )
    assert report.steps[0].branches == ()
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("saga failed")
    body = [line.split() for line in lines[3:]]
    assert body == [
        ["reserve", "compensated"],
        ["provision", "compensated"],
        ["[1]", "net.create", "compensated"],
        ["[1]", "net.attach", "compensated"],
        ["[2]", "volume.create", "compensated"],
        ["boot", "failed", "'no", "capacity'"],
    ]
    # the outcome column is aligned for every row, branch rows included
    column = lines[1].index("outcome")
    assert all(line[column:].split()[0] in set(StepOutcome) for line in lines[3:])


def test_default_group_name_lists_its_branches() -> None:
    """Without ``name=``, the group is named after each branch's first..last step."""
    world = World()
    saga = parallel(world.sync("a").then(world.sync("b")), world.sync("c"))
    assert saga.step_names == ("parallel(a..b, c)",)


# -- cancellation from outside during a group -------------------------------------------


def _group_saga(world: World, started: Callable[[], None]) -> AsyncSaga[Any, Any, Any]:
    return world.async_("before").then(
        parallel(
            world.async_("a.1").then(world.hanging("a.2", started)),
            world.sync("b.1")
            .then(world.async_("b.2"))
            .then(world.hanging("b.3", started)),
            world.hanging("c.1", started),
        )
    )


def _check_group_cancelled(world: World) -> None:
    assert sorted(world.undone) == ["a.1", "b.1", "b.2", "before"]
    assert world.undone[-1] == "before"
    assert world.undone.index("b.2") < world.undone.index("b.1")


def test_outer_anyio_cancellation_during_a_group(backend: str) -> None:
    """Cancelled while every branch hangs in a step: each branch's completed
    steps and the step before the group are unwound, then the scope sees it."""
    world = World()
    after: list[object] = []

    async def main() -> bool:
        with anyio.CancelScope() as scope:
            hanging: list[int] = []

            def started() -> None:
                hanging.append(1)
                if len(hanging) == 3:
                    scope.cancel()

            after.append(await _group_saga(world, started).run(0))
        return scope.cancelled_caught

    assert anyio.run(main, backend=backend) is True
    assert after == []
    _check_group_cancelled(world)


def test_outer_asyncio_task_cancel_during_a_group() -> None:
    """Native ``Task.cancel()`` (twice) while the group runs: same unwinding,
    then ``CancelledError``."""
    world = World()

    async def main() -> None:
        hanging: list[int] = []
        task: asyncio.Task[Any] | None = None

        def started() -> None:
            hanging.append(1)
            if len(hanging) == 3:
                assert task is not None
                task.cancel()
                task.cancel()

        task = asyncio.ensure_future(_group_saga(world, started).run(0))
        with pytest.raises(asyncio.CancelledError):
            await task

    anyio.run(main, backend="asyncio")
    _check_group_cancelled(world)


def test_outer_trio_deadline_during_a_group() -> None:
    """trio's own cancel scope, its deadline passing while the group runs:
    same unwinding."""
    world = World()

    async def main() -> bool:
        with trio.CancelScope() as scope:
            hanging: list[int] = []

            def started() -> None:
                hanging.append(1)
                if len(hanging) == 3:
                    scope.deadline = trio.current_time()

            await _group_saga(world, started).run(0)
        return scope.cancelled_caught

    assert trio.run(main) is True
    _check_group_cancelled(world)


def test_asyncio_task_cancel_while_a_failed_group_unwinds() -> None:
    """A branch fails; while the group unwinds, the task is cancelled: the
    unwinding (group, then the step before it) still finishes, then the
    cancellation wins over the branch's ``Failure``."""
    world = World()
    task: list[asyncio.Task[Any]] = []

    async def undo_a(value: object) -> Result[None, str]:
        task[0].cancel()
        await anyio.sleep(0)
        await anyio.sleep(0)
        world.calls.append(("undo", "a", value))
        return Success(None)

    saga = world.async_("before").then(
        parallel(
            step("a", same, compensate=undo_a),
            world.failing("b", Failure("b refused"), delay=0.01),
        )
    )

    async def main() -> None:
        task.append(asyncio.ensure_future(saga.run(0)))
        with pytest.raises(asyncio.CancelledError):
            await task[0]

    anyio.run(main, backend="asyncio")
    assert world.undone == ["a", "before"]


def test_an_outer_cancellation_during_a_group_still_obeys_stop(backend: str) -> None:
    """Cancelled while branch b hangs: branch a's compensation fails, so under
    "stop" the step before the group is left; then the scope sees the
    cancellation."""
    world = World()
    events: list[Event] = []
    a2 = step("a.2", same, compensate=world.undo_failing("a.2"))

    async def main() -> bool:
        with anyio.CancelScope() as scope:
            saga = world.async_("before").then(
                parallel(world.sync("a.1").then(a2), world.hanging("b", scope.cancel))
            )
            await saga.run(0, listeners=[events.append])
        return scope.cancelled_caught

    assert anyio.run(main, backend=backend) is True
    assert world.undone == ["a.2"]
    [failed] = [e for e in events if isinstance(e, SagaFailed)]
    assert set(failed.left_uncompensated) == {"a.1", "before"}


def test_asyncio_second_cancel_while_a_cancelled_group_unwinds() -> None:
    """The group is cancelled from outside; while its branches unwind, the
    task is cancelled again. The run raises the first cancellation once
    everything is unwound, and the second is delivered at the next await."""
    world = World()
    seen: list[tuple[object, ...]] = []
    tasks: list[asyncio.Task[Any]] = []

    async def undo_a(value: object) -> Result[None, str]:
        tasks[0].cancel("again")
        await anyio.sleep(0)
        world.calls.append(("undo", "a", value))
        return Success(None)

    def started() -> None:
        tasks[0].cancel("first")

    saga = world.async_("before").then(
        parallel(step("a", same, compensate=undo_a), world.hanging("b", started))
    )

    async def caller() -> None:
        try:
            await saga.run(0)
        except asyncio.CancelledError as cancelled:
            seen.append(cancelled.args)
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError as cancelled:
            seen.append(cancelled.args)
            raise

    async def main() -> None:
        tasks.append(asyncio.ensure_future(caller()))
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]

    anyio.run(main, backend="asyncio")
    assert world.undone == ["a", "before"]
    assert seen == [("first",), ("again",)]


def test_current_step_in_a_worker_thread_of_a_branch_and_of_its_compensation(
    backend: str,
) -> None:
    keys: list[str] = []

    def key() -> str:
        return current_step().key

    async def act(value: object) -> Result[object, str]:
        keys.append(await anyio.to_thread.run_sync(key))
        return Success(value)

    async def undo(_: object) -> Result[None, str]:
        keys.append(await anyio.to_thread.run_sync(key))
        return Success(None)

    saga = parallel(step("a", act, compensate=undo), step("b", same), name="fan")
    run(backend, saga.then(step("c", lambda _: Failure("no"))), 0, run_id="r")
    assert keys == ["r/fan/1/a", "r/fan/1/a/compensate"]


# -- compensation failures inside a branch -------------------------------------------------


def _failing_undo_saga(world: World, last: AnySaga) -> AnySaga:
    """``before -> parallel(a.1 -> a.2 (undo fails), b.1) -> last``."""
    a2 = step("a.2", same, compensate=world.undo_failing("a.2"))
    return (
        world.async_("before")
        .then(parallel(world.async_("a.1").then(a2), world.async_("b.1", delay=0.01)))
        .then(last)
    )


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_branch_compensation_failure_after_the_group(backend: str, policy: str) -> None:
    """A later step fails; ``a.2``'s compensation fails. "stop" ends branch
    a's unwinding (``a.1`` left) and the unwinding of the steps before the
    group (``before`` left), while the independent branch b is still undone;
    "continue" undoes everything else."""
    world = World()
    failure = Failure("late")
    report = report_of(
        backend,
        _failing_undo_saga(world, world.failing("late", failure)),
        0,
        on_compensation_failure=policy,
    )
    assert report.result is failure
    group = report.steps[1]
    assert group.outcome is StepOutcome.COMPENSATION_FAILED
    assert group.error == "cannot undo a.2"
    [a1, a2], [b1] = group.branches
    assert a2.outcome is StepOutcome.COMPENSATION_FAILED
    assert b1.outcome is StepOutcome.COMPENSATED
    if policy == "stop":
        assert sorted(world.undone) == ["a.2", "b.1"]
        assert a1.outcome is StepOutcome.LEFT_UNCOMPENSATED
        assert report.steps[0].outcome is StepOutcome.LEFT_UNCOMPENSATED
        assert set(report.left_uncompensated) == {"before", "a.1"}
    else:
        assert sorted(world.undone) == ["a.1", "a.2", "b.1", "before"]
        assert world.undone[-1] == "before"
        assert a1.outcome is StepOutcome.COMPENSATED
        assert report.steps[0].outcome is StepOutcome.COMPENSATED


def test_branch_compensation_failure_when_a_branch_fails_continue(backend: str) -> None:
    """A sibling branch fails; under "continue" every other compensation runs."""
    world = World()
    failure = Failure("b refused")
    saga = world.async_("before").then(
        parallel(
            world.async_("a.1").then(
                step("a.2", same, compensate=world.undo_failing("a.2"))
            ),
            world.failing("b", failure, delay=0.05),
        )
    )
    report = report_of(backend, saga, 0, on_compensation_failure="continue")
    assert report.result is failure
    assert sorted(world.undone) == ["a.1", "a.2", "before"]
    assert world.undone[-1] == "before"
    [a1, a2], [b] = report.steps[1].branches
    assert (a1.outcome, a2.outcome, b.outcome) == (
        StepOutcome.COMPENSATED,
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.FAILED,
    )


def test_branch_compensation_failure_when_a_branch_fails_stop(backend: str) -> None:
    """Under "stop", a branch compensation that fails ends the unwinding of
    the steps before the group, as it does for a failure after the group."""
    world = World()
    failure = Failure("b refused")
    saga = world.async_("before").then(
        parallel(
            world.async_("a.1").then(
                step("a.2", same, compensate=world.undo_failing("a.2"))
            ),
            world.failing("b", failure, delay=0.05),
        )
    )
    report = report_of(backend, saga, 0, on_compensation_failure="stop")
    assert report.result is failure
    assert world.undone == ["a.2"]
    assert report.steps[0].outcome is StepOutcome.LEFT_UNCOMPENSATED
    assert "before" in report.left_uncompensated


# -- bad definitions -------------------------------------------------------------------------


def test_parallel_needs_two_or_more_branches() -> None:
    """Zero or one branch is a ``TypeError`` that says what to do instead."""
    world = World()
    with pytest.raises(TypeError, match="two or more sagas, got 0"):
        parallel()  # type: ignore[call-overload]
    with pytest.raises(
        TypeError, match=r"two or more sagas, got 1; for one, use the saga itself"
    ):
        parallel(world.sync("only"))  # type: ignore[call-overload]


@pytest.mark.parametrize("bad", [same, "step", None, Success(1)])
def test_parallel_rejects_what_is_not_a_saga(bad: object) -> None:
    """A function (or anything else) given as a branch names the branch index
    and says to wrap it with ``step``."""
    world = World()
    with pytest.raises(
        TypeError, match=r"branch 1 is a \w+, not a saga; wrap .* with step"
    ):
        parallel(world.sync("ok"), bad)  # type: ignore[call-overload]
