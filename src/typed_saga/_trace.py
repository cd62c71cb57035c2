"""Per-run bookkeeping shared by the sync and async runners: the
:class:`Observer` that emits events, the :class:`Trace` a run leaves behind
(which is also what :func:`~typed_saga.current_step` reads), and turning a
trace into a :class:`~typed_saga.SagaReport` or an exception note.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from time import perf_counter
from types import CodeType, FrameType, MappingProxyType
from typing import Final, TypeVar, final

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
from typed_saga._node import BodyNode, Group, Leaf, Node
from typed_saga._report import (
    RAISED,
    REPORT_ATTRIBUTE,
    SagaReport,
    StepOutcome,
    StepRecord,
)

CURRENT: Final[ContextVar[Trace | None]] = ContextVar("typed_saga_trace", default=None)
"""The trace of the async run (or parallel branch) whose task this is: what
:func:`running_trace` falls back on, in a thread the step handed work to."""

_F = TypeVar("_F")


@final
class Observer:
    """Dispatches a run's events to its listeners (the logging listener first).

    ``verbose`` is false when nobody wants the success-path events (no user
    listener and DEBUG logging off): the runners then skip building them, and
    only what the logging listener reports (failed compensations, steps left
    un-compensated) is emitted. An observer holds no per-run state (the run's
    id is on its trace), so a definition shares one quiet observer between
    all its runs, in any thread (see :meth:`quiet`).
    """

    __slots__ = ("listeners", "progress", "saga", "verbose")

    def __init__(
        self,
        saga: str | None,
        listeners: Sequence[Listener],
        trace: Trace | None = None,
    ) -> None:
        self.saga = saga
        debug = logger.isEnabledFor(logging.DEBUG)
        self.listeners: tuple[Listener, ...] = (log_event, *listeners)
        # the success-path events go to the logging listener only at DEBUG
        self.progress: tuple[Listener, ...] = (
            self.listeners if debug else tuple(listeners)
        )
        self.verbose = bool(listeners) or debug
        if self.verbose and trace is not None:
            trace.started = perf_counter()
            self.emit(SagaStarted(run_id=trace.id, saga=saga), self.progress)

    @classmethod
    def quiet(cls, saga: str | None) -> Observer:
        """The shared observer for runs nobody listens to."""
        stand_in = cls(saga, ())
        # Only what the runners build differs: its one listener, the logging
        # one, drops the success-path events (DEBUG is off when it is used),
        # and ``progress`` is read only when ``verbose``.
        stand_in.verbose = False  # pragma: no mutate
        stand_in.progress = ()  # pragma: no mutate
        return stand_in

    def emit(self, event: Event, to: tuple[Listener, ...] | None = None) -> None:
        """Give ``event`` to every listener (or those in ``to``). A listener
        that raises is logged and ignored; if logging itself raises, that is
        ignored too: observing never changes a run's outcome nor skips a
        compensation."""
        for listener in self.listeners if to is None else to:
            try:
                listener(event)
            except Exception:
                with contextlib.suppress(Exception):  # a broken logging setup
                    logger.exception("saga listener %r raised; ignored", listener)

    def succeeded(self, trace: Trace) -> None:
        """Called only when ``verbose``."""
        self.emit(
            SagaSucceeded(
                run_id=trace.id,
                saga=self.saga,
                duration=perf_counter() - trace.run.started,
            ),
            self.progress,
        )

    def step_started(self, node: Node, trace: Trace) -> None:
        """Called only when ``verbose``."""
        trace.step_started_at = perf_counter()
        if not node.hidden:
            label = trace.label(len(trace.outputs))
            self.emit(
                StepStarted(run_id=trace.id, saga=self.saga, step=label), self.progress
            )

    def step_succeeded(self, node: Node, trace: Trace) -> None:
        """Called only when ``verbose``."""
        if not node.hidden:
            self.emit(
                StepSucceeded(
                    run_id=trace.id,
                    saga=self.saga,
                    step=trace.label(len(trace.outputs) - 1),
                    duration=perf_counter() - trace.step_started_at,
                ),
                self.progress,
            )

    def step_failed(self, trace: Trace, index: int, error: object) -> None:
        if not self.verbose:
            return
        self.emit(
            StepFailed(
                run_id=trace.id,
                saga=self.saga,
                step=trace.label(index),
                duration=perf_counter() - trace.step_started_at,
                error=error,
            ),
            self.progress,
        )

    def saga_failed(self, trace: Trace) -> None:
        """The run's duration is 0.0 when nobody measured it (no listener)."""
        if not (self.verbose or trace.left):  # the logging listener warns of left steps
            return
        started = trace.run.started
        self.emit(
            SagaFailed(
                run_id=trace.id,
                saga=self.saga,
                duration=perf_counter() - started if started else 0.0,
                step=trace.label(trace.completed),
                error=trace.error,
                left_uncompensated=tuple(trace.left),
            )
        )

    def compensation_started(self, trace: Trace, index: int) -> float:
        """Called only when ``verbose``; returns when it started."""
        self.emit(
            CompensationStarted(
                run_id=trace.id, saga=self.saga, step=trace.label(index)
            )
        )
        return perf_counter()

    def compensation_succeeded(self, trace: Trace, index: int, started: float) -> None:
        """Called only when ``verbose``."""
        self.emit(
            CompensationSucceeded(
                run_id=trace.id,
                saga=self.saga,
                step=trace.label(index),
                duration=perf_counter() - started,
            ),
            self.progress,
        )

    def compensation_failed(
        self, trace: Trace, index: int, error: object, started: float
    ) -> None:
        """``started`` is 0.0 when nobody measured (the duration is then 0.0)."""
        self.emit(
            CompensationFailed(
                run_id=trace.id,
                saga=self.saga,
                step=trace.label(index),
                duration=perf_counter() - started if started else 0.0,
                error=error,
            )
        )

    def compensation_skipped(
        self, trace: Trace, index: int, *, by_policy: bool
    ) -> None:
        if self.verbose:
            self.emit(
                CompensationSkipped(
                    run_id=trace.id,
                    saga=self.saga,
                    step=trace.label(index),
                    reason="stopped by policy" if by_policy else "no compensation",
                ),
                self.progress,
            )


