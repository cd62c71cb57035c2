"""OpenTelemetry tracing for saga runs: ``pip install 'typed-saga[otel]'``.

:class:`OpenTelemetryListener` turns a run's events into spans: one span per
run, a child span per step and per compensation, error status where something
failed, and ``saga.*`` attributes telling each outcome. Attach it per run or
per definition like any listener::

    from typed_saga.otel import OpenTelemetryListener

    tracing = OpenTelemetryListener()            # the global tracer provider
    provision = provision.named("provision").with_listeners(tracing)

It needs only ``opentelemetry-api``; configure the SDK and exporters as usual.
The core of typed-saga never imports this module.

The span tree::

    saga provision                     run: saga.outcome, saga.failed_step, ...
    ├── step allocate quota            saga.outcome = compensated
    ├── step parallel(network, disk)   a group: its branch steps are children
    │   ├── step network
    │   └── step disk
    ├── step create server             status ERROR, saga.error
    ├── compensate parallel(...)       its branches' compensations are children
    │   └── ...
    └── compensate allocate quota

While an action or a compensation runs, its span is the current span, so spans
your own code (or an instrumented HTTP client) starts inside it nest under the
step. The run span's parent is whatever span is current when the run starts —
a request handler's, or the step of an enclosing saga. Runs are told apart by
``run_id``, so any number of runs may interleave on one event loop or across
threads with one listener.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, final

from typed_saga._events import (
    CompensationFailed,
    CompensationSkipped,
    CompensationStarted,
    CompensationSucceeded,
    Event,
    SagaFailed,
    SagaStarted,
    SagaSucceeded,
    StepFailed,
    StepStarted,
    StepSucceeded,
    describe_error,
)

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "typed_saga.otel needs the OpenTelemetry API: install it with "
        "`pip install 'typed-saga[otel]'` (or `pip install opentelemetry-api`)"
    ) from exc

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.util.types import AttributeValue

__all__ = ("OpenTelemetryListener",)

_Kind = Literal["step", "compensation"]
_INSTRUMENTATION: Final = "typed_saga"

_RUN_ID: Final = "saga.run_id"
_NAME: Final = "saga.name"
_STEP: Final = "saga.step"
_OUTCOME: Final = "saga.outcome"
_ERROR: Final = "saga.error"


@dataclass(slots=True, eq=False)
class _Open:
    """A step or compensation span not yet ended."""

    kind: _Kind
    name: str
    span: Span
    parent: _Open | None
    context: Context
    token: Token[Context]
    parallel: bool = False


@dataclass(slots=True, eq=False)
class _Run:
    """One run's open spans."""

    span: Span
    open: list[_Open] = field(default_factory=list)
    by_context: dict[int, _Open] = field(default_factory=dict)


