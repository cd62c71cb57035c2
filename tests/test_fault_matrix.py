"""The runner under every fault we can inject, checked against the rules.

For sagas of 1 to 4 steps: every failing step x {returned Failure, raised
exception} x every assignment of {ok, Failure, Failure(None), raise, no
compensation} to the compensations that are due x both policies x {sync,
asyncio, trio}. Each run
is checked against the rules: the right compensations run, once each, in
reverse order, each with its own step's output; under "stop" the ones after a
failed compensation do not run and are reported left un-compensated; the
Failure returned is the very object, the exception raised the very object
with notes naming the step; the report and the events say the same.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import pytest
from returns.result import Failure, Result, Success

from typed_saga import (
    AsyncSaga,
    CompensationFailed,
    CompensationSkipped,
    CompensationStarted,
    CompensationSucceeded,
    Event,
    Policy,
    Saga,
    SagaFailed,
    SagaReport,
    StepFailed,
    StepOutcome,
    StepStarted,
    StepSucceeded,
    parallel,
    step,
)

Fault = Literal["failure", "exception"]
Comp = Literal["ok", "failure", "failure-none", "raise", "none"]
Mode = Literal["sync", "asyncio", "trio"]
COMPS: tuple[Comp, ...] = ("ok", "failure", "failure-none", "raise", "none")
"""What a due compensation does: succeed, return ``Failure(error)``, return
``Failure(None)`` (a failure all the same), raise, or not exist."""
SIZES = (1, 2, 3, 4)


class ActionError(Exception):
    """What a failing action raises."""


class CompensationError(Exception):
    """What a failing compensation raises."""


@dataclass
class Scenario:
    """One run: ``size`` steps, step ``k`` fails with ``fault``; the steps
    before it have the compensations ``comps`` (the failing one and the ones
    after it get a compensation that must never be called)."""

    size: int
    k: int
    fault: Fault
    comps: tuple[Comp, ...]
    policy: Policy
    calls: list[tuple[str, int, object]] = field(default_factory=list)
    start: object = field(default_factory=object)
    outputs: list[object] = field(default_factory=list)
    failure: Failure[object] = field(init=False)
    exc: ActionError = field(init=False)
    comp_errors: dict[int, object] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.outputs = [object() for _ in range(self.size)]
        self.failure = Failure(("action failed", self.k))
        self.exc = ActionError(f"step {self.k} raised")

    def __str__(self) -> str:
        return (
            f"{self.size} steps, {self.fault} at s{self.k}, compensations "
            f"{self.comps}, policy {self.policy!r}"
        )

    # -- building ---------------------------------------------------------------------

    def action(self, j: int) -> Callable[[object], Result[object, object]]:
        def act(value: object) -> Result[object, object]:
            self.calls.append(("do", j, value))
            if j == self.k:
                if self.fault == "exception":
                    raise self.exc
                return self.failure
            return Success(self.outputs[j])

        return act

    def compensation(self, j: int) -> Callable[[object], Result[object, object]] | None:
        kind: Comp = self.comps[j] if j < self.k else "ok"
        if kind == "none":
            return None

        def compensate(output: object) -> Result[object, object]:
            self.calls.append(("undo", j, output))
            if kind in {"failure", "failure-none"}:
                error = ("compensation failed", j) if kind == "failure" else None
                self.comp_errors[j] = error
                return Failure(error)
            if kind == "raise":
                exc = CompensationError(f"undo {j} raised")
                self.comp_errors[j] = exc
                raise exc
            return Success(None)

        return compensate

    def saga(self, mode: Mode) -> Saga[Any, Any, Any] | AsyncSaga[Any, Any, Any]:
        whole: Any = None
        for j in range(self.size):
            action: Callable[[object], Any] = self.action(j)
            compensate: Callable[[object], Any] | None = self.compensation(j)
            if mode != "sync":
                action = _async(action)
                if compensate is not None and j % 2 == 0:  # odd ones stay sync
                    compensate = _async(compensate)
            one = step(f"s{j}", action, compensate=compensate)
            whole = one if whole is None else whole.then(one)
        assert isinstance(whole, Saga | AsyncSaga)
        return whole

    # -- what the rules say -----------------------------------------------------------

    def expected(
        self,
    ) -> tuple[list[int], dict[int, StepOutcome], list[int], list[int]]:
        """(compensations called in order, outcome per step, failed, left)."""
        called: list[int] = []
        outcomes: dict[int, StepOutcome] = {}
        failed: list[int] = []
        left: list[int] = []
        stopped = False
        for j in reversed(range(self.k)):
            kind = self.comps[j]
            if kind == "none":
                outcomes[j] = StepOutcome.SUCCEEDED
            elif stopped:
                outcomes[j] = StepOutcome.LEFT_UNCOMPENSATED
                left.append(j)
            else:
                called.append(j)
                if kind == "ok":
                    outcomes[j] = StepOutcome.COMPENSATED
                else:
                    outcomes[j] = StepOutcome.COMPENSATION_FAILED
                    failed.append(j)
                    stopped = self.policy == "stop"
        outcomes[self.k] = StepOutcome.FAILED
        for j in range(self.k + 1, self.size):
            outcomes[j] = StepOutcome.NOT_RUN
        return called, outcomes, failed, left

    # -- checking ---------------------------------------------------------------------

    def check(self, result: object, raised: BaseException | None, report: Any) -> None:
        called, outcomes, failed, left = self.expected()
        # actions: 0..k, each fed the previous step's very output
        inputs = [self.start, *self.outputs]
        assert [(kind, j) for kind, j, _ in self.calls if kind == "do"] == [
            ("do", j) for j in range(self.k + 1)
        ]
        for kind, j, value in self.calls:
            if kind == "do":
                assert value is inputs[j]
        # compensations: the right ones, once each, in reverse, with their own output
        undone = [(j, value) for kind, j, value in self.calls if kind == "undo"]
        assert [j for j, _ in undone] == called
        for j, value in undone:
            assert value is self.outputs[j]
        # the result: the very Failure, or the very exception with its notes
        if self.fault == "failure":
            assert raised is None
            assert result is self.failure
        else:
            assert raised is self.exc
            assert raised.__notes__ == self.notes(failed, left)
        if report is not None:
            assert isinstance(report, SagaReport)
            assert report.result is self.failure
            assert [r.name for r in report.steps] == [f"s{j}" for j in range(self.size)]
            assert [r.outcome for r in report.steps] == [
                outcomes[j] for j in range(self.size)
            ]
            for j, record in enumerate(report.steps):
                if j == self.k:
                    assert record.error == ("action failed", self.k)
                elif j in failed:
                    assert record.error is self.comp_errors[j]
                else:
                    assert record.error is None
        self.check_events(called, failed, left)

    def notes(self, failed: list[int], left: list[int]) -> list[str]:
        """The one typed-saga note: where, then each failed compensation, then
        what is left, one per line."""
        lines = [
            f"typed-saga: step 's{self.k}' raised; the {self.k} completed step(s) "
            f"before it were unwound (on_compensation_failure={self.policy!r})"
        ]
        for j in failed:
            error = self.comp_errors[j]
            described = (
                f"CompensationError: {error}"
                if isinstance(error, CompensationError)
                else repr(error)
            )
            lines.append(f"  compensation of step 's{j}' failed: {described}")
        if left:
            lines.append("  left un-compensated: " + ", ".join(f"'s{j}'" for j in left))
        return ["\n".join(lines)]

    def check_events(
        self, called: list[int], failed: list[int], left: list[int]
    ) -> None:
        events = self.events
        started = [e.step for e in events if isinstance(e, StepStarted)]
        assert started == [f"s{j}" for j in range(self.k + 1)]
        succeeded = [e.step for e in events if isinstance(e, StepSucceeded)]
        assert succeeded == [f"s{j}" for j in range(self.k)]
        step_failed = [e for e in events if isinstance(e, StepFailed)]
        assert [e.step for e in step_failed] == [f"s{self.k}"]
        error = self.exc if self.fault == "exception" else ("action failed", self.k)
        assert step_failed[0].error == error
        comp_started = [e.step for e in events if isinstance(e, CompensationStarted)]
        assert comp_started == [f"s{j}" for j in called]
        comp_ok = [e.step for e in events if isinstance(e, CompensationSucceeded)]
        assert comp_ok == [f"s{j}" for j in called if j not in failed]
        comp_failed = [e for e in events if isinstance(e, CompensationFailed)]
        assert [(e.step, e.error) for e in comp_failed] == [
            (f"s{j}", self.comp_errors[j]) for j in failed
        ]
        skipped = [
            (e.step, e.reason) for e in events if isinstance(e, CompensationSkipped)
        ]
        expected_skips = []
        for j in reversed(range(self.k)):
            if self.comps[j] == "none":
                expected_skips.append((f"s{j}", "no compensation"))
            elif j in left:
                expected_skips.append((f"s{j}", "stopped by policy"))
        assert skipped == expected_skips
        saga_failed = [e for e in events if isinstance(e, SagaFailed)]
        assert len(saga_failed) == 1
        assert saga_failed[0].step == f"s{self.k}"
        assert saga_failed[0].error == error
        assert saga_failed[0].left_uncompensated == tuple(f"s{j}" for j in left)
        assert isinstance(events[-1], SagaFailed)


def _async(fn: Callable[[object], Any]) -> Callable[[object], Any]:
    async def run(value: object) -> Any:
        await anyio.sleep(0)
        return fn(value)

    return run


def scenarios(size: int, fault: Fault, policy: Policy) -> Iterator[Scenario]:
    for k in range(size):
        for comps in itertools.product(COMPS, repeat=k):
            yield Scenario(size, k, fault, comps, policy)


def run_sync(scenario: Scenario) -> None:
    saga = scenario.saga("sync")
    assert isinstance(saga, Saga)
    options: dict[str, Any] = {
        "on_compensation_failure": scenario.policy,
        "listeners": (scenario.events.append,),
    }
    if scenario.fault == "failure":
        report = saga.run_with_report(scenario.start, **options)
        scenario.check(report.result, None, report)
        return
    with pytest.raises(ActionError) as caught:
        saga.run(scenario.start, **options)
    scenario.check(None, caught.value, None)


async def run_async(scenario: Scenario) -> None:
    saga = scenario.saga("asyncio")
    assert isinstance(saga, AsyncSaga)
    options: dict[str, Any] = {
        "on_compensation_failure": scenario.policy,
        "listeners": (scenario.events.append,),
    }
    if scenario.fault == "failure":
        report = await saga.run_with_report(scenario.start, **options)
        scenario.check(report.result, None, report)
        return
    try:
        await saga.run(scenario.start, **options)
    except ActionError as exc:
        scenario.check(None, exc, None)
    else:
        pytest.fail(f"{scenario}: the exception was swallowed")


@pytest.mark.parametrize("policy", ["stop", "continue"])
@pytest.mark.parametrize("fault", ["failure", "exception"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mode", ["sync", "asyncio", "trio"])
def test_fault_matrix(mode: Mode, size: int, fault: Fault, policy: Policy) -> None:
    cases = list(scenarios(size, fault, policy))
    assert len(cases) == sum(len(COMPS) ** k for k in range(size))
    if mode == "sync":
        for scenario in cases:
            try:
                run_sync(scenario)
            except AssertionError as exc:
                exc.add_note(f"scenario: {scenario}")
                raise
        return

    async def main() -> None:
        for scenario in cases:
            try:
                await run_async(scenario)
            except AssertionError as exc:
                exc.add_note(f"scenario: {scenario} on {mode}")
                raise

    anyio.run(main, backend=mode)


class _BrokenFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        raise RuntimeError("a log filter that raises")


@pytest.mark.parametrize("mode", ["sync", "asyncio", "trio"])
def test_fault_matrix_under_a_raising_log_filter(mode: Mode) -> None:
    """The same verdicts when logging itself is broken: it cannot change a
    run's outcome nor skip a compensation."""
    logger = logging.getLogger("typed_saga")
    broken = _BrokenFilter()
    logger.addFilter(broken)
    try:
        for policy in ("stop", "continue"):
            for fault in ("failure", "exception"):
                test_fault_matrix(mode, 3, fault, policy)
    finally:
        logger.removeFilter(broken)


