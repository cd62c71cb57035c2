"""Sagas on Temporal: the same typed definitions on a fleet of workers.

Install the extra (``pip install 'typed-saga[temporal]'``), keep your
definitions (chains and bodies, sync and async, ``parallel`` included) and
register each under a stable name, at import time, in the worker's and the
client's code::

    booking = distributed(book_trip, name="book trip")

    # a worker process: every step and compensation is an activity
    async with saga_worker(client, task_queue="trips", sagas=[booking]):
        ...

    # any client: a typed Result, whichever worker ran which step
    result = await booking.run(client, trip, task_queue="trips")

Each action and each compensation is an activity named after the saga and
the step (``"book trip/reserve flight"``, ``"book trip/reserve flight/
compensate"``); one generic workflow, :class:`SagaWorkflow`, interprets the
definition deterministically with the library's own runner, so the ten rules
hold as in process (rule 4's identity becomes equality: the ``Failure``
crossed the wire). A worker killed mid-run is replaced and the run goes on:
Temporal re-runs the activity that was in flight (pass
``current_step().key`` to the service as an idempotency key) and replays the
rest from the run's history. See ``docs/temporal.md`` for when to choose
Temporal, what is deterministic, changed definitions and the costs.

>>> from returns.result import Result, Success
>>> from typed_saga import step
>>> def reserve(seats: int) -> Result[str, str]:
...     return Success(f"{seats} seats")
>>> seats = distributed(step("reserve", reserve), name="doctest seats")
>>> seats  # doctest: +ELLIPSIS
<DistributedSaga 'doctest seats' (...)>
>>> len(seats.activities())  # the action (no compensation)
1
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final, Generic, TypeVar, cast, final, overload

import typing_extensions
from returns.io import IOResult
from returns.result import Failure, Result, Success
from returns.unsafe import unsafe_perform_io

from typed_saga import AsyncSaga, Policy, Retry, Saga, StepContext, current_step
from typed_saga import engine as _engine
from typed_saga.engine import StepInfo, blueprint, result_types, running_step

try:
    import temporalio.exceptions
    from temporalio import activity, workflow
    from temporalio.client import (
        Client,
        WorkflowFailureError,
        WorkflowHandle,
    )
    from temporalio.common import (
        RawValue,
        RetryPolicy,
        WorkflowIDConflictPolicy,
        WorkflowIDReusePolicy,
    )
    from temporalio.exceptions import ActivityError, ApplicationError
    from temporalio.worker import Worker
except ImportError as missing:  # pragma: no cover - the extra is installed in tests
    raise ImportError(
        "typed_saga.temporal needs the Temporal SDK, which is not installed: "
        "pip install 'typed-saga[temporal]'"
    ) from missing

__all__ = (
    "WORKFLOW_NAME",
    "ActivityOptions",
    "DefinitionNotRegistered",
    "DistributedRun",
    "DistributedSaga",
    "RunCancelled",
    "RunFailed",
    "SagaWorkflow",
    "distributed",
    "saga_worker",
)

WORKFLOW_NAME: Final = "typed-saga"
"""The Temporal workflow type of every run: one generic workflow, whose
input names the saga and its definition's fingerprint."""

_BEAT: Final = 1.0  # at most this many seconds between heartbeats
_THROTTLE: Final = timedelta(seconds=2)  # saga_worker's heartbeat throttle
_RAISED: Final = "typed-saga.raised"  # the ApplicationError type of a run that raised
_DECODE: Final = "typed-saga.decode"

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Err = TypeVar("_Err")
_In_contra = TypeVar("_In_contra", contravariant=True)
_Out_co = TypeVar("_Out_co", covariant=True)
_Err_co = TypeVar("_Err_co", covariant=True)


# -- errors ----------------------------------------------------------------------


class RunFailed(Exception):
    """What ``run`` / ``result`` raise for a run that ended with an exception:
    a step that raised after its retries (or timed out), a value the data
    converter could not carry, a bug in a body's glue code. The steps it had
    completed were compensated first, as in process; ``error_type`` and
    ``message`` are the original exception's (it cannot cross the wire as an
    object), ``step`` the step that raised, if one did.

    >>> print(RunFailed("r1", "charge", "ConnectionError", "bank down"))
    run 'r1' raised in step 'charge': ConnectionError: bank down
    """

    def __init__(
        self, run_id: str, step: str | None, error_type: str, message: str
    ) -> None:
        super().__init__(run_id, step, error_type, message)
        self.run_id = run_id
        self.step = step
        self.error_type = error_type
        self.message = message

    def __str__(self) -> str:
        where = f" in step {self.step!r}" if self.step else ""
        return f"run {self.run_id!r} raised{where}: {self.error_type}: {self.message}"


class RunCancelled(Exception):
    """What ``run`` / ``result`` raise for a run that was cancelled
    (:meth:`DistributedRun.cancel`, or Temporal's own cancel): the steps it
    had completed were compensated, then it ended ``CANCELED``.

    >>> print(RunCancelled("order-42"))
    run 'order-42' was cancelled; the steps it had completed were compensated
    """

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id

    def __str__(self) -> str:
        return (
            f"run {self.run_id!r} was cancelled; the steps it had completed were "
            "compensated"
        )


