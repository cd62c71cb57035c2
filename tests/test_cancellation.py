"""Cancellation of async sagas at every await point, and ``compensation_timeout``.

The saga under test has three async steps; every action and every
compensation awaits several times. A :class:`Probe` numbers those await
points (checkpoints) and fires a cancellation at checkpoint ``i``; each test
first counts the checkpoints with an undisturbed run, then loops over all of
them. Whatever the point, the completed steps' compensations must all run to
their end (they await too, inside the shielded unwinding) and only then may
the caller see the cancellation.

Cancellation kinds: anyio ``move_on_after`` (a deadline), ``CancelScope.cancel``,
asyncio's native ``Task.cancel()``, trio's own cancel scopes and deadlines.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
import trio
import trio.testing
from returns.result import Failure, Result, Success

from typed_saga import AsyncBody, AsyncSaga, StepOutcome, step
from typed_saga import saga as saga_of

AWAITS_PER_CALL = 3
STEPS = 3


@dataclass
class Probe:
    """Numbers every await point of the saga's functions; ``fire`` hooks in.

    ``log`` records what ran, in order: ``("do", k, input)`` when action ``k``
    finished its awaits, ``("undo", k, output)`` when compensation ``k`` did.
    """

    fire: Callable[[int], None] | None = None
    count: int = 0
    log: list[tuple[str, int, object]] = field(default_factory=list)
    in_undo: list[int] = field(default_factory=list)

    async def point(self) -> None:
        """One checkpoint: maybe trigger a cancellation, then really await."""
        index = self.count
        self.count += 1
        if self.fire is not None:
            self.fire(index)
        await anyio.sleep(0)

    @property
    def undone(self) -> list[tuple[int, object]]:
        """``(step, argument)`` of each compensation that ran to its end."""
        return [(k, value) for kind, k, value in self.log if kind == "undo"]

    @property
    def done(self) -> list[int]:
        """Steps whose action ran to its end."""
        return [k for kind, k, _ in self.log if kind == "do"]


def three_steps(
    probe: Probe, *, last_fails: Failure[str] | None = None, shape: str = "chain"
) -> AsyncSaga[str, str, str]:
    """``s1 -> s2 -> s3``; each action and compensation awaits 3 times. As a
    chain, or (``shape="body"``) as a body that calls the three in a loop."""

    def action(k: int) -> Callable[[str], Coroutine[Any, Any, Result[str, str]]]:
        async def act(value: str) -> Result[str, str]:
            for _ in range(AWAITS_PER_CALL):
                await probe.point()
            probe.log.append(("do", k, value))
            if k == STEPS and last_fails is not None:
                return last_fails
            return Success(f"s{k}({value})")

        return act

    def undo(k: int) -> Callable[[str], Awaitable[Result[None, str]]]:
        async def comp(value: str) -> Result[None, str]:
            probe.in_undo.append(k)
            for _ in range(AWAITS_PER_CALL):
                await probe.point()
            probe.log.append(("undo", k, value))
            return Success(None)

        return comp

    if shape == "body":
        steps = [step(f"s{k}", action(k), compensate=undo(k)) for k in range(1, 4)]

        @saga_of("three")
        def body(value: str) -> AsyncBody[str, str]:
            for one in steps:
                value = yield from one(value)
            return value

        return body
    saga = step("s1", action(1), compensate=undo(1))
    for k in range(2, STEPS + 1):
        saga = saga.then(step(f"s{k}", action(k), compensate=undo(k)))
    return saga


@pytest.fixture(params=["chain", "body"])
def shape(request: pytest.FixtureRequest) -> str:
    """Every cancellation test, on a chain and on a body."""
    return str(request.param)


def outputs(upto: int) -> list[str]:
    """The outputs of steps 1..upto for input ``"x"``."""
    out, value = [], "x"
    for k in range(1, upto + 1):
        value = f"s{k}({value})"
        out.append(value)
    return out


def expected_undone(interrupted_step: int) -> list[tuple[int, object]]:
    """Steps before ``interrupted_step`` compensated in reverse, own outputs."""
    outs = outputs(interrupted_step - 1)
    return [(k, outs[k - 1]) for k in reversed(range(1, interrupted_step))]


FORWARD_POINTS = STEPS * AWAITS_PER_CALL


def test_probe_counts_every_checkpoint(backend: str) -> None:
    """The undisturbed run passes every forward checkpoint and no other."""
    probe = Probe()

    async def main() -> None:
        assert await three_steps(probe).run("x") == Success(outputs(3)[-1])

    anyio.run(main, backend=backend)
    assert probe.count == FORWARD_POINTS
    assert probe.undone == []


def test_probe_counts_unwinding_checkpoints(backend: str) -> None:
    """With the last step failing, the unwinding adds two compensations' points."""
    probe = Probe()
    failure = Failure("s3 refused")

    async def main() -> None:
        assert await three_steps(probe, last_fails=failure).run("x") is failure

    anyio.run(main, backend=backend)
    assert probe.count == FORWARD_POINTS + 2 * AWAITS_PER_CALL
    assert probe.undone == expected_undone(3)