def test_the_matrix_can_fail() -> None:
    """The checker itself rejects a run that broke a rule (here: a compensation
    called twice), so a green matrix means something."""
    scenario = Scenario(2, 1, "failure", ("ok",), "stop")
    saga = scenario.saga("sync")
    assert isinstance(saga, Saga)
    report = saga.run_with_report(scenario.start, listeners=(scenario.events.append,))
    scenario.calls.append(("undo", 0, scenario.outputs[0]))  # a second, bogus call
    with pytest.raises(AssertionError):
        scenario.check(report.result, None, report)


# -- runner details the matrix does not reach (found by mutation testing) ---------------
#
# Each test below pins a behaviour a surviving mutant of _fold.py, _afold.py or
# _trace.py had changed without any test noticing; see scripts/mutation.sh.


@dataclass(frozen=True)
class Thing:
    """Not a Result: what a buggy action or compensation returns."""


NOT_A_RESULT = "not a returns Result; return Success(value) or Failure(error)"
AWAITABLE_IN_SYNC = (
    "returned an awaitable, but this is a synchronous Saga. Declare the step async so "
    "that step() builds an AsyncSaga: define the function with `async def`, or "
    "annotate its return type as `FutureResult[...]` (a lambda hides both, a "
    "functools.partial the annotation: build that step with `async_step(...)`), "
    "then `await saga.run(value)`."
)


