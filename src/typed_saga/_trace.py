"""Per-run bookkeeping shared by the sync and async runners: the
:class:`Observer` that emits events, the :class:`Trace` a run leaves behind,
and turning a trace into a :class:`~typed_saga.SagaReport` or an exception note.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from time import perf_counter
from typing import Final, final

from returns.result import Failure, Result

from typed_saga._events import (
    CompensationFailed,
    CompensationSkipped,
    CompensationStarted,
    CompensationSucceeded,
    Event,
    Listener,
    SagaFailed,
    SagaStarted,
    SagaSucceeded,
    StepFailed,
    StepStarted,
    StepSucceeded,
    describe_error,
    log_event,
    logger,
)
from typed_saga._node import Group, Node
from typed_saga._report import SagaReport, StepOutcome, StepRecord


@final
class Observer:
    """Dispatches one run's events to its listeners (the logging listener first).

    ``verbose`` is false when nobody wants the success-path events (no user
    listener and DEBUG logging off): the runners then skip building them, and
    only what the logging listener reports (failed compensations, steps left
    un-compensated) is emitted.

    :meth:`quiet` makes a stand-in for a sync definition that nobody listens
    to: made once per definition, it holds no per-run state (so one is shared
    by every thread running that definition) until :meth:`awake` turns it into
    a real observer, when a run fails.
    """

    __slots__ = ("_run_id", "is_quiet", "listeners", "saga", "started", "verbose")

    def __init__(
        self,
        saga: str | None,
        listeners: Sequence[Listener],
    ) -> None:
        self.saga = saga
        self.listeners: tuple[Listener, ...] = (log_event, *listeners)
        self.verbose = bool(listeners) or logger.isEnabledFor(logging.DEBUG)
        self.is_quiet = False
        self._run_id: str | None = None
        self.started = perf_counter()
        if self.verbose:
            self.emit(SagaStarted(run_id=self.run_id, saga=saga))

    @classmethod
    def quiet(cls, saga: str | None) -> Observer:
        """The shared, stateless stand-in for runs nobody listens to."""
        stand_in = cls(saga, ())
        stand_in.verbose = False
        stand_in.is_quiet = True
        return stand_in

    def awake(self, started: float) -> Observer:
        """This observer, or (for a quiet stand-in) a real one for this run."""
        if not self.is_quiet:
            return self
        real = Observer.__new__(Observer)  # a quiet copy with per-run state
        real.saga, real.listeners, real.verbose = self.saga, self.listeners, False
        real.is_quiet, real._run_id, real.started = False, None, started
        return real

    @property
    def run_id(self) -> str:
        """A fresh id per run (128 random bits, as in a UUID4), made only when
        an event needs it."""
        if self._run_id is None:
            self._run_id = os.urandom(16).hex()
        return self._run_id

    def emit(self, event: Event) -> None:
        """Give ``event`` to every listener; a listener that raises is logged."""
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("saga listener %r raised; ignored", listener)

    def succeeded(self) -> None:
        if self.verbose:
            self.emit(
                SagaSucceeded(
                    run_id=self.run_id,
                    saga=self.saga,
                    duration=perf_counter() - self.started,
                )
            )

    def step_started(self, node: Node, trace: Trace) -> None:
        """Called only when ``verbose``."""
        trace.step_started_at = perf_counter()
        if not node.hidden:
            self.emit(StepStarted(run_id=self.run_id, saga=self.saga, step=node.name))

    def step_succeeded(self, node: Node, trace: Trace) -> None:
        """Called only when ``verbose``."""
        if not node.hidden:
            duration = perf_counter() - trace.step_started_at
            self.emit(
                StepSucceeded(
                    run_id=self.run_id,
                    saga=self.saga,
                    step=node.name,
                    duration=duration,
                )
            )

    def step_failed(self, name: str, error: object, trace: Trace) -> None:
        if not self.verbose:
            return
        self.emit(
            StepFailed(
                run_id=self.run_id,
                saga=self.saga,
                step=name,
                duration=perf_counter() - trace.step_started_at,
                error=error,
            )
        )

    def saga_failed(self, name: str, error: object, trace: Trace) -> None:
        if not (self.verbose or trace.left):  # the logging listener warns of left steps
            return
        self.emit(
            SagaFailed(
                run_id=self.run_id,
                saga=self.saga,
                duration=perf_counter() - self.started,
                step=name,
                error=error,
                left_uncompensated=tuple(trace.left),
            )
        )

    def compensation_started(self, name: str) -> float:
        if self.verbose:
            self.emit(
                CompensationStarted(run_id=self.run_id, saga=self.saga, step=name)
            )
        return perf_counter()

    def compensation_succeeded(self, name: str, started: float) -> None:
        if self.verbose:
            self.emit(
                CompensationSucceeded(
                    run_id=self.run_id,
                    saga=self.saga,
                    step=name,
                    duration=perf_counter() - started,
                )
            )

    def compensation_failed(self, name: str, error: object, started: float) -> None:
        self.emit(
            CompensationFailed(
                run_id=self.run_id,
                saga=self.saga,
                step=name,
                duration=perf_counter() - started,
                error=error,
            )
        )

    def compensation_skipped(self, name: str, *, by_policy: bool) -> None:
        if self.verbose:
            self.emit(
                CompensationSkipped(
                    run_id=self.run_id,
                    saga=self.saga,
                    step=name,
                    reason="stopped by policy" if by_policy else "no compensation",
                )
            )


@final
class Trace:
    """What one run (or one parallel branch) did, for reports and notes.

    ``outputs`` holds each completed node's output, in order: what its
    compensation will be given. ``completed`` is set when the run fails: the node
    at that index is the failing one. ``outcomes`` holds what the unwinding did
    to completed nodes (the sync runner stores only failed and left ones: a
    compensable node without an entry was compensated); ``failures`` the
    (step, error) of each failed compensation; ``left`` the steps the
    ``"stop"`` policy never reached; ``branches`` the traces of each
    ``parallel`` group's branches, by index.
    """

    __slots__ = (
        "branches",
        "completed",
        "error",
        "failures",
        "left",
        "outcomes",
        "outputs",
        "step_started_at",
    )

    def __init__(self) -> None:
        self.outputs: list[object] = []
        self.step_started_at = 0.0
        self.completed = -1
        self.error: object = None
        self.outcomes: dict[int, tuple[StepOutcome, object]] = {}
        self.failures: list[tuple[str, object]] = []
        self.left: list[str] = []
        self.branches: dict[int, list[Trace]] = {}


def failure_value(result: object) -> object:
    """The error inside a ``Failure`` (what reports and events show)."""
    return result.failure() if isinstance(result, Failure) else result


def not_a_result(name: str, returned: object, *, compensation: bool) -> TypeError:
    """The error for an action (or compensation) that returned a non-``Result``.

    Names the type only: the value itself may hold secrets."""
    role = "the compensation of step" if compensation else "step"
    if returned is None:
        what = "None (is a `return` missing?)"
    else:
        what = f"a {type(returned).__module__}.{type(returned).__qualname__}"
    return TypeError(
        f"{role} {name!r} returned {what}, not a returns Result; "
        "return Success(value) or Failure(error)"
    )


def awaitable_in_sync_run(name: str, *, compensation: bool) -> TypeError:
    """The error for an awaitable met by the synchronous runner."""
    role = "the compensation of step" if compensation else "step"
    return TypeError(
        f"{role} {name!r} returned an awaitable, but this is a synchronous Saga. "
        "Declare the step async so that step() builds an AsyncSaga: define the "
        "function with `async def`, or annotate its return type as "
        "`FutureResult[...]` (a lambda hides both, a functools.partial the "
        "annotation), then "
        "`await saga.run(value)`."
    )


def add_note(exc: BaseException, node: Node, trace: Trace, policy: str) -> None:
    """Name the failing step and every failed compensation on ``exc``."""
    kind = "parallel group" if isinstance(node, Group) else "step"
    exc.add_note(
        f"typed-saga: {kind} {node.name!r} raised; the {trace.completed} completed "
        f"step(s) before it were unwound (on_compensation_failure={policy!r})"
    )
    for name, error in trace.failures:
        exc.add_note(
            f"typed-saga: compensation of step {name!r} failed: {describe_error(error)}"
        )
    if trace.left:
        exc.add_note(
            "typed-saga: left un-compensated: " + ", ".join(repr(n) for n in trace.left)
        )


def build_report(
    nodes: tuple[Node, ...],
    result: Result[object, object],
    trace: Trace,
    saga: str | None,
) -> SagaReport[object, object]:
    """Turn a finished run's trace into its report."""
    return SagaReport(result, records(nodes, trace), saga)