class DefinitionNotRegistered(RuntimeError):
    """Raised inside the workflow when a run's definition (its saga name and
    fingerprint) is not registered in the worker's process. Temporal then
    retries the workflow task: the run waits, nothing is lost, and the
    message shows in the run's history until a worker that registers that
    definition picks it up.

    >>> error = DefinitionNotRegistered("book", "0123456789abcdef", ["fedcba98"])
    >>> print(error)  # doctest: +ELLIPSIS
    saga 'book' with the definition 0123456789abcdef is not registered on this...
    """

    def __init__(self, saga: str, fingerprint: str, known: Sequence[str]) -> None:
        super().__init__(saga, fingerprint, tuple(known))
        self.saga = saga
        self.fingerprint = fingerprint
        self.known = tuple(known)

    def __str__(self) -> str:
        has = ", ".join(self.known) if self.known else "none"
        return (
            f"saga {self.saga!r} with the definition {self.fingerprint} is not "
            f"registered on this worker (it has: {has}). The run started with that "
            "definition and is never replayed against another one: it waits. "
            "Deploy a worker that also registers the old definition "
            f"(distributed(old_definition, name={self.saga!r}) next to the new one, "
            "both given to saga_worker) until the runs that started with it have "
            "finished; or terminate the run and clean up by hand."
        )


# -- options -----------------------------------------------------------------------


@final
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ActivityOptions:
    """How a step's action and compensation run as Temporal activities.

    ``start_to_close_timeout``: the longest one attempt may take.
    ``heartbeat_timeout``: how soon a lost worker is noticed (the adapter
    heartbeats for your functions while they run; a cancel reaches an async
    action through these heartbeats). ``schedule_to_close_timeout``: the
    longest all attempts together may take. ``task_queue``: run this step on
    another queue (another service's workers, which register the same saga).
    ``retry_policy``: Temporal's own policy, replacing the one made from the
    step's :class:`~typed_saga.Retry` (see :func:`distributed`).

    >>> ActivityOptions(start_to_close_timeout=timedelta(minutes=1))
    ... # doctest: +ELLIPSIS
    ActivityOptions(start_to_close_timeout=datetime.timedelta(seconds=60), ...)
    """

    start_to_close_timeout: timedelta = timedelta(minutes=5)
    heartbeat_timeout: timedelta | None = timedelta(seconds=30)
    schedule_to_close_timeout: timedelta | None = None
    task_queue: str | None = None
    retry_policy: RetryPolicy | None = None


_DEFAULT_OPTIONS: Final = ActivityOptions()


def _retry_policy(retry: Retry | None, options: ActivityOptions) -> RetryPolicy:
    """Temporal's policy for a step. Exceptions the step's ``Retry`` does not
    cover never reach it (the activity marks them non-retryable); what is
    left for it are the ``on`` exceptions and lost attempts (timeouts, a
    worker that died), which without a ``Retry`` are retried as Temporal
    does by default: without limit."""
    if options.retry_policy is not None:
        return options.retry_policy
    if retry is None:
        return RetryPolicy(maximum_attempts=0)
    least = 0.001  # Temporal needs intervals above zero
    first = max(least, min(retry.interval, retry.max_interval))
    return RetryPolicy(
        initial_interval=timedelta(seconds=first),
        backoff_coefficient=retry.backoff,
        maximum_interval=timedelta(seconds=max(first, retry.max_interval)),
        maximum_attempts=retry.attempts,
    )


# -- what a registration knows ---------------------------------------------------


def _tagged(name: str, fields: Mapping[str, object]) -> object:
    """A ``TypedDict`` for a tagged value, so that the data converter decodes
    each part with its own type (``typing_extensions``' TypedDict: pydantic
    refuses ``typing``'s before Python 3.12)."""
    make = cast("Any", typing_extensions.TypedDict)
    return make(name, dict(fields), total=False)


def _hint_type(hint: object) -> type[Any]:
    """A type hint as the data converter's signature wants it (it takes any
    hint: a ``TypedDict``, ``tuple[...]``, a union)."""
    return cast("type[Any]", hint)


@final
class _Spec:
    """One step as the workflow and its activities need it."""

    __slots__ = (
        "activity",
        "compensation",
        "info",
        "input_hint",
        "options",
        "output_hint",
        "result_hint",
        "retry_on",
        "retry_policy",
        "undo_hint",
    )

    def __init__(self, saga: str, info: StepInfo, options: ActivityOptions) -> None:
        self.info = info
        self.activity = f"{saga}/{info.name}"
        self.compensation = (
            None if info.compensate is None else f"{self.activity}/compensate"
        )
        self.options = options
        self.retry_policy = _retry_policy(info.retry, options)
        self.retry_on: tuple[type[Exception], ...] = (
            () if info.retry is None else info.retry.on
        )
        types = result_types(info.action)
        if types is None:
            raise ValueError(
                f"saga {saga!r}, step {info.name!r}: the action "
                f"{_callable_name(info.action)} has no return annotation "
                "`Result[Out, Err]`. On Temporal each step's output and error cross "
                "the wire, and the data converter decodes them with these types: "
                "annotate it (for instance `def book(trip: Trip) -> "
                "Result[Flight, FlightError]`)"
            )
        out, err = types
        self.input_hint = _input_hint(saga, info)
        self.result_hint = _tagged(
            "StepResult", {"ok": out, "err": err, "step": str, "saga": str}
        )
        undo_types = None if info.compensate is None else result_types(info.compensate)
        undo_err = Any if undo_types is None else undo_types[1]
        self.undo_hint = _tagged("UndoResult", {"ok": Any, "err": undo_err})
        self.output_hint = out