def test_a_non_result_after_a_failed_compensation_still_obeys_stop(runner: Any) -> None:
    undone: list[str] = []

    def undo(name: str, result: Result[None, str]) -> Callable[[object], Any]:
        def compensate(_: object) -> Result[None, str]:
            undone.append(name)
            return result

        return compensate

    saga = runner.chain(
        runner.step("s0", Success, undo("s0", Success(None))),
        runner.step("s1", Success, undo("s1", Failure("busy"))),
        runner.step("s2", lambda _: 42),
    )

    with pytest.raises(TypeError) as caught:
        runner.run(saga, 1, on_compensation_failure="stop")

    assert str(caught.value) == f"step 's2' returned a builtins.int, {NOT_A_RESULT}"
    assert undone == ["s1"]  # "stop": s0 is left un-compensated


@pytest.mark.parametrize(
    ("returned", "described"),
    [
        (42, "a builtins.int"),
        (Thing(), "a tests.test_fault_matrix.Thing"),
        (None, "None (is a `return` missing?)"),
    ],
)
def test_a_compensation_returning_a_non_result_fails_with_a_teaching_error(
    runner: Any, returned: object, described: str
) -> None:
    saga = runner.chain(
        runner.step("s0", Success, lambda _: returned),
        runner.step("s1", lambda _: Failure("boom")),
    )

    report = runner.run_with_report(saga, 1)

    record = report.steps[0]
    assert record.outcome is StepOutcome.COMPENSATION_FAILED
    assert isinstance(record.error, TypeError)
    assert str(record.error) == (
        f"the compensation of step 's0' returned {described}, {NOT_A_RESULT}"
    )