_NO_OUTCOMES: Final[Mapping[int, tuple[StepOutcome, object]]] = MappingProxyType({})
_NO_BRANCHES: Final[Mapping[int, list[Trace]]] = MappingProxyType({})


@final
class Trace:
    """What one run (or one parallel branch) did, for unwinding, reports,
    notes and :func:`~typed_saga.current_step`.

    ``nodes`` are the nodes in run order: a chain's whole tuple, or (when the
    definition has bodies) a list of the nodes reached so far. ``outputs``
    holds each completed node's output, in order: what its compensation will
    be given. ``completed`` is set when the run fails: ``nodes[completed]`` is
    the failing node. ``outcomes`` holds what the unwinding did to completed
    nodes (only failed and left ones, and groups: a compensable node without an
    entry was compensated); ``failures`` the (step, error) of each failed
    compensation; ``left`` the steps the ``"stop"`` policy never reached;
    ``also`` failures that lost the race to be the run's result (other
    ``parallel`` branches); ``branches`` the traces of each group's branches.
    ``undoing`` is the index of the compensation running, else -1.

    ``run`` is the run's first trace, which holds what all its branches
    share: the run's ``id`` (made when first asked for), the saga's name and,
    for an engine's run, the ``mapper`` each stretch of steps goes through.

    A run that succeeds only ever sets ``nodes``, ``outputs`` and ``run``:
    everything else starts as a shared, empty class attribute and is made
    when first written (see the ``set_*``/``add_*`` methods).
    """

    # Per-instance state starts at these shared defaults (immutable ones).
    completed = -1
    started = 0.0
    undoing = -1
    attempt = 1
    error: object = None
    step_started_at = 0.0
    prefix = ""
    saga: str | None = None
    mapper: Callable[[tuple[Leaf, ...]], tuple[Leaf, ...]] | None = None
    outcomes: Mapping[int, tuple[StepOutcome, object]] = _NO_OUTCOMES
    branches: Mapping[int, list[Trace]] = _NO_BRANCHES
    failures: Sequence[tuple[str, object]] = ()
    left: Sequence[str] = ()
    also: Sequence[str] = ()
    _id: str | None = None
    _labels: list[str] | None = None
    _seen: dict[str, int]

    def __init__(
        self,
        nodes: Sequence[Node],
        saga: str | None = None,
        run_id: str | None = None,
        *,
        run: Trace | None = None,
    ) -> None:
        self.nodes = nodes
        self.outputs: list[object] = []
        if run is None:
            self.run = self
            if saga is not None:
                self.saga = saga
            if run_id is not None:
                self._id = run_id
        else:
            self.run = run

    @property
    def id(self) -> str:
        """The run's id: the caller's ``run_id``, else 128 random bits in hex."""
        root = self.run
        if root._id is None:
            root._id = os.urandom(16).hex()
        return root._id

    def set_outcome(self, index: int, outcome: tuple[StepOutcome, object]) -> None:
        if self.outcomes is _NO_OUTCOMES:
            self.outcomes = {}
        self.outcomes[index] = outcome  # type: ignore[index]

    def add_failure(self, label: str, error: object) -> None:
        if not isinstance(self.failures, list):
            self.failures = []
        self.failures.append((label, error))

    def add_left(self, label: str) -> None:
        if not isinstance(self.left, list):
            self.left = []
        self.left.append(label)

    def add_also(self, text: str, *, first: bool = False) -> None:
        if not isinstance(self.also, list):
            self.also = []
        self.also.insert(0 if first else len(self.also), text)

    def label(self, index: int) -> str:
        """The name of ``nodes[index]`` in this run: its step name, with
        ``#2``, ``#3``... when the name came before (a step called in a loop)."""
        labels = self._labels  # pragma: no mutate (a cache: rebuilt, the same)
        if labels is None:
            labels = self._labels = []
            self._seen = {}
        nodes = self.nodes
        while len(labels) <= index:
            name = nodes[len(labels)].name
            count = self._seen.get(name, 0) + 1
            self._seen[name] = count
            labels.append(name if count == 1 else f"{name} #{count}")
        return labels[index]

    def branch(self, index: int, number: int, nodes: Sequence[Node]) -> Trace:
        """The trace of branch ``number`` (from 1) of the group at ``index``."""
        sub = Trace(nodes, run=self.run)
        sub.prefix = f"{self.prefix}{self.label(index)}/{number}/"
        return sub

    def set_branches(self, index: int, subs: list[Trace]) -> None:
        if self.branches is _NO_BRANCHES:
            self.branches = {}
        self.branches[index] = subs  # type: ignore[index]

    def forget_outputs(self) -> None:
        """Drop the outputs (a finished run's records do not need them)."""
        self.outputs.clear()
        for subs in self.branches.values():
            for sub in subs:
                sub.forget_outputs()

    def release(self) -> None:
        """Drop what a raised exception would otherwise keep alive (outputs,
        and the exception itself: a reference cycle through its traceback)."""
        self.outputs.clear()
        self.error = None  # pragma: no mutate (only drops it: never read after)
        for subs in self.branches.values():
            for sub in subs:
                sub.release()