def _input_hint(saga: str, info: StepInfo) -> object:
    """The type the activity decodes its input with: the action's first
    parameter's; for a step of several parameters, ``(args, kwargs)``."""
    signature = inspect.signature(info.action)  # follows a MultiStep to the action
    hints = _annotations(info.action)
    parameters = [
        p
        for p in signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    several = sum(p.default is p.empty for p in parameters) >= 2
    needed = parameters if several else parameters[:1]
    missing = [p.name for p in needed if p.name not in hints]
    if not needed or missing:
        what = f"parameter {missing[0]!r}" if missing else "its input parameter"
        raise ValueError(
            f"saga {saga!r}, step {info.name!r}: the action "
            f"{_callable_name(info.action)} has no annotation for {what}. On "
            "Temporal the step's input crosses the wire and the worker decodes it "
            "with that type: annotate it"
        )
    if not several:
        return hints[parameters[0].name]
    positional = tuple(hints[p.name] for p in parameters if p.kind != p.KEYWORD_ONLY)
    keywords = _tagged("Keywords", {p.name: hints[p.name] for p in parameters})
    return tuple[cast("Any", tuple)[positional], keywords]  # type: ignore[misc]


def _annotations(function: Callable[..., object]) -> dict[str, object]:
    target: object = inspect.unwrap(function)
    if not inspect.isroutine(target):
        target = getattr(type(target), "__call__", target)  # noqa: B004
    try:
        return cast("dict[str, object]", typing_extensions.get_type_hints(target))
    except Exception:
        return {}


def _callable_name(function: object) -> str:
    target = inspect.unwrap(function) if callable(function) else function
    return f"`{getattr(target, '__qualname__', type(target).__name__)}`"


@final
class _Registration:
    """One saga definition registered in this process (name + fingerprint)."""

    __slots__ = (
        "activities",
        "definition",
        "fingerprint",
        "input_hint",
        "name",
        "options",
        "output_hint",
        "policy",
        "specs",
        "step_options",
    )

    def __init__(
        self,
        definition: Saga[Any, Any, Any] | AsyncSaga[Any, Any, Any],
        name: str,
        options: ActivityOptions,
        steps: Mapping[str, ActivityOptions],
        policy: Policy,
    ) -> None:
        plan = blueprint(definition)
        unknown = sorted(set(steps) - {info.name for info in plan.steps})
        if unknown:
            known = ", ".join(repr(info.name) for info in plan.steps)
            raise ValueError(
                f"distributed(steps=...) names {unknown[0]!r}, which is not a step of "
                f"saga {name!r} (its steps: {known})"
            )
        self.definition = definition
        self.name = name
        self.fingerprint = plan.fingerprint
        self.options = options
        self.step_options = dict(steps)
        self.policy: Policy = policy
        self.specs = {
            info.name: _Spec(name, info, steps.get(info.name, options))
            for info in plan.steps
        }
        for what, found in (("input", plan.input_type), ("output", plan.output_type)):
            if found is inspect.Parameter.empty:
                raise ValueError(
                    f"saga {name!r}: its {what} type cannot be read from annotations "
                    f"(the {'first' if what == 'input' else 'last'} step, body or map "
                    "function has none: a lambda?). On Temporal the saga's "
                    f"{what} crosses the wire and is decoded with that type: "
                    "annotate it"
                )
        self.input_hint = plan.input_type
        self.output_hint = _tagged("RunResult", {"ok": plan.output_type, "saga": str})
        self.activities = tuple(self._activities())

    def _activities(self) -> list[tuple[str, Callable[..., Awaitable[RawValue]]]]:
        made: list[tuple[str, Callable[..., Awaitable[RawValue]]]] = []
        for spec in self.specs.values():
            made.append((spec.activity, _activity(self.name, spec, compensating=False)))
            if spec.compensation is not None:
                made.append(
                    (spec.compensation, _activity(self.name, spec, compensating=True))
                )
        return made

    def same_as(self, other: _Registration) -> bool:
        return (
            self.options == other.options
            and self.step_options == other.step_options
            and self.policy == other.policy
        )


_REGISTRY: dict[tuple[str, str], _Registration] = {}
"""Every definition registered in this process, by (saga name, fingerprint):
what the generic workflow interprets (never sandboxed, so it is this dict)."""


# -- the activities ------------------------------------------------------------------


def _activity(
    saga: str, spec: _Spec, *, compensating: bool
) -> Callable[..., Awaitable[RawValue]]:
    """One activity (a fresh function: Temporal keeps its definition on it):
    decode the input, call the user's function with ``current_step()`` set,
    heartbeat while it runs, and return its ``Result`` tagged."""
    info = spec.info
    function = info.compensate if compensating else info.action
    assert function is not None
    is_async = info.compensate_is_async if compensating else info.is_async
    hint = spec.output_hint if compensating else spec.input_hint
    name = spec.compensation if compensating else spec.activity
    assert name is not None
    retry_on = spec.retry_on

    async def saga_activity(value: RawValue, where: list[str]) -> RawValue:
        details = activity.info()
        converter = activity.payload_converter()
        try:
            decoded = converter.from_payload(value.payload, _hint_type(hint))
        except Exception as exc:
            raise ApplicationError(
                f"step {info.name!r}: cannot decode its input as {hint!r}: {exc}",
                type=_DECODE,
                non_retryable=True,
            ) from exc
        context = StepContext(
            run_id=details.workflow_id or "",
            saga=saga,
            step=where[0],
            attempt=details.attempt,
            compensating=compensating,
            branch=where[1],
        )
        try:
            with running_step(context):
                result = await _heartbeating(function, decoded, is_async, details)
        except Exception as exc:
            if isinstance(exc, retry_on):
                raise  # Temporal retries it, as the step's Retry says
            raise ApplicationError(
                str(exc), type=type(exc).__name__, non_retryable=True
            ) from exc
        return _tag(converter, info.name, result, compensating=compensating)

    saga_activity.__name__ = saga_activity.__qualname__ = name
    return activity.defn(name=name)(saga_activity)


async def _heartbeating(
    function: Callable[[object], object],
    value: object,
    is_async: bool,
    details: activity.Info,
) -> object:
    """Call ``function(value)`` (a sync one in a thread) and heartbeat for it
    until it returns. A cancel (the run was cancelled) interrupts an async
    function; a sync one cannot be interrupted, so its result is awaited and
    returned: the run records the step and compensates it."""
    if is_async:
        work: asyncio.Future[object] = asyncio.ensure_future(_awaited(function, value))
    else:
        work = asyncio.ensure_future(asyncio.to_thread(function, value))
    beat = details.heartbeat_timeout
    interval = min(beat.total_seconds() / 3, _BEAT) if beat else None
    while not work.done():
        try:
            await asyncio.wait({work}, timeout=interval)
        except asyncio.CancelledError:
            if is_async:
                work.cancel()
                await asyncio.wait({work})
                if work.cancelled():
                    raise
            continue  # a sync function runs to its end: its effect is recorded
        if not work.done():
            activity.heartbeat()
    result = work.result()
    if inspect.isawaitable(result):  # an async function step() could not see
        result = await result
    return result


async def _awaited(function: Callable[[object], object], value: object) -> object:
    result = function(value)
    if inspect.isawaitable(result):
        result = await result
    return result


def _tag(converter: Any, step: str, result: object, *, compensating: bool) -> RawValue:
    """``{"ok": output}`` or ``{"err": error}``, encoded here, so that a value
    the data converter cannot carry fails the step clearly (never retried)."""
    if isinstance(result, IOResult):  # a FutureResult's outcome
        result = unsafe_perform_io(result)  # type: ignore[arg-type]
    if isinstance(result, Success):
        tagged: dict[str, object] = {"ok": None if compensating else result.unwrap()}
    elif isinstance(result, Failure):
        tagged = {"err": result.failure()}
    else:
        what = "compensation" if compensating else "action"
        raise ApplicationError(
            f"the {what} of step {step!r} returned {type(result).__name__} "
            f"{result!r}, not a Result (Success or Failure)",
            type="TypeError",
            non_retryable=True,
        )
    try:
        return RawValue(converter.to_payload(tagged))
    except Exception as exc:
        part = "output" if "ok" in tagged else "error"
        raise ApplicationError(
            f"the {part} of step {step!r} cannot be sent by Temporal's data "
            f"converter ({exc}): use values it can encode (dataclasses, pydantic "
            "models with the pydantic converter, plain data; not exceptions)",
            type=_DECODE,
            non_retryable=True,
        ) from exc


# -- the generic workflow ----------------------------------------------------------


@final
class _Stop:
    """Whether the steps of a branch (or of the run) may still start: set by a
    failing sibling (``stop_others``) or by a cancel of the run; a nested
    group's flag also reads its parent's."""

    __slots__ = ("parent", "set_")

    def __init__(self, parent: _Stop | None = None) -> None:
        self.parent = parent
        self.set_ = False

    def set(self) -> None:
        self.set_ = True

    def __bool__(self) -> bool:
        return self.set_ or bool(self.parent)


_STOP: Final[contextvars.ContextVar[_Stop]] = contextvars.ContextVar(
    "typed_saga_temporal_stop"
)


async def _drain() -> None:
    """Let every task whose activity result has already arrived take it
    before anything is cancelled: cancelling a task whose result is in the
    same activation drops that result (and a completed step would never be
    compensated). A condition is checked only once the ready tasks ran."""
    while True:
        try:
            await workflow.wait_condition(lambda: True)
        except asyncio.CancelledError:
            continue
        return


async def _settle(tasks: Sequence[asyncio.Task[Any]]) -> BaseException | None:
    """Wait until every task is done, whatever cancellation arrives; return
    the one absorbed meanwhile."""
    absorbed: BaseException | None = None
    while not all(task.done() for task in tasks):
        try:
            await asyncio.shield(workflow.wait(tasks))
        except asyncio.CancelledError as exc:
            absorbed = exc
    return absorbed


@final
class _WorkflowRuntime:
    """The runner's concurrency inside a workflow: plain asyncio tasks (anyio's
    cancel scopes cannot run on Temporal's event loop).

    A failing branch does not cancel its siblings: ``stop_others`` only keeps
    them from *starting* another step, and the steps in flight finish and are
    recorded, so that they are compensated (a cancelled activity may have done
    its work anyway). Only a cancel of the whole run asks in-flight activities
    to stop, after the results already arrived were taken."""

    __slots__ = ()

    @property
    def cancelled(self) -> type[BaseException]:
        return asyncio.CancelledError

    async def together(
        self,
        jobs: Sequence[Callable[[Callable[[], None]], Coroutine[object, object, None]]],
    ) -> None:
        flag = _Stop(_STOP.get(None))

        async def branch(
            job: Callable[[Callable[[], None]], Coroutine[object, object, None]],
        ) -> None:
            _STOP.set(flag)
            await job(flag.set)

        tasks = [asyncio.create_task(branch(job)) for job in jobs]
        cancelled: BaseException | None = None
        while not all(task.done() for task in tasks):
            try:
                await workflow.wait(tasks)
            except asyncio.CancelledError as exc:  # the run is being cancelled
                cancelled = exc
                flag.set()
                await _drain()
                for task in tasks:
                    if not task.done():
                        task.cancel()
                await _settle(tasks)
        if cancelled is not None:
            raise cancelled
        if not flag.set_ and any(task.cancelled() for task in tasks):
            raise _Cancelled()  # the run stops (no sibling failed): so does the group
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise cast("BaseException", task.exception())

    async def shielded(
        self, unwinding: Coroutine[object, object, None]
    ) -> BaseException | None:
        task = asyncio.create_task(unwinding)
        absorbed = await _settle([task])
        task.result()
        return absorbed


_RUNTIME: Final = _WorkflowRuntime()


class _Cancelled(asyncio.CancelledError):
    """A step not started (or stopped) because its run or its group stops."""


@final
class _Interpreter:
    """One run inside the workflow: the library's async fold, with each
    action and compensation an activity."""

    __slots__ = ("failed_at", "registration", "run_id")

    def __init__(self, registration: _Registration, run_id: str) -> None:
        self.registration = registration
        self.run_id = run_id
        self.failed_at: dict[int, tuple[object, str]] = {}

    async def main(self, value: RawValue) -> RawValue:
        converter = workflow.payload_converter()
        reg = self.registration
        try:
            decoded = converter.from_payload(value.payload, _hint_type(reg.input_hint))
        except Exception as exc:
            raise ApplicationError(
                f"saga {reg.name!r}: cannot decode the run's input as "
                f"{reg.input_hint!r}: {exc}",
                type=_DECODE,
                non_retryable=True,
            ) from exc
        root = _Stop()
        fold = asyncio.create_task(self.fold(decoded, root))
        cancelled = False
        while not fold.done():
            try:
                await asyncio.shield(fold)
            except asyncio.CancelledError:
                if fold.done() or cancelled:
                    continue
                cancelled = True  # a cancel of the run: no new step starts,
                root.set()  # the results in hand are taken, the steps in
                await _drain()  # flight are asked to stop, and the fold unwinds
                if not fold.done():
                    fold.cancel()
            except BaseException:  # the fold's own outcome: read below
                pass
        if fold.cancelled():
            raise asyncio.CancelledError()  # the run ends CANCELED
        error = fold.exception()
        if error is not None:
            if cancelled or isinstance(error, asyncio.CancelledError):
                raise asyncio.CancelledError() from error
            raise _run_failure(error, reg.name) from error
        result = fold.result()
        if isinstance(result, Success):
            tagged: dict[str, object] = {"ok": result.unwrap()}
        else:
            _, step = self.failed_at.get(id(result), (None, ""))
            tagged = {"err": result.failure(), "step": step}
        tagged["saga"] = reg.name  # so that a client decodes it as this saga's
        try:
            return RawValue(converter.to_payload(tagged))
        except Exception as exc:
            raise ApplicationError(
                f"saga {reg.name!r}: the run's "
                f"{'output' if 'ok' in tagged else 'error'} cannot be sent by "
                f"Temporal's data converter: {exc}",
                type=_DECODE,
                non_retryable=True,
            ) from exc

    async def fold(self, value: object, root: _Stop) -> Result[Any, Any]:
        _STOP.set(root)
        reg = self.registration
        return await _engine.run_async(
            reg.definition,
            value,
            invoke=self.invoke,
            undo=self.undo,
            on_compensation_failure=reg.policy,
            run_id=self.run_id,
            runtime=_RUNTIME,
        )

    def spec(self, info: StepInfo) -> _Spec:
        spec = self.registration.specs.get(info.name)
        if spec is None or spec.info.action is not info.action:
            raise ApplicationError(
                f"saga {self.registration.name!r} reached step {info.name!r}, which "
                "was not found when the saga was registered: a body finds the steps "
                "it calls among the names it uses (module globals, closure "
                "variables); make the step such a name, not one built inside the body",
                type="LookupError",
                non_retryable=True,
            )
        return spec

    async def invoke(self, info: StepInfo, value: object) -> object:
        if _STOP.get():
            raise _Cancelled()
        spec = self.spec(info)
        raw = await self.execute(spec, spec.activity, value)
        decoded = self.decode(raw, spec.result_hint, spec.activity)
        if "ok" in decoded:
            return Success(decoded["ok"])
        failure = Failure(decoded.get("err"))
        self.failed_at[id(failure)] = (failure, info.name)
        return failure

    async def undo(self, info: StepInfo, output: object) -> object:
        spec = self.spec(info)
        assert spec.compensation is not None
        raw = await self.execute(spec, spec.compensation, output)
        decoded = self.decode(raw, spec.undo_hint, spec.compensation)
        return Success(None) if "ok" in decoded else Failure(decoded.get("err"))

    async def execute(self, spec: _Spec, name: str, value: object) -> RawValue:
        ctx = current_step()
        options = spec.options
        try:
            raw: RawValue = await workflow.execute_activity(
                name,
                args=[value, [ctx.step, ctx.branch]],
                activity_id=ctx.key[len(ctx.run_id) + 1 :],
                result_type=RawValue,
                task_queue=options.task_queue,
                start_to_close_timeout=options.start_to_close_timeout,
                heartbeat_timeout=options.heartbeat_timeout,
                schedule_to_close_timeout=options.schedule_to_close_timeout,
                retry_policy=spec.retry_policy,
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError as exc:
            if isinstance(exc.cause, temporalio.exceptions.CancelledError):
                raise _Cancelled() from exc  # the run's cancel reached the step
            raise
        return raw

    def decode(self, raw: RawValue, hint: object, what: str) -> dict[str, Any]:
        try:
            return cast(
                "dict[str, Any]",
                workflow.payload_converter().from_payload(
                    raw.payload, _hint_type(hint)
                ),
            )
        except Exception as exc:
            raise ApplicationError(
                f"cannot decode what activity {what!r} returned: {exc}",
                type=_DECODE,
                non_retryable=True,
            ) from exc


def _run_failure(error: BaseException, saga: str) -> ApplicationError:
    """The run's failure, for an exception the fold re-raised after
    unwinding: an ``ApplicationError`` (a plain exception would fail only the
    workflow task, and Temporal would retry it forever)."""
    step: str | None = None
    kind = type(error).__name__
    message = str(error)
    if isinstance(error, ActivityError):
        step = error.activity_type.removeprefix(f"{saga}/") or None
        cause = error.cause
        if isinstance(cause, ApplicationError):
            kind = cause.type or type(cause).__name__
            message = cause.message
        elif cause is not None:
            kind = type(cause).__name__
            message = getattr(cause, "message", str(cause))
    elif isinstance(error, ApplicationError):
        kind = error.type or kind
        message = error.message
    notes = getattr(error, "__notes__", ())
    if notes:
        message = "\n".join([message, *notes])
    return ApplicationError(message, step or "", kind, type=_RAISED, non_retryable=True)


@workflow.defn(name=WORKFLOW_NAME, sandboxed=False)
class SagaWorkflow:
    """The one generic workflow: it runs the definition named by its input
    (the saga's name and fingerprint, registered in this process by
    :func:`distributed`) on the library's own runner, every action and
    compensation an activity. Register it on your own ``Worker`` with the
    sagas' :meth:`~DistributedSaga.activities`, or let :func:`saga_worker`
    do both.

    It runs outside Temporal's sandbox: the sandbox would re-import the
    registry empty and re-execute user modules per run. Determinism is kept
    by the runner (no clock, randomness or I/O) and asked of bodies and
    ``map`` functions, which run inside the workflow (see docs/temporal.md).
    """

    @workflow.run
    async def run(self, saga: str, fingerprint: str, value: RawValue) -> RawValue:
        """Run ``saga``'s definition ``fingerprint`` on ``value``."""
        registration = _REGISTRY.get((saga, fingerprint))
        if registration is None:
            known = [fp for (name, fp) in _REGISTRY if name == saga]
            error = DefinitionNotRegistered(saga, fingerprint, known)
            workflow.logger.error("%s", error)
            raise error
        interpreter = _Interpreter(registration, workflow.info().workflow_id)
        return await interpreter.main(value)


# -- the public API ------------------------------------------------------------------


@final
class DistributedRun(Generic[_Out_co, _Err_co]):
    """A run started with :meth:`DistributedSaga.start` (or found by
    :meth:`DistributedSaga.handle`): its ``run_id`` (the workflow id), the
    Temporal ``handle``, and its typed result."""

    __slots__ = ("_converter", "_saga", "handle", "run_id")

    def __init__(
        self,
        saga: DistributedSaga[Any, _Out_co, _Err_co],
        client: Client,
        handle: WorkflowHandle[Any, RawValue],
    ) -> None:
        self._saga = saga
        self._converter = client.data_converter.payload_converter
        self.handle = handle
        self.run_id = handle.id

    async def result(self) -> Result[_Out_co, _Err_co]:
        """Wait for the run: its ``Result`` (a ``Failure`` decoded with the
        failing step's own error type), or :class:`RunFailed` /
        :class:`RunCancelled`."""
        try:
            raw = await self.handle.result()
        except WorkflowFailureError as exc:
            raise _client_error(self.run_id, exc) from exc
        decoded = self._saga._decode(self._converter, raw, self.run_id)
        return cast("Result[_Out_co, _Err_co]", decoded)

    async def cancel(self) -> None:
        """Cancel the run: no step starts after this, the steps in flight are
        asked to stop (a sync function, which cannot be interrupted, finishes
        and is compensated), every completed step is compensated, and the run
        ends ``CANCELED`` (:meth:`result` raises :class:`RunCancelled`). A
        run that already ended is left as it is."""
        await self.handle.cancel()

    def __repr__(self) -> str:
        return f"<DistributedRun {self.run_id!r} of {self._saga.name!r}>"


def _client_error(run_id: str, exc: WorkflowFailureError) -> Exception:
    cause = exc.cause
    if isinstance(cause, temporalio.exceptions.CancelledError):
        return RunCancelled(run_id)
    if isinstance(cause, ApplicationError) and cause.type == _RAISED:
        details = [*cause.details, "", ""]
        step, kind = str(details[0]), str(details[1])
        return RunFailed(run_id, step or None, kind, cause.message)
    kind = type(cause).__name__
    if isinstance(cause, ApplicationError) and cause.type:
        kind = cause.type
    message = getattr(cause, "message", str(cause))
    return RunFailed(run_id, None, kind, message)


@final
class DistributedSaga(Generic[_In_contra, _Out_co, _Err_co]):
    """A saga definition registered for Temporal (see :func:`distributed`).

    Client side: ``run`` starts a run and waits for its typed ``Result``;
    ``start`` returns a :class:`DistributedRun` at once; ``handle``,
    ``result`` and ``cancel`` find a run by its id. Worker side:
    ``activities()`` are what a ``Worker`` registers, with
    :class:`SagaWorkflow` (or use :func:`saga_worker`).

    >>> from returns.result import Result, Success
    >>> from typed_saga import step
    >>> def ship(order: str) -> Result[str, str]:
    ...     return Success(f"shipped {order}")
    >>> shipping = distributed(step("ship", ship), name="doctest ship")
    >>> shipping.name, shipping.definition.step_names
    ('doctest ship', ('ship',))
    """

    __slots__ = ("_registration", "definition", "fingerprint", "name")

    def __init__(self, registration: _Registration) -> None:
        self._registration = registration
        self.definition: Saga[Any, Any, Any] | AsyncSaga[Any, Any, Any] = (
            registration.definition
        )
        self.name = registration.name
        self.fingerprint = registration.fingerprint

    def activities(self) -> list[Callable[..., Awaitable[RawValue]]]:
        """Every step's action and compensation as Temporal activities, named
        ``"<saga>/<step>"`` and ``"<saga>/<step>/compensate"``."""
        return [made for _, made in self._registration.activities]

    async def start(
        self,
        client: Client,
        value: _In_contra,
        *,
        task_queue: str,
        run_id: str | None = None,
    ) -> DistributedRun[_Out_co, _Err_co]:
        """Start a run on ``value`` and return at once.

        ``run_id`` (default: a fresh one) is the Temporal workflow id: a run
        id already used — its run running or finished — gives that run, and
        starts nothing, whatever ``value`` is (so a retried request with the
        same id runs the saga once). A run id another saga used gives that
        saga's run, whose result this saga refuses (``ValueError``)."""
        run_id = _check_run_id(run_id)
        try:
            handle = await client.start_workflow(
                WORKFLOW_NAME,
                args=[self.name, self.fingerprint, value],
                id=run_id,
                task_queue=task_queue,
                result_type=RawValue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                memo={"saga": self.name, "fingerprint": self.fingerprint},
            )
        except temporalio.exceptions.WorkflowAlreadyStartedError:
            return self.handle(client, run_id)  # it ran already: that run
        return DistributedRun(self, client, handle)

    async def run(
        self,
        client: Client,
        value: _In_contra,
        *,
        task_queue: str,
        run_id: str | None = None,
    ) -> Result[_Out_co, _Err_co]:
        """Run the saga on ``value`` and wait for its ``Result``: a
        ``Failure`` is the failing step's own (equal to what it returned,
        decoded with its error type), after the completed steps were
        compensated. :class:`RunFailed` when a step raised (after its
        retries), :class:`RunCancelled` when the run was cancelled. A
        ``run_id`` already used gives that run's result (see :meth:`start`).
        """
        started = await self.start(client, value, task_queue=task_queue, run_id=run_id)
        return await started.result()

    def handle(self, client: Client, run_id: str) -> DistributedRun[_Out_co, _Err_co]:
        """The run ``run_id`` of this saga (from any client process)."""
        return DistributedRun(
            self, client, client.get_workflow_handle(run_id, result_type=RawValue)
        )

    async def result(self, client: Client, run_id: str) -> Result[_Out_co, _Err_co]:
        """Wait for the run ``run_id`` and return its ``Result`` (see :meth:`run`)."""
        return await self.handle(client, run_id).result()

    async def cancel(self, client: Client, run_id: str) -> None:
        """Cancel the run ``run_id``, compensating what it completed (see
        :meth:`DistributedRun.cancel`)."""
        await self.handle(client, run_id).cancel()

    def _decode(self, converter: Any, raw: RawValue, run_id: str) -> Result[Any, Any]:
        head = converter.from_payload(raw.payload, dict)
        reg = self._registration
        saga = head.get("saga", reg.name)  # absent from runs of an older version
        if saga != reg.name:
            raise ValueError(
                f"run {run_id!r} is a run of saga {saga!r}, not of {reg.name!r}: "
                "its result has that saga's types. A run id names one run of one "
                f"saga: ask {saga!r} for it, or give this run an id of its own"
            )
        if "ok" in head:
            return Success(
                converter.from_payload(raw.payload, _hint_type(reg.output_hint))["ok"]
            )
        step = str(head.get("step", ""))
        spec = reg.specs.get(step)
        hint = spec.result_hint if spec is not None else dict
        return Failure(converter.from_payload(raw.payload, _hint_type(hint))["err"])

    def __repr__(self) -> str:
        return f"<DistributedSaga {self.name!r} ({self.fingerprint})>"


def _check_run_id(run_id: object) -> str:
    if run_id is None:
        return str(uuid.uuid4())
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError(
            f"run_id must be a non-empty string or None (a fresh id), got {run_id!r}"
        )
    return run_id


@overload
def distributed(
    definition: Saga[_In, _Out, _Err],
    *,
    name: str,
    options: ActivityOptions = ...,
    steps: Mapping[str, ActivityOptions] = ...,
    on_compensation_failure: Policy = ...,
) -> DistributedSaga[_In, _Out, _Err]: ...
@overload
def distributed(
    definition: AsyncSaga[_In, _Out, _Err],
    *,
    name: str,
    options: ActivityOptions = ...,
    steps: Mapping[str, ActivityOptions] = ...,
    on_compensation_failure: Policy = ...,
) -> DistributedSaga[_In, _Out, _Err]: ...
def distributed(
    definition: Saga[_In, _Out, _Err] | AsyncSaga[_In, _Out, _Err],
    *,
    name: str,
    options: ActivityOptions = _DEFAULT_OPTIONS,
    steps: Mapping[str, ActivityOptions] | None = None,
    on_compensation_failure: Policy = "stop",
) -> DistributedSaga[_In, _Out, _Err]:
    """Register ``definition`` to run on Temporal as the saga ``name``; call
    it at import time in the worker's code and the client's.

    ``name`` identifies the saga across deploys (keep it stable); each
    definition is registered with its fingerprint
    (``engine.blueprint(definition).fingerprint``), which changes when a step
    is added, removed or renamed, or a body's code changes. A run records the
    fingerprint it started with and is only ever interpreted by that
    definition: register the old definition too (same name) until its runs
    have finished (see :class:`DefinitionNotRegistered`).

    ``options``: every step's :class:`ActivityOptions`; ``steps``: options of
    particular steps, by name. A step's :class:`~typed_saga.Retry` becomes
    Temporal's retry policy: ``attempts``, ``interval``, ``backoff`` and
    ``max_interval`` as they are, and only the exceptions in ``on`` are
    retried (any other is final at once, as in process). A step without one
    is not retried on an exception; a lost attempt (a worker that died, a
    timeout) is retried in both cases. A ``Failure`` is an outcome, recorded
    and never retried.

    The types cross the wire with the client's data converter: every action
    must be annotated (its input, and ``-> Result[Out, Err]``), and so must
    the saga's input and output; a missing one is a ``ValueError`` here.

    >>> from returns.result import Result, Success
    >>> from typed_saga import step
    >>> distributed(step("noop", lambda n: Success(n)), name="doctest noop")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    ValueError: saga 'doctest noop', step 'noop': the action `<lambda>` has no ...
    """
    given: object = definition
    if not isinstance(given, Saga | AsyncSaga):
        raise TypeError(
            "distributed() takes a Saga or an AsyncSaga (a chain or a @saga body), "
            f"got {type(definition).__name__}"
        )
    label: object = name
    if not isinstance(label, str) or not label.strip():
        raise ValueError(
            f"distributed() needs a non-empty name, stable across deploys: got {name!r}"
        )
    if not isinstance(options, ActivityOptions):
        raise TypeError(
            f"options= takes an ActivityOptions, got {type(options).__name__}"
        )
    if on_compensation_failure not in ("stop", "continue"):
        raise ValueError(
            "on_compensation_failure must be 'stop' or 'continue', got "
            f"{on_compensation_failure!r}"
        )
    registration = _Registration(
        definition, name, options, steps or {}, on_compensation_failure
    )
    key = (name, registration.fingerprint)
    known = _REGISTRY.get(key)
    if known is not None:
        if not known.same_as(registration):
            raise ValueError(
                f"saga {name!r} (definition {registration.fingerprint}) is already "
                "registered with other options: register it once, or give each its "
                "own name"
            )
        registration = known
    _REGISTRY[key] = registration
    return DistributedSaga(registration)


def saga_worker(
    client: Client,
    *,
    task_queue: str,
    sagas: Sequence[DistributedSaga[Any, Any, Any]],
    activities: Sequence[Callable[..., Any]] = (),
    workflows: Sequence[type] = (),
    **options: Any,
) -> Worker:
    """A Temporal ``Worker`` on ``task_queue`` running ``sagas``: their
    activities and :class:`SagaWorkflow` (plus your own ``activities`` and
    ``workflows``, and any other ``Worker`` option). Give it every
    definition whose runs may still be in flight, old ones included; use it
    as ``async with saga_worker(...):`` (or ``await worker.run()``).

    Heartbeats reach the server at most every 2 seconds
    (``max_heartbeat_throttle_interval``; Temporal's default throttle is
    most of the heartbeat timeout): a cancel reaches an async action that
    soon.

    Two sagas (or two definitions of one) whose steps of one name have
    different functions cannot share a worker: a worker has one
    implementation per activity name.
    """
    found: dict[str, Callable[..., Any]] = {}
    sources: dict[str, tuple[object, object]] = {}
    for saga in sagas:
        reg = saga._registration
        for spec in reg.specs.values():
            source = (spec.info.action, spec.info.compensate)
            seen = sources.setdefault(spec.activity, source)
            if seen != source:
                raise ValueError(
                    f"step {spec.info.name!r} of saga {reg.name!r} has different "
                    "functions in two of the definitions given to this worker; a "
                    "worker runs one function per activity name: give the step a "
                    "new name in the new definition"
                )
        for name, made in reg.activities:
            found.setdefault(name, made)
    options.setdefault("max_heartbeat_throttle_interval", _THROTTLE)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[SagaWorkflow, *workflows],
        activities=[*found.values(), *activities],
        **options,
    )