def test_a_sync_saga_meeting_awaitables_says_how_to_declare_them_async() -> None:
    async def later(value: object) -> Result[object, str]:
        return Success(value)

    def hides_a_coroutine(value: object) -> Result[object, str]:
        return later(value)  # type: ignore[return-value]  # the bug under test

    compensation_broken = step("s0", Success, compensate=hides_a_coroutine).then(
        step("s1", lambda _: Failure("boom"))
    )
    report = compensation_broken.run_with_report(1)
    assert (
        str(report.steps[0].error)
        == f"the compensation of step 's0' {AWAITABLE_IN_SYNC}"
    )

    action_broken: Saga[Any, Any, Any] = step("s0", Success).then(
        step("s1", hides_a_coroutine)
    )
    with pytest.raises(TypeError) as caught:
        action_broken.run(1)
    assert str(caught.value) == f"step 's1' {AWAITABLE_IN_SYNC}"


def test_a_parallel_branch_returning_a_non_result_unwinds_and_names_it(
    backend: str,
) -> None:
    undone: list[str] = []

    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    async def broken(_: object) -> Any:
        await anyio.sleep(0)
        return 42

    def undo(output: object) -> Result[None, str]:
        undone.append("b")
        return Success(None)

    saga = parallel(step("a", broken), step("b", ok, compensate=undo), name="fan")

    async def main() -> None:
        await saga.run(1)

    with pytest.raises(TypeError) as caught:
        anyio.run(main, backend=backend)

    assert str(caught.value) == f"step 'a' returned a builtins.int, {NOT_A_RESULT}"
    assert undone == ["b"]