# -- one cancellation, at each forward checkpoint ------------------------------


def _step_of(point: int) -> int:
    return point // AWAITS_PER_CALL + 1


def _check_unwound(probe: Probe, point: int) -> None:
    interrupted = _step_of(point)
    assert probe.done == list(range(1, interrupted))
    assert probe.undone == expected_undone(interrupted)
    # every compensation that started also finished (none cut short)
    assert sorted(probe.in_undo) == sorted(k for k, _ in probe.undone)


@pytest.mark.parametrize("point", range(FORWARD_POINTS))
@pytest.mark.parametrize("how", ["move_on_after", "scope.cancel"])
def test_anyio_cancellation_at_every_forward_point(
    backend: str, how: str, point: int, shape: str
) -> None:
    """Cancelled at checkpoint ``point``: the completed steps are compensated to
    their end, then the scope sees the cancellation (the code after ``run``
    never runs)."""
    probe = Probe()
    after_run: list[object] = []

    async def main() -> bool:
        with anyio.move_on_after(math.inf) as scope:

            def fire(index: int) -> None:
                if index != point:
                    return
                if how == "move_on_after":
                    scope.deadline = anyio.current_time()  # the timeout expires now
                else:
                    scope.cancel()

            probe.fire = fire
            after_run.append(await three_steps(probe, shape=shape).run("x"))
        return scope.cancelled_caught

    assert anyio.run(main, backend=backend) is True
    assert after_run == []
    _check_unwound(probe, point)


@pytest.mark.parametrize("point", range(FORWARD_POINTS))
def test_asyncio_native_task_cancel_at_every_forward_point(
    point: int, shape: str
) -> None:
    """``Task.cancel()`` from asyncio itself: unwound, then ``CancelledError``."""
    probe = Probe()

    async def main() -> None:
        task: asyncio.Task[Result[str, str]] | None = None

        def fire(index: int) -> None:
            if index == point:
                assert task is not None
                task.cancel()

        probe.fire = fire
        task = asyncio.ensure_future(three_steps(probe, shape=shape).run("x"))
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    anyio.run(main, backend="asyncio")
    _check_unwound(probe, point)


@pytest.mark.parametrize("point", range(FORWARD_POINTS))
@pytest.mark.parametrize("how", ["deadline", "cancel"])
def test_trio_native_cancel_scope_at_every_forward_point(
    how: str, point: int, shape: str
) -> None:
    """trio's own ``CancelScope`` (cancelled or past its deadline)."""
    probe = Probe()
    after_run: list[object] = []

    async def main() -> bool:
        with trio.CancelScope() as scope:

            def fire(index: int) -> None:
                if index != point:
                    return
                if how == "deadline":
                    scope.deadline = trio.current_time()
                else:
                    scope.cancel()

            probe.fire = fire
            after_run.append(await three_steps(probe, shape=shape).run("x"))
        return scope.cancelled_caught

    assert trio.run(main) is True
    assert after_run == []
    _check_unwound(probe, point)