_RUNNERS: Final[set[CodeType]] = set()
"""The code of the runner's loops that call actions and compensations, each
with its ``trace`` in a local variable (see :func:`runner_loop`)."""


def runner_loop(function: _F) -> _F:
    """Mark ``function`` as a runner loop that calls actions or compensations
    and keeps its run's ``trace`` in a local of that name, so that
    :func:`running_trace` can find it."""
    _RUNNERS.add(function.__code__)  # type: ignore[attr-defined]
    return function


def running_trace() -> Trace | None:
    """The trace of the step running here: the nearest runner loop up this
    thread's stack (a sync run registers nothing, so this costs a run
    nothing), else the async run whose task (or thread, through anyio) this
    is."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code in _RUNNERS:
            trace = frame.f_locals.get("trace")
            if isinstance(trace, Trace):
                return trace
        frame = frame.f_back
    return CURRENT.get()


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


AWAITABLE_IN_SYNC_RUN: Final = "__typed_saga_awaitable_in_sync_run__"
"""Marks the error below, for callers with better advice (Go-style handlers)."""


def awaitable_in_sync_run(name: str, *, compensation: bool) -> TypeError:
    """The error for an awaitable met by the synchronous runner."""
    role = "the compensation of step" if compensation else "step"
    error = TypeError(
        f"{role} {name!r} returned an awaitable, but this is a synchronous Saga. "
        "Declare the step async so that step() builds an AsyncSaga: define the "
        "function with `async def`, or annotate its return type as "
        "`FutureResult[...]` (a lambda hides both, a functools.partial the "
        "annotation: build that step with `async_step(...)`), then "
        "`await saga.run(value)`."
    )
    setattr(error, AWAITABLE_IN_SYNC_RUN, True)
    return error


def awaitable_after_await(name: str, *, compensation: bool) -> TypeError:
    """The error for an async step whose awaited result is still an awaitable."""
    role = "the compensation of step" if compensation else "step"
    return TypeError(
        f"{role} {name!r} returned an awaitable that, once awaited, gave another "
        "awaitable instead of a Result: is an `await` missing inside it "
        "(`return await other(...)`)?"
    )


NOTE_PREFIX: Final = "typed-saga: "


def add_note(exc: BaseException, text: str) -> None:
    """Put ``text`` on ``exc`` as its one typed-saga note, replacing an earlier
    one (an exception object reused across runs carries at most one). Never
    raises: where ``add_note`` fails (a frozen dataclass, a tuple of
    ``__notes__``), the notes are set directly, the caller's own kept; an
    exception that refuses even that propagates without one, unchanged."""
    text = NOTE_PREFIX + text
    try:
        notes = exc.__dict__.get("__notes__")
    except Exception:
        notes = None
    try:
        if isinstance(notes, list):
            notes[:] = [n for n in notes if not _ours(n)]
            notes.append(text)
            return
        if notes is None:
            exc.add_note(text)
            return
    except Exception:
        pass
    try:
        kept = [n for n in notes if not _ours(n)] if isinstance(notes, tuple) else []
        object.__setattr__(exc, "__notes__", [*kept, text])
    except Exception:
        pass


def _ours(note: object) -> bool:
    return isinstance(note, str) and note.startswith(NOTE_PREFIX)


def note_text(trace: Trace, policy: str, *, fatal: BaseException | None = None) -> str:
    """The one note a raised exception gets: where, what was unwound, what
    failed, what is left. ``fatal``: a compensation's ``KeyboardInterrupt`` (or
    the like) that ended the unwinding."""
    label = trace.label(trace.completed)
    kind = _kind(trace.nodes[trace.completed])
    completed = sum(1 for n in trace.nodes[: trace.completed] if not n.hidden)
    how = (
        "raised"
        if isinstance(trace.error, BaseException)
        else f"failed with {describe_error(trace.error)}"
    )
    if fatal is None:
        first = (
            f"{kind} {label!r} {how}; the {completed} completed step(s) before it "
            f"were unwound (on_compensation_failure={policy!r})"
        )
    else:
        first = (
            f"{type(fatal).__name__} raised while unwinding the {completed} "
            f"completed step(s) before {kind} {label!r} (which {how}); the "
            "unwinding stopped there"
        )
    lines = [first]
    lines.extend(
        f"  compensation of step {name!r} failed: {describe_error(error)}"
        for name, error in trace.failures
    )
    if trace.left:
        lines.append("  left un-compensated: " + ", ".join(repr(n) for n in trace.left))
    lines.extend(f"  {also}" for also in trace.also)
    return "\n".join(lines)


def _kind(node: Node) -> str:
    if isinstance(node, Group):
        return "parallel group"
    if isinstance(node, BodyNode):
        return "body"
    return "step"


# -- reports -------------------------------------------------------------------


def attach_report(exc: BaseException, trace: Trace, saga: str | None) -> None:
    """Keep the report of the run that raised ``exc`` on it, for
    :meth:`SagaReport.of`. The report's records name ``exc`` only by a
    placeholder, so no reference cycle keeps the traceback alive."""
    pending = (records(trace, raised=exc), saga)
    with contextlib.suppress(Exception):  # an exception without a __dict__
        object.__setattr__(exc, REPORT_ATTRIBUTE, pending)


def build_report(
    result: Result[object, object], trace: Trace, saga: str | None
) -> SagaReport[object, object]:
    """Turn a finished run's trace into its report; the records are made when
    first read, from the trace (which lets go of the step outputs now)."""
    trace.forget_outputs()
    return SagaReport._later(result, lambda: records(trace), saga)


def records(
    trace: Trace, *, raised: BaseException | None = None
) -> tuple[StepRecord, ...]:
    """One record per visible node (``map`` stages are not steps): a chain's
    every node, a run with bodies the nodes it reached."""
    nodes = trace.nodes
    if isinstance(nodes, list) and trace.completed >= 0:
        nodes = nodes[: trace.completed + 1]
    return _records(nodes, trace, raised)


def _records(
    nodes: Sequence[Node], trace: Trace | None, raised: BaseException | None
) -> tuple[StepRecord, ...]:
    out: list[StepRecord] = []
    for index, node in enumerate(nodes):
        if node.hidden:
            continue
        name = trace.label(index) if trace is not None else node.name
        if trace is None or index > trace.completed >= 0:
            outcome, error = StepOutcome.NOT_RUN, None
        elif index == trace.completed:
            outcome, error = StepOutcome.FAILED, trace.error
            if raised is not None and error is raised:
                error = RAISED
        elif index in trace.outcomes:
            outcome, error = trace.outcomes[index]
        elif trace.completed >= 0 and _compensable(node):
            outcome, error = COMPENSATED  # the runners store only the exceptions
        else:
            outcome, error = StepOutcome.SUCCEEDED, None
        branches: tuple[tuple[StepRecord, ...], ...] = ()
        if isinstance(node, Group):
            subs = trace.branches.get(index) if trace is not None else None
            if subs:
                branches = tuple(records(sub, raised=raised) for sub in subs)
            else:
                branches = tuple(_records(b, None, None) for b in node.branches)
        out.append(StepRecord(name, outcome, error, branches))
    return tuple(out)


def _compensable(node: Leaf | BodyNode) -> bool:
    return isinstance(node, Group) or node.compensate is not None


COMPENSATED: Final = (StepOutcome.COMPENSATED, None)
LEFT_UNCOMPENSATED: Final = (StepOutcome.LEFT_UNCOMPENSATED, None)