def test_an_exception_in_a_parallel_group_is_noted_with_the_group(backend: str) -> None:
    crash = ActionError("no capacity")

    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    async def boom(_: object) -> Result[object, str]:
        raise crash

    saga = step("s0", ok).then(parallel(step("a", ok), step("b", boom), name="fan"))

    async def main() -> None:
        await saga.run(1)

    with pytest.raises(ActionError) as caught:
        anyio.run(main, backend=backend)

    assert caught.value is crash
    assert caught.value.__notes__[-1] == (
        "typed-saga: parallel group 'fan' raised; the 1 completed step(s) before it "
        "were unwound (on_compensation_failure='stop')\n"
        "  raised in step 'b' of branch 2 of parallel group 'fan'"
    )


def test_reports_carry_the_saga_name(runner: Any) -> None:
    saga = runner.step("s0", Success).named("provision")

    assert runner.run_with_report(saga, 1).name == "provision"


def test_map_stages_are_skipped_in_reports_not_where_reports_end(runner: Any) -> None:
    saga = runner.chain(
        runner.step("s0", Success).map(str), runner.step("s1", lambda _: Failure("x"))
    )

    report = runner.run_with_report(saga, 1)

    assert [(r.name, r.outcome) for r in report.steps] == [
        ("s0", StepOutcome.SUCCEEDED),
        ("s1", StepOutcome.FAILED),
    ]


def test_a_nested_group_that_never_ran_is_reported_not_run(backend: str) -> None:
    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    inner = parallel(step("x", ok), step("y", ok), name="inner")
    saga: AsyncSaga[Any, Any, Any] = step("s0", lambda _: Failure("no")).then(
        parallel(inner, step("z", ok), name="outer")
    )

    async def main() -> SagaReport[Any, Any]:
        return await saga.run_with_report(1)

    report = anyio.run(main, backend=backend)

    outer = report.steps[1]
    assert (outer.name, outer.outcome) == ("outer", StepOutcome.NOT_RUN)
    (inner_record,), (z_record,) = outer.branches
    assert (inner_record.name, inner_record.outcome) == ("inner", StepOutcome.NOT_RUN)
    assert [[(r.name, r.outcome) for r in b] for b in inner_record.branches] == [
        [("x", StepOutcome.NOT_RUN)],
        [("y", StepOutcome.NOT_RUN)],
    ]
    assert (z_record.name, z_record.outcome) == ("z", StepOutcome.NOT_RUN)


