"""Typed events a run emits, the :class:`Listener` protocol, and the default
listener that turns events into log records on the ``typed_saga`` logger.

Events carry names, outcomes, durations and errors — never a step's input or
output, which may hold secrets.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Literal, Protocol, TypeAlias, final

from typed_saga._value import Frozen, init_field

logger = logging.getLogger("typed_saga")


@final
class SagaStarted(Frozen):
    """A run began."""

    __slots__ = ("run_id", "saga")

    run_id: str
    saga: str | None

    def __init__(self, *, run_id: str, saga: str | None) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)


@final
class SagaSucceeded(Frozen):
    """A run finished with ``Success``."""

    __slots__ = ("run_id", "saga", "duration")

    run_id: str
    saga: str | None
    duration: float

    def __init__(self, *, run_id: str, saga: str | None, duration: float) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "duration", duration)


@final
class SagaFailed(Frozen):
    """A run ended by a failing step, after its unwinding.

    ``error`` is the failure value or the exception; ``left_uncompensated`` names
    the steps whose effects are still out there.
    """

    __slots__ = ("run_id", "saga", "duration", "step", "error", "left_uncompensated")

    run_id: str
    saga: str | None
    duration: float
    step: str
    error: object
    left_uncompensated: tuple[str, ...]

    def __init__(
        self,
        *,
        run_id: str,
        saga: str | None,
        duration: float,
        step: str,
        error: object,
        left_uncompensated: tuple[str, ...],
    ) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "duration", duration)
        init_field(self, "step", step)
        init_field(self, "error", error)
        init_field(self, "left_uncompensated", left_uncompensated)


@final
class StepStarted(Frozen):
    """A step's action is about to be called."""

    __slots__ = ("run_id", "saga", "step")

    run_id: str
    saga: str | None
    step: str

    def __init__(self, *, run_id: str, saga: str | None, step: str) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "step", step)


@final
class StepSucceeded(Frozen):
    """A step's action returned ``Success``."""

    __slots__ = ("run_id", "saga", "step", "duration")

    run_id: str
    saga: str | None
    step: str
    duration: float

    def __init__(
        self, *, run_id: str, saga: str | None, step: str, duration: float
    ) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "step", step)
        init_field(self, "duration", duration)


@final
class StepFailed(Frozen):
    """A step's action returned ``Failure``, raised, or returned a non-``Result``."""

    __slots__ = ("run_id", "saga", "step", "duration", "error")

    run_id: str
    saga: str | None
    step: str
    duration: float
    error: object

    def __init__(
        self,
        *,
        run_id: str,
        saga: str | None,
        step: str,
        duration: float,
        error: object,
    ) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "step", step)
        init_field(self, "duration", duration)
        init_field(self, "error", error)


@final
class CompensationStarted(Frozen):
    """A completed step's compensation is about to be called."""

    __slots__ = ("run_id", "saga", "step")

    run_id: str
    saga: str | None
    step: str

    def __init__(self, *, run_id: str, saga: str | None, step: str) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "step", step)


@final
class CompensationSucceeded(Frozen):
    """A compensation returned ``Success``."""

    __slots__ = ("run_id", "saga", "step", "duration")

    run_id: str
    saga: str | None
    step: str
    duration: float

    def __init__(
        self, *, run_id: str, saga: str | None, step: str, duration: float
    ) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "step", step)
        init_field(self, "duration", duration)


@final
class CompensationFailed(Frozen):
    """A compensation returned ``Failure``, raised, or timed out."""

    __slots__ = ("run_id", "saga", "step", "duration", "error")

    run_id: str
    saga: str | None
    step: str
    duration: float
    error: object

    def __init__(
        self,
        *,
        run_id: str,
        saga: str | None,
        step: str,
        duration: float,
        error: object,
    ) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "step", step)
        init_field(self, "duration", duration)
        init_field(self, "error", error)


@final
class CompensationSkipped(Frozen):
    """A completed step was not compensated: it declared no compensation, or the
    ``"stop"`` policy ended the unwinding before it."""

    __slots__ = ("run_id", "saga", "step", "reason")

    run_id: str
    saga: str | None
    step: str
    reason: Literal["no compensation", "stopped by policy"]

    def __init__(
        self,
        *,
        run_id: str,
        saga: str | None,
        step: str,
        reason: Literal["no compensation", "stopped by policy"],
    ) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "step", step)
        init_field(self, "reason", reason)