def records(nodes: tuple[Node, ...], trace: Trace | None) -> tuple[StepRecord, ...]:
    """One record per visible node (``map`` stages are not steps)."""
    out: list[StepRecord] = []
    for index, node in enumerate(nodes):
        if node.hidden:
            continue
        if trace is None or index > trace.completed >= 0:
            outcome, error = StepOutcome.NOT_RUN, None
        elif index == trace.completed:
            outcome, error = StepOutcome.FAILED, trace.error
        elif index in trace.outcomes:
            outcome, error = trace.outcomes[index]
        elif trace.completed >= 0 and _compensable(node):
            outcome, error = COMPENSATED  # the sync runner stores only the exceptions
        else:
            outcome, error = StepOutcome.SUCCEEDED, None
        branches: tuple[tuple[StepRecord, ...], ...] = ()
        if isinstance(node, Group):
            traces: Sequence[Trace | None] = (
                trace.branches.get(index, ()) if trace is not None else ()
            ) or [None] * len(node.branches)
            branches = tuple(
                records(branch, sub)
                for branch, sub in zip(
                    node.branches, traces, strict=True
                )  # pragma: no mutate (equal lengths by construction)
            )
        out.append(StepRecord(node.name, outcome, error, branches))
    return tuple(out)


def _compensable(node: Node) -> bool:
    return isinstance(node, Group) or node.compensate is not None


COMPENSATED: Final = (StepOutcome.COMPENSATED, None)
LEFT_UNCOMPENSATED: Final = (StepOutcome.LEFT_UNCOMPENSATED, None)