def _group_saga(
    undone: list[str], *, p_fails: bool, s2_fails: bool
) -> AsyncSaga[Any, Any, Any]:
    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    def undo(name: str, fails: bool = False) -> Callable[[object], Result[None, str]]:
        def compensate(_: object) -> Result[None, str]:
            undone.append(name)
            return Failure(f"{name} undo failed") if fails else Success(None)

        return compensate

    return (
        step("s0", ok, compensate=undo("s0"))
        .then(
            parallel(
                step("p", ok, compensate=undo("p", p_fails)),
                step("q", ok, compensate=undo("q")),
                name="G",
            )
        )
        .then(step("s2", ok, compensate=undo("s2", s2_fails)))
        .then(step("s3", lambda _: Failure("s3 failed")))
    )


def _outcomes(report: SagaReport[Any, Any]) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    for record in report.steps:
        out.append((record.name, str(record.outcome), record.error))
        for branch in record.branches:
            out.extend((r.name, str(r.outcome), r.error) for r in branch)
    return out


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_a_group_before_a_failed_compensation_follows_the_policy(
    backend: str, policy: Policy
) -> None:
    undone: list[str] = []
    events: list[Event] = []
    saga = _group_saga(undone, p_fails=False, s2_fails=True)

    async def main() -> SagaReport[Any, Any]:
        return await saga.run_with_report(
            1, on_compensation_failure=policy, listeners=(events.append,)
        )

    report = anyio.run(main, backend=backend)

    left = "left_uncompensated" if policy == "stop" else "compensated"
    assert _outcomes(report) == [
        ("s0", left, None),
        ("G", left, None),
        ("p", left, None),
        ("q", left, None),
        ("s2", "compensation_failed", "s2 undo failed"),
        ("s3", "failed", "s3 failed"),
    ]
    (saga_failed,) = [e for e in events if isinstance(e, SagaFailed)]
    skipped = [e.step for e in events if isinstance(e, CompensationSkipped)]
    if policy == "stop":
        assert undone == ["s2"]
        assert saga_failed.left_uncompensated == ("p", "q", "s0")
        assert skipped == ["p", "q", "s0"]
    else:
        assert undone[0] == "s2"
        assert sorted(undone[1:3]) == ["p", "q"]
        assert undone[3:] == ["s0"]
        assert saga_failed.left_uncompensated == ()
        assert skipped == []


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_a_group_whose_branch_compensation_fails_follows_the_policy(
    backend: str, policy: Policy
) -> None:
    undone: list[str] = []
    events: list[Event] = []
    saga = _group_saga(undone, p_fails=True, s2_fails=False)

    async def main() -> SagaReport[Any, Any]:
        return await saga.run_with_report(
            1, on_compensation_failure=policy, listeners=(events.append,)
        )

    report = anyio.run(main, backend=backend)

    failed = [(e.step, e.error) for e in events if isinstance(e, CompensationFailed)]
    assert failed == [("p", "p undo failed"), ("G", "p undo failed")]
    assert _outcomes(report) == [
        ("s0", "left_uncompensated" if policy == "stop" else "compensated", None),
        ("G", "compensation_failed", "p undo failed"),
        ("p", "compensation_failed", "p undo failed"),
        ("q", "compensated", None),
        ("s2", "compensated", None),
        ("s3", "failed", "s3 failed"),
    ]
    assert ("s0" in undone) is (policy == "continue")