def test_cancelled_run_reports_the_interrupted_step(backend: str, shape: str) -> None:
    """``run_with_report`` cannot return when cancelled, but the unwinding
    still happened; the exception carries a note naming the step."""
    probe = Probe()
    seen: list[BaseException] = []

    async def main() -> None:
        with anyio.CancelScope() as scope:

            def fire(index: int) -> None:
                if index == 2 * AWAITS_PER_CALL:  # first await of s3
                    scope.cancel()

            probe.fire = fire
            try:
                await three_steps(probe, shape=shape).run("x")
            except anyio.get_cancelled_exc_class() as exc:
                seen.append(exc)
                raise

    anyio.run(main, backend=backend)
    assert len(seen) == 1
    notes = getattr(seen[0], "__notes__", [])
    assert any("'s3'" in note and "2 completed step(s)" in note for note in notes)
    assert probe.undone == expected_undone(3)


# -- a second cancellation while unwinding ---------------------------------------

FIRST_CUT = 2 * AWAITS_PER_CALL + 1  # inside s3: s1 and s2 must be unwound
UNWIND_START = FIRST_CUT + 1  # the unwinding's checkpoints are numbered from here
UNWIND_POINTS = 2 * AWAITS_PER_CALL  # the two compensations' checkpoints


@pytest.mark.parametrize("second", range(UNWIND_POINTS))
@pytest.mark.parametrize("which", ["same scope", "outer scope"])
def test_anyio_second_cancellation_does_not_abort_unwinding(
    backend: str, which: str, second: int, shape: str
) -> None:
    """Re-cancel (the same scope, or an enclosing one) at each checkpoint of
    the unwinding: every compensation still finishes."""
    probe = Probe()
    reached_after: list[str] = []

    async def main() -> tuple[bool, bool]:
        with anyio.CancelScope() as outer:
            with anyio.CancelScope() as inner:

                def fire(index: int) -> None:
                    if index == FIRST_CUT:
                        inner.cancel()
                    elif index == UNWIND_START + second:
                        (inner if which == "same scope" else outer).cancel()

                probe.fire = fire
                await three_steps(probe, shape=shape).run("x")
                reached_after.append("inner")
            reached_after.append("outer")
        return inner.cancelled_caught, outer.cancelled_caught

    inner_caught, outer_caught = anyio.run(main, backend=backend)
    assert probe.undone == expected_undone(3)
    assert probe.in_undo == [2, 1]
    if which == "same scope":
        assert (inner_caught, outer_caught) == (True, False)
        assert reached_after == ["outer"]
    else:
        # the outer cancellation also stops the code after the inner scope
        assert outer_caught
        assert reached_after == []


@pytest.mark.parametrize("second", range(UNWIND_POINTS))
def test_asyncio_native_double_cancel_does_not_abort_unwinding(
    second: int, shape: str
) -> None:
    """``task.cancel()`` twice (once in s3, once per unwinding checkpoint)."""
    probe = Probe()

    async def main() -> None:
        task: asyncio.Task[Result[str, str]] | None = None

        def fire(index: int) -> None:
            assert task is not None
            if index in (FIRST_CUT, UNWIND_START + second):
                task.cancel()

        probe.fire = fire
        task = asyncio.ensure_future(three_steps(probe, shape=shape).run("x"))
        with pytest.raises(asyncio.CancelledError):
            await task

    anyio.run(main, backend="asyncio")
    assert probe.undone == expected_undone(3)
    assert probe.in_undo == [2, 1]


def test_asyncio_many_cancels_while_unwinding() -> None:
    """Cancel at every single unwinding checkpoint: still unwound to the end."""
    probe = Probe()

    async def main() -> None:
        task: asyncio.Task[Result[str, str]] | None = None

        def fire(index: int) -> None:
            assert task is not None
            if index >= FIRST_CUT:
                task.cancel()

        probe.fire = fire
        task = asyncio.ensure_future(three_steps(probe).run("x"))
        with pytest.raises(asyncio.CancelledError):
            await task

    anyio.run(main, backend="asyncio")
    assert probe.undone == expected_undone(3)


# -- a cancellation while unwinding a Failure ------------------------------------