Event: TypeAlias = (
    SagaStarted
    | SagaSucceeded
    | SagaFailed
    | StepStarted
    | StepSucceeded
    | StepFailed
    | CompensationStarted
    | CompensationSucceeded
    | CompensationFailed
    | CompensationSkipped
)
"""Every event a run can emit."""


class Listener(Protocol):
    """Anything callable with one :data:`Event`. Listeners run synchronously,
    in the run's thread or task; one that raises is logged and ignored, so
    observing can never change a run's outcome.

    >>> seen: list[Event] = []
    >>> listener: Listener = seen.append
    """

    def __call__(self, event: Event, /) -> None:
        """Receive one event."""


def log_event(event: Event) -> None:
    """The default listener: failed compensations at ERROR, steps left
    un-compensated at WARNING, step and compensation progress at DEBUG.

    Every record carries ``saga_run_id``, ``saga_name`` and ``saga_step`` (and
    ``saga_error`` where there is one) as ``extra`` fields, so structured
    loggers can index them.
    """
    if isinstance(event, CompensationFailed):
        logger.error(
            "compensation of step %r failed: %s",
            event.step,
            describe_error(event.error),
            extra=_extra(event, event.step, event.error),
        )
    elif isinstance(event, SagaFailed):
        if event.left_uncompensated:
            logger.warning(
                "unwinding stopped; steps left un-compensated: %s",
                ", ".join(repr(name) for name in event.left_uncompensated),
                extra={
                    **_extra(event, event.step, event.error),
                    "saga_left_uncompensated": event.left_uncompensated,
                },
            )
    elif logger.isEnabledFor(logging.DEBUG):
        if isinstance(event, StepStarted | CompensationStarted):
            what = "step" if isinstance(event, StepStarted) else "compensation of"
            logger.debug(
                "%s %r started", what, event.step, extra=_extra(event, event.step)
            )
        elif isinstance(event, StepSucceeded | CompensationSucceeded):
            what = "step" if isinstance(event, StepSucceeded) else "compensation of"
            logger.debug(
                "%s %r succeeded in %.6fs",
                what,
                event.step,
                event.duration,
                extra=_extra(event, event.step),
            )
        elif isinstance(event, StepFailed):
            logger.debug(
                "step %r failed: %s",
                event.step,
                describe_error(event.error),
                extra=_extra(event, event.step, event.error),
            )


def log_error(message: str, *args: object, **extra: object) -> None:
    """Log at ERROR on ``typed_saga``; a broken logging setup (a filter or
    handler that raises) is ignored: logging never changes a run's outcome."""
    with contextlib.suppress(Exception):
        logger.error(message, *args, extra=extra or None)


def describe_error(error: object) -> str:
    """One line of text for a failure value or an exception, as logs, notes,
    reports, spans and pictures show it: ``"Type: message"`` for an exception
    (``"cancelled"`` for an asyncio or trio cancellation), the ``repr`` of
    anything else. Never raises: an error that cannot be shown is named by its
    type."""
    try:
        if is_cancellation(error):
            return "cancelled"
        if isinstance(error, BaseException):
            return f"{type(error).__name__}: {error}"
        return repr(error)
    except Exception:
        return f"<{type(error).__name__} that cannot be shown: its __str__ raised>"


def is_cancellation(error: object) -> bool:
    """An asyncio or trio cancellation (not merely a class named so). Imports
    neither: a loop that was never imported cannot have cancelled anything."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(error, asyncio.CancelledError):
        return True
    trio = sys.modules.get("trio")
    cancelled = getattr(trio, "Cancelled", None)
    return isinstance(cancelled, type) and isinstance(error, cancelled)


def _extra(event: Event, step: str, error: object = None) -> dict[str, object]:
    extra: dict[str, object] = {
        "saga_run_id": event.run_id,
        "saga_name": event.saga,
        "saga_step": step,
    }
    if error is not None:
        extra["saga_error"] = describe_error(error)
    return extra