@final
class OpenTelemetryListener:
    """A :class:`~typed_saga.Listener` that records runs as OpenTelemetry spans.

    ``tracer``: the tracer to use; by default the ``typed_saga`` tracer of the
    global tracer provider (set it up before or after — the API's proxy
    tracer follows). One instance can serve every saga and every run; give it
    to a run once (per definition *or* per run, not both, or each event
    arrives twice).

    Span names are ``saga <name>`` (``saga`` for an unnamed saga),
    ``step <step>`` and ``compensate <step>``. Attributes: ``saga.run_id``,
    ``saga.name``, ``saga.step``, ``saga.outcome`` (a
    :class:`~typed_saga.StepOutcome` value for steps and compensations,
    ``cancelled`` for a branch step cut short by its group, ``succeeded`` or
    ``failed`` for the run) and ``saga.error`` where something failed. The run
    span also gets ``saga.failed_step`` and ``saga.left_uncompensated``, and
    one ``compensation skipped`` span event per step the unwinding passed
    over. Failed steps, failed compensations and failed runs get ERROR status;
    raised exceptions are recorded on their step's span.

    >>> from returns.result import Success
    >>> from typed_saga import step
    >>> listener = OpenTelemetryListener()
    >>> step("ping", Success).run(1, listeners=[listener])
    <Success: 1>
    """

    __slots__ = ("_lock", "_runs", "_tracer")

    def __init__(self, tracer: Tracer | None = None) -> None:
        self._tracer: Tracer = (
            tracer if tracer is not None else trace.get_tracer(_INSTRUMENTATION)
        )
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenTelemetryListener(tracer={self._tracer!r})"

    def __call__(self, event: Event, /) -> None:
        """Turn one event into span operations."""
        if isinstance(event, SagaStarted):
            self._start_run(event)
            return
        with self._lock:
            run = self._runs.get(event.run_id)
        if run is None:  # this listener joined after the run started
            return
        if isinstance(event, StepStarted):
            self._open(run, event, "step")
        elif isinstance(event, CompensationStarted):
            self._open(run, event, "compensation")
        elif isinstance(event, StepSucceeded):
            self._close(run, "step", event.step, "succeeded")
        elif isinstance(event, CompensationSucceeded):
            self._close(run, "compensation", event.step, "compensated")
        elif isinstance(event, StepFailed):
            self._close(run, "step", event.step, "failed", event.error)
        elif isinstance(event, CompensationFailed):
            self._close(
                run, "compensation", event.step, "compensation_failed", event.error
            )
        elif isinstance(event, CompensationSkipped):
            run.span.add_event(
                "compensation skipped",
                {_STEP: event.step, "saga.reason": event.reason},
            )
        else:
            self._end_run(run, event)

    # -- runs ----------------------------------------------------------------

    def _start_run(self, event: SagaStarted) -> None:
        attributes: dict[str, AttributeValue] = {_RUN_ID: event.run_id}
        if event.saga is not None:
            attributes[_NAME] = event.saga
        name = "saga" if event.saga is None else f"saga {event.saga}"
        span = self._tracer.start_span(name, attributes=attributes)
        with self._lock:
            self._runs[event.run_id] = _Run(span)

    def _end_run(self, run: _Run, event: SagaSucceeded | SagaFailed) -> None:
        with self._lock:
            self._runs.pop(event.run_id, None)
        current = otel_context.get_current()
        for record in reversed(run.open):  # never ended: cut short or unreported
            self._finish(record, "unfinished", None, current=current)
            current = otel_context.get_current()
        run.open.clear()
        run.by_context.clear()
        if isinstance(event, SagaSucceeded):
            run.span.set_attribute(_OUTCOME, "succeeded")
        else:
            run.span.set_attribute(_OUTCOME, "failed")
            run.span.set_attribute("saga.failed_step", event.step)
            run.span.set_attribute(_ERROR, describe_error(event.error))
            if event.left_uncompensated:
                run.span.set_attribute(
                    "saga.left_uncompensated", list(event.left_uncompensated)
                )
            run.span.set_status(
                trace.StatusCode.ERROR,
                f"step {event.step!r} failed: {describe_error(event.error)}",
            )
        run.span.end()

    # -- steps and compensations ---------------------------------------------

    def _open(
        self, run: _Run, event: StepStarted | CompensationStarted, kind: _Kind
    ) -> None:
        parent = self._current(run)
        parent_span = run.span if parent is None else parent.span
        if parent is not None and parent.kind == "step" == kind and not parent.parallel:
            parent.parallel = True  # a step inside a step: that one is a group
            parent.span.set_attribute("saga.parallel", True)
        attributes: dict[str, AttributeValue] = {
            _RUN_ID: event.run_id,
            _STEP: event.step,
        }
        if event.saga is not None:
            attributes[_NAME] = event.saga
        prefix = "step" if kind == "step" else "compensate"
        span = self._tracer.start_span(
            f"{prefix} {event.step}",
            context=trace.set_span_in_context(parent_span),
            attributes=attributes,
        )
        context = trace.set_span_in_context(span)
        token = otel_context.attach(context)
        record = _Open(kind, event.step, span, parent, context, token)
        run.open.append(record)
        run.by_context[id(context)] = record

    def _close(
        self,
        run: _Run,
        kind: _Kind,
        name: str,
        outcome: str,
        error: object = None,
    ) -> None:
        record = self._current(run)
        if record is None or record.kind != kind or record.name != name:
            record = next(
                (r for r in reversed(run.open) if r.kind == kind and r.name == name),
                None,
            )
            if record is None:
                return
        # children still open were cut short (a cancelled branch step)
        for child in [r for r in run.open if _descends(r, record)]:
            self._finish(child, "cancelled", None, current=None)
            self._forget(run, child)
        self._finish(record, outcome, error, current=otel_context.get_current())
        self._forget(run, record)

    def _current(self, run: _Run) -> _Open | None:
        """This run's span that is current in the calling task, if any."""
        current = otel_context.get_current()
        record = run.by_context.get(id(current))
        return record if record is not None and record.context is current else None

    def _forget(self, run: _Run, record: _Open) -> None:
        run.open.remove(record)
        run.by_context.pop(id(record.context), None)

    def _finish(
        self, record: _Open, outcome: str, error: object, *, current: Context | None
    ) -> None:
        """End a span; detach its context if it is current in this task (it is
        not when the task that attached it is gone)."""
        if current is record.context:
            otel_context.detach(record.token)
        span = record.span
        span.set_attribute(_OUTCOME, outcome)
        if outcome in {"failed", "compensation_failed"}:
            span.set_attribute(_ERROR, describe_error(error))
            if isinstance(error, BaseException):
                span.record_exception(error)
            what = "step" if record.kind == "step" else "compensation of step"
            span.set_status(
                trace.StatusCode.ERROR,
                f"{what} {record.name!r} failed: {describe_error(error)}",
            )
        span.end()


def _descends(record: _Open, ancestor: _Open) -> bool:
    parent = record.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False