@pytest.mark.parametrize("point", range(UNWIND_POINTS))
def test_cancel_while_unwinding_a_failure_anyio(backend: str, point: int) -> None:
    """s3 returns Failure; a cancellation arrives during the unwinding. The
    unwinding finishes; the caller's scope then sees the cancellation."""
    probe = Probe()
    results: list[object] = []
    failure = Failure("s3 refused")

    async def main() -> bool:
        with anyio.CancelScope() as scope:

            def fire(index: int) -> None:
                if index == FORWARD_POINTS + point:
                    scope.cancel()

            probe.fire = fire
            try:
                results.append(await three_steps(probe, last_fails=failure).run("x"))
            finally:
                await anyio.sleep(0)  # the caller's next checkpoint
            results.append("not reached")
        return scope.cancelled_caught

    assert anyio.run(main, backend=backend) is True
    assert probe.undone == expected_undone(3)
    # the run either handed back its Failure (cancellation is level-triggered
    # and seen at the caller's next checkpoint) or raised the cancellation
    assert results in ([], [failure])


@pytest.mark.parametrize("point", range(UNWIND_POINTS))
def test_cancel_while_unwinding_a_failure_asyncio_native(point: int) -> None:
    """A native ``Task.cancel()`` absorbed during the unwinding is re-raised."""
    probe = Probe()
    failure = Failure("s3 refused")

    async def main() -> None:
        task: asyncio.Task[Result[str, str]] | None = None

        def fire(index: int) -> None:
            assert task is not None
            if index == FORWARD_POINTS + point:
                task.cancel()

        probe.fire = fire
        task = asyncio.ensure_future(three_steps(probe, last_fails=failure).run("x"))
        with pytest.raises(asyncio.CancelledError):
            await task

    anyio.run(main, backend="asyncio")
    assert probe.undone == expected_undone(3)


# -- compensation_timeout ------------------------------------------------------


async def _ok(n: int) -> Result[int, str]:
    await anyio.sleep(0)
    return Success(n + 1)


async def _refuse(n: int) -> Result[int, str]:
    await anyio.sleep(0)
    return Failure("refused")


async def _hang(n: int) -> Result[None, str]:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


@dataclass
class Hung:
    """``a -> b -> c -> d``: ``d`` fails (or what ``last`` does), and ``b``'s
    compensation hangs forever (or does what ``undo_b`` does)."""

    undone: list[str] = field(default_factory=list)

    def undo(self, name: str) -> Callable[[int], Awaitable[Result[None, str]]]:
        """A compensation that awaits, then records ``name``."""

        async def comp(n: int) -> Result[None, str]:
            await anyio.sleep(0)
            self.undone.append(name)
            return Success(None)

        return comp

    def saga(
        self,
        last: Callable[[int], Coroutine[Any, Any, Result[int, str]]] = _refuse,
        undo_b: Callable[[int], Awaitable[Result[None, str]]] = _hang,
    ) -> AsyncSaga[int, int, str]:
        """The saga; ``last`` is ``d``'s action, ``undo_b`` is ``b``'s compensation."""
        return (
            step("a", _ok, compensate=self.undo("a"))
            .then(step("b", _ok, compensate=undo_b))
            .then(step("c", _ok, compensate=self.undo("c")))
            .then(step("d", last))
        )


@pytest.mark.parametrize(
    ("policy", "expected_undone", "a_outcome"),
    [
        ("stop", ["c"], StepOutcome.LEFT_UNCOMPENSATED),
        ("continue", ["c", "a"], StepOutcome.COMPENSATED),
    ],
)
def test_hung_compensation_times_out_and_counts_as_failed(
    backend: str,
    caplog: pytest.LogCaptureFixture,
    policy: Any,
    expected_undone: list[str],
    a_outcome: StepOutcome,
) -> None:
    """The hung compensation is cut at the timeout, recorded as failed with a
    ``TimeoutError``, logged at ERROR, and the policy decides what follows."""
    hung = Hung()

    async def main() -> Any:
        return await hung.saga().run_with_report(
            1, on_compensation_failure=policy, compensation_timeout=0.05
        )

    with caplog.at_level(logging.ERROR, logger="typed_saga"):
        report = anyio.run(main, backend=backend)
    assert report.result == Failure("refused")
    assert hung.undone == expected_undone
    outcomes = {record.name: record.outcome for record in report.steps}
    assert outcomes == {
        "a": a_outcome,
        "b": StepOutcome.COMPENSATION_FAILED,
        "c": StepOutcome.COMPENSATED,
        "d": StepOutcome.FAILED,
    }
    error = report.steps[1].error
    assert isinstance(error, TimeoutError)
    assert "'b'" in str(error)
    assert "compensation_timeout" in str(error)
    errors = [
        r
        for r in caplog.records
        if r.name == "typed_saga" and r.levelno == logging.ERROR
    ]
    assert len(errors) == 1
    assert "'b'" in errors[0].getMessage()
    assert "TimeoutError" in errors[0].getMessage()