def test_a_cancellation_during_a_groups_unwinding_waits_then_propagates() -> None:
    """asyncio: a ``Task.cancel()`` that lands while a failed group unwinds its
    branches does not cut the unwinding short, and is re-raised after it."""
    import asyncio

    async def main() -> None:
        started, release = asyncio.Event(), asyncio.Event()
        undone: list[str] = []

        async def ok(value: object) -> Result[object, str]:
            return Success(value)

        async def fail_late(_: object) -> Result[object, str]:
            for _ in range(3):
                await asyncio.sleep(0)
            return Failure("a failed")

        async def slow_undo(_: object) -> Result[None, str]:
            started.set()
            await release.wait()
            undone.append("b")
            return Success(None)

        saga = parallel(step("a", fail_late), step("b", ok, compensate=slow_undo))
        task = asyncio.ensure_future(saga.run(1))
        # wait for the unwinding to start, or for a broken run to end first
        # (then fail now rather than wait forever)
        waiting = asyncio.ensure_future(started.wait())
        await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiting.cancel()
            pytest.fail(f"the run ended before it unwound branch b: {task!r}")
        task.cancel()
        await asyncio.sleep(0)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert undone == ["b"]

    anyio.run(main, backend="asyncio")


# -- events: durations and names (a fake clock: no real timing) ---------------------------