def test_hung_compensation_times_out_during_cancellation(backend: str) -> None:
    """A cancelled run whose unwinding hangs still ends: the timeout applies
    inside the shielded scope, then the cancellation reaches the caller."""
    hung = Hung()
    scopes: list[anyio.CancelScope] = []

    async def expire(n: int) -> Result[int, str]:
        scopes[0].deadline = anyio.current_time()  # the caller's timeout, now
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    saga = hung.saga(last=expire)

    async def main() -> bool:
        with anyio.move_on_after(math.inf) as scope:
            scopes.append(scope)
            await saga.run(
                1, on_compensation_failure="continue", compensation_timeout=0.05
            )
        return scope.cancelled_caught

    assert anyio.run(main, backend=backend) is True
    assert hung.undone == ["c", "a"]


@pytest.mark.parametrize("late_by", [0.0, 1.0])
def test_a_compensation_that_blocks_until_its_timeout_finished_late(
    late_by: float,
) -> None:
    """trio's mock clock: ``b``'s compensation moves the clock to its
    deadline (or past it) without awaiting, as one that blocks would. It could
    not be interrupted; it finished too late, so it counts as failed."""
    clock = trio.testing.MockClock()
    hung = Hung()

    async def block(n: int) -> Result[None, str]:
        clock.jump(5 + late_by)
        hung.undone.append("b")
        return Success(None)

    async def main() -> Any:
        return await hung.saga(undo_b=block).run_with_report(
            1, on_compensation_failure="continue", compensation_timeout=5
        )

    report = anyio.run(main, backend="trio", backend_options={"clock": clock})
    assert hung.undone == ["c", "b", "a"]
    record = report.steps[1]
    assert record.outcome is StepOutcome.COMPENSATION_FAILED
    assert isinstance(record.error, TimeoutError)
    assert str(record.error) == (
        "compensation of step 'b' finished after 5.0 s (compensation_timeout): it "
        "could not be interrupted (it blocked without awaiting, or awaited a thread "
        "that cannot be abandoned), so it counts as failed"
    )


@pytest.mark.parametrize("bad", [0, -1, 0.0, math.nan, "1", True, [1]])
def test_invalid_compensation_timeout_is_a_value_error(backend: str, bad: Any) -> None:
    """Rejected before any step runs, and the message says what is accepted."""
    ran: list[int] = []

    async def act(n: int) -> Result[int, str]:
        ran.append(n)
        return Success(n)

    async def main() -> None:
        with pytest.raises(ValueError, match="positive number of seconds or None"):
            await step("a", act).run(1, compensation_timeout=bad)
        with pytest.raises(ValueError, match="positive number of seconds or None"):
            await step("a", act).run_with_report(1, compensation_timeout=bad)

    anyio.run(main, backend=backend)
    assert ran == []


def test_compensation_timeout_does_not_affect_fast_compensations(backend: str) -> None:
    """A compensation that awaits but finishes in time is simply compensated."""
    hung = Hung()

    async def quick(n: int) -> Result[None, str]:
        await anyio.sleep(0.001)
        hung.undone.append("b")
        return Success(None)

    saga = hung.saga(undo_b=quick)

    async def main() -> Any:
        return await saga.run_with_report(1, compensation_timeout=5)

    report = anyio.run(main, backend=backend)
    assert hung.undone == ["c", "b", "a"]
    assert [r.outcome for r in report.steps[:3]] == [StepOutcome.COMPENSATED] * 3