class FakeClock:
    """``perf_counter`` replacement: 1000, 1001, 1002, ... one tick per call."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_event_durations_are_differences_of_the_clock(
    runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("typed_saga._trace.perf_counter", FakeClock())
    events: list[Event] = []
    failing = runner.chain(
        runner.step("s0", Success, lambda _: Success(None)),
        runner.step("s1", Success, lambda _: Failure("stuck")),
        runner.step("s2", lambda _: Failure("no")),
    ).named("provision")
    runner.run(
        failing, 1, on_compensation_failure="continue", listeners=(events.append,)
    )
    runner.run(
        runner.step("s0", Success).named("provision"), 1, listeners=(events.append,)
    )

    timed = [e for e in events if hasattr(e, "duration")]
    kinds = {type(e).__name__ for e in timed}
    assert kinds == {
        "StepSucceeded",
        "StepFailed",
        "CompensationSucceeded",
        "CompensationFailed",
        "SagaFailed",
        "SagaSucceeded",
    }
    for event in timed:
        assert isinstance(event.duration, float)
        assert 0 < event.duration < 50, event  # ticks of the fake clock, not seconds
        assert event.saga == "provision"


def test_a_listener_that_raises_is_logged_and_ignored(
    runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    with caplog.at_level("ERROR", logger="typed_saga"):
        result = runner.run(runner.step("s0", Success), 1, listeners=(broken,))

    assert result == Success(1)
    messages = {record.getMessage() for record in caplog.records}
    assert messages == {f"saga listener {broken!r} raised; ignored"}


class CustomAwaitable:
    """An awaitable that is neither a coroutine nor a ``FutureResult``."""

    def __await__(self) -> Iterator[None]:
        yield None


def test_a_sync_saga_meeting_any_awaitable_says_how_to_declare_it_async() -> None:
    def returns_an_awaitable(_: object) -> Result[object, str]:
        return CustomAwaitable()  # type: ignore[return-value]  # the bug under test

    saga = step("s0", returns_an_awaitable)

    with pytest.raises(TypeError) as caught:
        saga.run(1)

    assert str(caught.value) == f"step 's0' {AWAITABLE_IN_SYNC}"


def test_a_cancelled_branch_reports_its_step_failed_by_cancellation(
    backend: str,
) -> None:
    events: list[Event] = []

    async def fail_soon(_: object) -> Result[object, str]:
        await anyio.sleep(0)
        return Failure("a failed")

    async def wait_forever(_: object) -> Result[object, str]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    saga = parallel(step("a", fail_soon), step("b", wait_forever))

    async def main() -> Result[Any, Any]:
        return await saga.run(1, listeners=(events.append,))

    result = anyio.run(main, backend=backend)

    assert result == Failure("a failed")
    failed = {e.step: e.error for e in events if isinstance(e, StepFailed)}
    assert failed["a"] == "a failed"
    assert type(failed["b"]).__name__ in {"CancelledError", "Cancelled"}


class Fatal(BaseException):
    """Not an ``Exception``: like ``KeyboardInterrupt``, never dropped."""


@pytest.mark.parametrize("kind", ["failure", "fatal"])
def test_of_two_branch_failures_the_first_in_time_wins(backend: str, kind: str) -> None:
    """Both branches fail without a checkpoint (sync actions), so both fail
    although the first one cancels the group; the first to fail wins, unless
    a fatal exception comes second (tested elsewhere)."""
    order: list[str] = []
    returned: dict[str, Any] = {}

    def fail(name: str) -> Callable[[object], Result[object, str]]:
        def act(_: object) -> Result[object, str]:
            order.append(name)
            if kind == "fatal":
                returned[name] = Fatal(name)
                raise returned[name]
            failure: Result[object, str] = Failure(name)
            returned[name] = failure
            return failure

        return act

    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    saga = step("s0", ok).then(parallel(step("a", fail("a")), step("b", fail("b"))))

    async def main() -> Result[Any, Any]:
        return await saga.run(1)

    if kind == "fatal":
        with pytest.raises(Fatal) as caught:
            anyio.run(main, backend=backend)
        outcome: object = caught.value
    else:
        outcome = anyio.run(main, backend=backend)

    assert sorted(order) == ["a", "b"]
    assert outcome is returned[order[0]]


def test_compensations_under_a_timeout_get_their_own_outputs(backend: str) -> None:
    seen: list[object] = []
    outputs = [object(), object()]

    def act(j: int) -> Callable[[object], Any]:
        async def run(_: object) -> Result[object, str]:
            return Success(outputs[j])

        return run

    async def undo(output: object) -> Result[None, str]:
        seen.append(output)
        return Failure("refused") if output is outputs[1] else Success(None)

    saga = (
        step("s0", act(0), compensate=undo)
        .then(step("s1", act(1), compensate=undo))
        .then(step("s2", lambda _: Failure("no")))
    )

    async def main() -> SagaReport[Any, Any]:
        return await saga.run_with_report(
            1, on_compensation_failure="continue", compensation_timeout=30
        )

    report = anyio.run(main, backend=backend)

    assert seen == [outputs[1], outputs[0]]
    assert [(r.outcome, r.error) for r in report.steps] == [
        (StepOutcome.COMPENSATED, None),
        (StepOutcome.COMPENSATION_FAILED, "refused"),
        (StepOutcome.FAILED, "no"),
    ]


# -- runs nobody listens to still log who they are --------------------------------------


def _failing_quietly(runner: Any) -> Any:
    return runner.chain(
        runner.step("s0", Success, lambda _: Failure("s0 undo failed")),
        runner.step("s1", lambda _: Failure("no")),
    ).named("provision")


def test_unobserved_runs_log_their_saga_name_and_a_fresh_run_id_each(
    runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    saga = _failing_quietly(runner)

    with caplog.at_level("ERROR", logger="typed_saga"):
        runner.run(saga, 1)
        runner.run(saga, 2)

    records = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in records] == [
        "compensation of step 's0' failed: 's0 undo failed'"
    ] * 2
    assert [getattr(r, "saga_name", None) for r in records] == ["provision"] * 2
    run_ids = [getattr(r, "saga_run_id", None) for r in records]
    assert None not in run_ids
    assert run_ids[0] != run_ids[1]


def test_one_unobserved_run_logs_one_run_id_across_a_group(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    def refuse(name: str) -> Callable[[object], Result[None, str]]:
        return lambda _: Failure(f"{name} undo failed")

    saga = (
        step("s0", ok, compensate=refuse("s0"))
        .then(
            parallel(
                step("p", ok, compensate=refuse("p")),
                step("q", lambda _: Failure("q failed")),
            )
        )
        .named("provision")
    )

    async def main() -> None:
        await saga.run(1, on_compensation_failure="continue")

    with caplog.at_level("ERROR", logger="typed_saga"):
        anyio.run(main, backend=backend)

    records = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [getattr(r, "saga_step", None) for r in records] == ["p", "s0"]
    run_ids = {getattr(r, "saga_run_id", None) for r in records}
    assert len(run_ids) == 1
    assert None not in run_ids
