"""Durable sagas on DBOS Transact: a run survives a crash of its process.

Install the extra (``pip install 'typed-saga[dbos]'``), keep your definitions
(chains and bodies, sync and async) and make each durable before
``DBOS.launch()``::

    provision = durable(provisioning_saga, name="provision")
    DBOS(config=dbos_config("app.sqlite"))  # or a postgresql:// URL
    DBOS.launch()                            # resumes every unfinished run
    result = provision.run(request, run_id="order-42")

Every action and every compensation is a checkpointed DBOS step named after
the saga step (its name in this run: ``"name #2"`` for a repeat). A run is a
DBOS workflow (its id is the run id) that replays its recorded steps when it
resumes, so after a crash it carries on where it stopped, forward or
unwinding, and nothing recorded runs twice. The step that was running when
the process died runs again: pass ``current_step().key`` to the service it
calls as an idempotency key. See ``docs/durable.md`` for the guarantees, the
costs and what to do when a definition changes.

>>> from returns.result import Success
>>> from typed_saga import step
>>> nothing = durable(step("noop", Success), name="doctest noop")
>>> nothing.workflow_name  # doctest: +ELLIPSIS
'typed-saga:doctest noop:...'
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import math
import os
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Final, Generic, TypeVar, cast, final, overload

import anyio
from returns.io import IOResult
from returns.result import Result, Success
from returns.unsafe import unsafe_perform_io

from typed_saga import AsyncSaga, Retry, Saga, StepContext, current_step
from typed_saga import engine as _engine
from typed_saga.engine import StepInfo, blueprint, running_step

try:
    from dbos import (
        DBOS,
        DBOSConfig,
        SetWorkflowID,
        StepOptions,
        WorkflowHandle,
        WorkflowHandleAsync,
        WorkflowStatus,
    )
    from dbos import error as dbos_error
except ImportError as missing:  # pragma: no cover - the extra is installed in tests
    raise ImportError(
        "typed_saga.dbos needs DBOS Transact, which is not installed: "
        "pip install 'typed-saga[dbos]'"
    ) from missing

__all__ = (
    "PREFIX",
    "DurableRun",
    "DurableSaga",
    "ReplayDiverged",
    "RunCancelled",
    "StaleRun",
    "cancel",
    "cancel_async",
    "dbos_config",
    "durable",
    "stale_runs",
)

PREFIX: Final = "typed-saga"
"""Every workflow this module registers is named ``typed-saga:<name>:<fingerprint>``."""

_CANCEL_WORKFLOW: Final = f"{PREFIX}:cancel"
_POLL: Final = 0.1  # seconds between reads, waiting for a run of another process
_ACTIVE: Final = ("PENDING", "ENQUEUED")

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Err = TypeVar("_Err")
_In_contra = TypeVar("_In_contra", contravariant=True)
_Out_co = TypeVar("_Out_co", covariant=True)
_Err_co = TypeVar("_Err_co", covariant=True)
_T = TypeVar("_T")

logger = logging.getLogger("typed_saga")


# -- errors ----------------------------------------------------------------------


class RunCancelled(Exception):
    """What ``run`` / ``result`` raise for a run that :func:`cancel` stopped:
    the steps it had completed were compensated (see the note on the
    exception for what happened to each).

    >>> RunCancelled("order-42")
    RunCancelled('order-42')
    """

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id

    def __str__(self) -> str:
        return (
            f"run {self.run_id!r} was cancelled; the steps it had completed were "
            "compensated"
        )


class ReplayDiverged(Exception):
    """A run resumed (after a crash) and its definition now calls other steps
    than the ones it recorded: a body that is not deterministic glue. Nothing
    more is run or compensated for that run; its status becomes ``ERROR``.

    >>> print(ReplayDiverged("book", "r1", 3, "reserve hotel", "charge card"))
    ... # doctest: +ELLIPSIS
    durable saga 'book', run 'r1': at its DBOS step 3 the run recorded 'reserve...
    """

    def __init__(
        self, saga: str, run_id: str, step_id: int, recorded: str, expected: str
    ) -> None:
        super().__init__(saga, run_id, step_id, recorded, expected)
        self.saga = saga
        self.run_id = run_id
        self.step_id = step_id
        self.recorded = recorded
        self.expected = expected

    def __str__(self) -> str:
        return (
            f"durable saga {self.saga!r}, run {self.run_id!r}: at its DBOS step "
            f"{self.step_id} the run recorded {self.recorded!r}, but the definition "
            f"now calls {self.expected!r} there. A body is re-driven from the start "
            "with the recorded outputs when a run resumes, so it must be "
            "deterministic glue: no clock, randomness, I/O or global state between "
            "steps (put those in a step). Nothing more was run or compensated for "
            "this run; its completed steps are in DBOS.list_workflow_steps(run_id)."
        )


# -- what a run's steps record ---------------------------------------------------


@final
class _CancelSeen:
    """What an action step records when, after it ran, it found a cancel
    request: its result, and that the run must stop. The step counts as
    completed (it is compensated: its effect may have happened, in this
    attempt or in one a crash cut short), the next action does not run, and a
    replay stops at the same place."""

    __slots__ = ("result",)

    def __init__(self, result: object) -> None:
        self.result = result

    def __reduce__(self) -> tuple[object, ...]:
        return (_CancelSeen, (self.result,))


def _marker_id(run_id: str) -> str:
    return f"{run_id}::cancel"


_cancel_marker: Callable[[], bool] | None = None


def _register_cancel_marker() -> Callable[[], bool]:
    """The workflow whose existence under ``<run id>::cancel`` asks that run
    to stop (registered once per process, before launch, with the sagas)."""
    global _cancel_marker  # noqa: PLW0603 - one registration per process
    if _cancel_marker is None:

        def cancel_requested() -> bool:
            return True

        _cancel_marker = DBOS.workflow(name=_CANCEL_WORKFLOW)(cancel_requested)
    return _cancel_marker


class _CancelRequests:
    """Which runs in flight in this process have a cancel request.

    Checking the database in every action would cost a read per step (about
    a third more per step on SQLite): one read instead covers every run in
    flight here, at most every ``interval`` seconds. A cancel made in this
    process is seen at once; one from another process by the first action
    that finishes at least ``interval`` seconds after it.
    """

    interval: Final = 0.1

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: Counter[str] = Counter()
        self._requested: set[str] = set()
        self._read_at = -math.inf

    def enter(self, run_id: str) -> None:
        with self._lock:
            self._active[run_id] += 1

    def leave(self, run_id: str) -> None:
        with self._lock:
            self._active[run_id] -= 1
            if self._active[run_id] <= 0:
                del self._active[run_id]
                self._requested.discard(run_id)

    def add(self, run_id: str) -> None:
        """A cancel made in this process (its run may not have started here
        yet: kept until the run, if it runs here, ends)."""
        with self._lock:
            self._requested.add(run_id)

    def stale(self) -> bool:
        return time.monotonic() - self._read_at > self.interval

    def read(self) -> None:
        """One read for every run in flight here (a plain read: this runs
        inside a step, never as a checkpoint of its own)."""
        with self._lock:
            markers = [_marker_id(run_id) for run_id in self._active]
            self._read_at = time.monotonic()
        found = DBOS.list_workflows(
            workflow_ids=markers, load_input=False, load_output=False
        )
        with self._lock:
            self._requested.update(
                status.workflow_id.removesuffix("::cancel") for status in found
            )

    def requested(self, run_id: str) -> bool:
        if self.stale():
            self.read()
        return run_id in self._requested

    async def requested_async(self, run_id: str) -> bool:
        if self.stale():
            await asyncio.to_thread(self.read)
        return run_id in self._requested


_CANCELS: Final = _CancelRequests()


def _attempt() -> int:
    status = DBOS.step_status
    if status is None or status.current_attempt is None:
        return 1
    return status.current_attempt + 1


def _step_name(ctx: StepContext) -> str:
    """The DBOS step's name: the saga step's name in this run, where it sits
    (``parallel`` branches), and ``/compensate`` for its compensation — the
    idempotency key without the run id."""
    return ctx.key[len(ctx.run_id) + 1 :]


def _options(name: str, policy: Retry | None, *, asynchronous: bool) -> StepOptions:
    """DBOS step options for one step: its name, and its ``Retry`` policy as
    DBOS step retries (the waits, capped at ``max_interval``, are taken in
    ``should_retry``, as DBOS has no cap of its own)."""
    if policy is None or policy.attempts == 1:
        return {"name": name}
    waits = policy.waits()
    kinds = policy.on
    seen = [0]

    def retry_sync(error: BaseException) -> bool:
        if not isinstance(error, kinds):
            return False
        index = seen[0]
        seen[0] += 1
        if index < len(waits):
            time.sleep(waits[index])
        return True

    async def retry_async(error: BaseException) -> bool:
        if not isinstance(error, kinds):
            return False
        index = seen[0]
        seen[0] += 1
        if index < len(waits):
            await anyio.sleep(waits[index])
        return True

    return {
        "name": name,
        "retries_allowed": True,
        "max_attempts": policy.attempts,
        "interval_seconds": 0.0,
        "backoff_rate": 1.0,
        "should_retry": retry_async if asynchronous else retry_sync,
    }


def _awaitable_in_sync_saga(name: str, returned: object) -> TypeError:
    if inspect.iscoroutine(returned):
        returned.close()
    return TypeError(
        f"step {name!r} returned an awaitable, but this is a synchronous Saga: "
        "declare the step async (`async def`, or a `FutureResult` return "
        "annotation) so that the definition is an AsyncSaga"
    )


# -- one run ---------------------------------------------------------------------


class _Run:
    """One execution of a durable run (a workflow function call): how its
    actions and compensations become DBOS steps, and what it has seen."""

    __slots__ = ("cancelled", "diverged", "interrupted", "lock", "run_id", "saga")

    def __init__(self, saga: str, run_id: str) -> None:
        self.saga = saga
        self.run_id = run_id
        self.cancelled = False
        self.diverged: ReplayDiverged | None = None
        self.interrupted: BaseException | None = None
        self.lock: asyncio.Lock | None = None

    # The fold calls ``invoke`` for every action and ``undo`` for every
    # compensation, in the fold's own context: current_step() is that step.

    def invoke(self, info: StepInfo, value: object) -> object:
        self.refuse_after_stop()
        if self.cancelled:
            raise RunCancelled(self.run_id)
        ctx = current_step()
        name = _step_name(ctx)
        try:
            out = DBOS.run_step(
                _options(name, info.retry, asynchronous=False),
                self.action_step,
                info,
                ctx,
                value,
            )
        except BaseException as exc:
            raise self.translate(exc) from None
        return self.seen(out)

    def undo(self, info: StepInfo, output: object) -> object:
        self.refuse_after_stop()
        ctx = current_step()
        name = _step_name(ctx)
        try:
            return DBOS.run_step(
                _options(name, info.retry, asynchronous=False),
                self.compensation_step,
                info,
                ctx,
                output,
            )
        except BaseException as exc:
            raise self.translate(exc) from None

    def action_step(self, info: StepInfo, ctx: StepContext, value: object) -> object:
        with running_step(ctx, attempt=_attempt()):
            result = info.action(value)
        if inspect.isawaitable(result):
            raise _awaitable_in_sync_saga(info.name, result)
        if isinstance(result, Success) and _CANCELS.requested(self.run_id):
            return _CancelSeen(result)
        return result

    def compensation_step(
        self, info: StepInfo, ctx: StepContext, output: object
    ) -> object:
        assert info.compensate is not None  # undo is only called for those
        with running_step(ctx, attempt=_attempt()):
            result = info.compensate(output)
        if inspect.isawaitable(result):
            raise _awaitable_in_sync_saga(info.name, result)
        return result

    # -- async definitions --------------------------------------------------
    #
    # A ``parallel`` group runs its branches in concurrent tasks, but DBOS
    # numbers a workflow's steps in the order they start. So the steps of one
    # run take turns (``lock``, first come first served): at most one is in
    # flight, every step starts in the same order when the run is replayed,
    # and a branch that failed has cancelled its siblings before any of them
    # can start another step.

    async def invoke_async(self, info: StepInfo, value: object) -> object:
        self.refuse_after_stop()
        if self.cancelled:
            raise RunCancelled(self.run_id)
        ctx = current_step()
        name = _step_name(ctx)
        out = await self.one_at_a_time(
            lambda: DBOS.run_step_async(
                _options(name, info.retry, asynchronous=True),
                self.action_step_async,
                info,
                ctx,
                value,
            )
        )
        return self.seen(out)

    async def undo_async(self, info: StepInfo, output: object) -> object:
        self.refuse_after_stop()
        ctx = current_step()
        name = _step_name(ctx)
        return await self.one_at_a_time(
            lambda: DBOS.run_step_async(
                _options(name, info.retry, asynchronous=True),
                self.compensation_step_async,
                info,
                ctx,
                output,
            )
        )

    async def one_at_a_time(self, start: Callable[[], Awaitable[_T]]) -> _T:
        lock = self.lock
        if lock is None:
            lock = self.lock = asyncio.Lock()
        await lock.acquire()
        try:
            # a sibling branch that failed while we queued has cancelled us:
            # that cancellation lands here, before the step starts
            await anyio.lowlevel.checkpoint()
            with anyio.CancelScope(shield=True):  # a started step finishes
                try:
                    return await start()
                except BaseException as exc:
                    raise self.translate(exc) from None
            raise AssertionError("unreachable: a shielded scope absorbs nothing")
        finally:
            lock.release()

    async def action_step_async(
        self, info: StepInfo, ctx: StepContext, value: object
    ) -> object:
        with running_step(ctx, attempt=_attempt()):
            result = info.action(value)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, IOResult):  # a FutureResult's outcome
            result = unsafe_perform_io(result)  # type: ignore[arg-type]
        if isinstance(result, Success) and await _CANCELS.requested_async(self.run_id):
            return _CancelSeen(result)
        return result

    async def compensation_step_async(
        self, info: StepInfo, ctx: StepContext, output: object
    ) -> object:
        assert info.compensate is not None
        with running_step(ctx, attempt=_attempt()):
            result = info.compensate(output)
        if inspect.isawaitable(result):
            result = await result
        return result

    # -- what comes out of a step ------------------------------------------

    def seen(self, out: object) -> object:
        """An action's recorded outcome; a cancel request it found stops the
        run at the next action (this one is completed, so compensated)."""
        if isinstance(out, _CancelSeen):
            self.cancelled = True
            return out.result
        return out

    def refuse_after_stop(self) -> None:
        """After a divergence or an interruption nothing more runs: the
        fold's unwinding ends at the first compensation it asks for."""
        if self.interrupted is not None:
            raise self.interrupted
        if self.diverged is not None:
            raise self.diverged

    def translate(self, exc: BaseException) -> BaseException:
        """What the fold sees of a step that did not return: the step's own
        last exception after DBOS's retries, a clear error for a replay that
        diverged; a ``KeyboardInterrupt``, a cancellation or DBOS's own
        ``cancel_workflow`` stops the run here, as a crash would (nothing is
        compensated now; the run stays pending and resumes at the next
        launch, or stays stopped after ``DBOS.cancel_workflow``)."""
        if isinstance(exc, dbos_error.DBOSMaxStepRetriesExceeded) and exc.errors:
            last: BaseException = exc.errors[-1]
            return last
        if isinstance(exc, dbos_error.DBOSUnexpectedStepError):
            _, step_id, expected, recorded = exc.inputs
            self.diverged = ReplayDiverged(
                self.saga, self.run_id, step_id, recorded, expected
            )
            return self.diverged
        if not isinstance(exc, Exception):
            self.interrupted = exc
        return exc


# -- the public API ----------------------------------------------------------------


@final
@dataclasses.dataclass(frozen=True, slots=True)
class StaleRun:
    """An unfinished run that this process will not resume: it was started by
    another version of the saga's definition (``fingerprint``) or of the
    application (``application_version``). :meth:`advice` says what to do.

    >>> stale = StaleRun("r1", "book", "0123456789abcdef", "1", "PENDING",
    ...                  "fedcba9876543210", "1")
    >>> print(stale.advice())  # doctest: +ELLIPSIS
    run 'r1' of durable saga 'book' (PENDING) was started by another definition...
    """

    run_id: str
    saga: str
    fingerprint: str
    application_version: str | None
    status: str
    current_fingerprint: str | None
    current_application_version: str

    def advice(self) -> str:
        """What this run is waiting for, and the two ways out."""
        if self.fingerprint != self.current_fingerprint:
            why = (
                f"was started by another definition (fingerprint {self.fingerprint}; "
                f"this process has {self.current_fingerprint or 'none'})"
            )
        else:
            why = (
                f"was started by application version {self.application_version!r} "
                f"(this process is {self.current_application_version!r})"
            )
        return (
            f"run {self.run_id!r} of durable saga {self.saga!r} ({self.status}) "
            f"{why}, so it is not resumed here. Either run the code that started "
            "it (same definition and application_version) until it finishes, or "
            f"cancel it with typed_saga.dbos.cancel({self.run_id!r}) and then run "
            "that code: it compensates instead of going on. "
            f"DBOS.cancel_workflow({self.run_id!r}) stops it for good without "
            "compensating (its completed steps: DBOS.list_workflow_steps)."
        )


def stale_runs(saga: str | None = None) -> tuple[StaleRun, ...]:
    """The unfinished runs of durable sagas (of ``saga`` only, if given) that
    this process will not resume: started by another definition or another
    ``application_version``. Call it after ``DBOS.launch()``; each durable
    saga also logs a WARNING for its own the first time it runs.
    """
    found: list[StaleRun] = []
    version = DBOS.application_version
    for status in DBOS.list_workflows(
        status=list(_ACTIVE), load_input=False, load_output=False
    ):
        parsed = _parse(status.name)
        if parsed is None or (saga is not None and parsed[0] != saga):
            continue
        name, fingerprint = parsed
        registered = _REGISTERED.get(name)
        current = registered.fingerprint if registered is not None else None
        if fingerprint == current and status.app_version == version:
            continue
        found.append(
            StaleRun(
                status.workflow_id,
                name,
                fingerprint,
                status.app_version,
                status.status,
                current,
                version,
            )
        )
    return tuple(found)


def _parse(workflow_name: str) -> tuple[str, str] | None:
    prefix = f"{PREFIX}:"
    if not workflow_name.startswith(prefix) or workflow_name == _CANCEL_WORKFLOW:
        return None
    name, sep, fingerprint = workflow_name[len(prefix) :].rpartition(":")
    return (name, fingerprint) if sep else None


@final
class DurableRun(Generic[_Out_co, _Err_co]):
    """A run started with :meth:`DurableSaga.start`: its ``run_id``, and its
    result when it is done (from any process: see :meth:`DurableSaga.result`)."""

    __slots__ = ("_handle", "_saga", "run_id")

    def __init__(
        self,
        saga: DurableSaga[Any, _Out_co, _Err_co],
        run_id: str,
        handle: WorkflowHandle[Any],
    ) -> None:
        self._saga = saga
        self.run_id = run_id
        self._handle = handle

    def result(self) -> Result[_Out_co, _Err_co]:
        """Wait for the run and return its ``Result`` (or raise what it raised)."""
        return cast(
            "Result[_Out_co, _Err_co]",
            self._handle.get_result(polling_interval_sec=_POLL),
        )

    async def result_async(self) -> Result[_Out_co, _Err_co]:
        """:meth:`result` for async code."""
        return await asyncio.to_thread(self.result)

    def __repr__(self) -> str:
        return f"<DurableRun {self.run_id!r} of {self._saga.name!r}>"


_REGISTERED: dict[str, DurableSaga[Any, Any, Any]] = {}


@final
class DurableSaga(Generic[_In_contra, _Out_co, _Err_co]):
    """A saga definition registered as a DBOS workflow (see :func:`durable`).

    ``run`` blocks until the run is done; ``run_async`` is its twin for async
    code; ``start`` returns at once with a :class:`DurableRun`; ``result``
    fetches a run's result by id, from any process on the same database;
    ``cancel`` stops a run and compensates what it completed.

    >>> from returns.result import Success
    >>> from typed_saga import step
    >>> saga = durable(step("ping", Success), name="doctest ping")
    >>> saga  # doctest: +ELLIPSIS
    <DurableSaga 'typed-saga:doctest ping:...'>
    >>> saga.name, saga.definition.step_names
    ('doctest ping', ('ping',))
    """

    __slots__ = ("_checked", "_workflow", "definition", "fingerprint", "name")

    def __init__(
        self,
        definition: Saga[_In_contra, _Out_co, _Err_co]
        | AsyncSaga[_In_contra, _Out_co, _Err_co],
        name: str,
        fingerprint: str,
        workflow: Callable[[Any], Any],
    ) -> None:
        self.definition = definition
        self.name = name
        self.fingerprint = fingerprint
        self._workflow = workflow
        self._checked = False

    @property
    def workflow_name(self) -> str:
        """The DBOS workflow's name: ``typed-saga:<name>:<fingerprint>``."""
        return f"{PREFIX}:{self.name}:{self.fingerprint}"

    def run(
        self, value: _In_contra, *, run_id: str | None = None
    ) -> Result[_Out_co, _Err_co]:
        """Run the saga durably on ``value`` and wait for its ``Result``.

        ``run_id`` (default: a fresh one) is the DBOS workflow id: a run id
        that already ran returns its recorded result (or raises its recorded
        exception) and runs nothing, whatever ``value`` is. An action that
        raises after its retries is unwound, then the exception propagates.
        """
        return self.start(value, run_id=run_id).result()

    async def run_async(
        self, value: _In_contra, *, run_id: str | None = None
    ) -> Result[_Out_co, _Err_co]:
        """:meth:`run` for async code. Cancelling the awaiting task stops the
        waiting, not the run: use :func:`cancel_async` for that."""
        started = await self.start_async(value, run_id=run_id)
        return await started.result_async()

    def start(
        self, value: _In_contra, *, run_id: str | None = None
    ) -> DurableRun[_Out_co, _Err_co]:
        """Start a run and return at once; ``.result()`` waits for it."""
        run_id = self._prepare(run_id)
        try:
            with SetWorkflowID(run_id):
                handle = DBOS.start_workflow(self._workflow, value)
        except dbos_error.DBOSConflictingWorkflowError as exc:
            raise self._conflict(run_id) from exc
        return DurableRun(self, run_id, handle)

    async def start_async(
        self, value: _In_contra, *, run_id: str | None = None
    ) -> DurableRun[_Out_co, _Err_co]:
        """:meth:`start` for async code."""
        run_id = self._prepare(run_id)
        try:
            # on DBOS's own event loop (as start() does), not the caller's: a
            # run goes on when the caller's loop ends, and stops only when the
            # process does (then it resumes at the next launch)
            handle = await asyncio.to_thread(_start_sync, self, run_id, value)
        except dbos_error.DBOSConflictingWorkflowError as exc:
            raise self._conflict(run_id) from exc
        return DurableRun(self, run_id, handle)

    def result(self, run_id: str) -> Result[_Out_co, _Err_co]:
        """Wait for the run ``run_id`` (started here or by another process on
        the same database) and return its ``Result``, or raise what it raised;
        ``LookupError`` if there is no such run, ``ValueError`` if it is a run
        of another saga."""
        self._check_id(run_id)
        self._check_owner(run_id, DBOS.get_workflow_status(run_id))
        handle: WorkflowHandle[Any] = DBOS.retrieve_workflow(run_id)
        return cast(
            "Result[_Out_co, _Err_co]", handle.get_result(polling_interval_sec=_POLL)
        )

    async def result_async(self, run_id: str) -> Result[_Out_co, _Err_co]:
        """:meth:`result` for async code."""
        self._check_id(run_id)
        self._check_owner(run_id, await DBOS.get_workflow_status_async(run_id))
        handle: WorkflowHandleAsync[Any] = await DBOS.retrieve_workflow_async(run_id)
        return cast(
            "Result[_Out_co, _Err_co]",
            await handle.get_result(polling_interval_sec=_POLL),
        )

    def cancel(self, run_id: str) -> bool:
        """Cancel a run of this saga, compensating what it completed (see
        :func:`cancel`)."""
        return cancel(run_id)

    async def cancel_async(self, run_id: str) -> bool:
        """:meth:`cancel` for async code."""
        return await cancel_async(run_id)

    def stale_runs(self) -> tuple[StaleRun, ...]:
        """This saga's unfinished runs that this process will not resume
        (see :func:`stale_runs`)."""
        return stale_runs(self.name)

    def __repr__(self) -> str:
        return f"<DurableSaga {self.workflow_name!r}>"

    # -- helpers -----------------------------------------------------------------

    def _prepare(self, run_id: str | None) -> str:
        if run_id is None:
            run_id = str(uuid.uuid4())
        self._check_id(run_id)
        if not self._checked:
            self._checked = True
            self._warn_stale()
        return run_id

    def _check_id(self, run_id: object) -> None:
        if not isinstance(run_id, str) or not run_id.strip():
            raise ValueError(
                f"run_id must be a non-empty string or None (a fresh id), got "
                f"{run_id!r}"
            )
        if run_id.endswith("::cancel"):
            raise ValueError(
                f"run_id {run_id!r} ends with '::cancel', which typed_saga.dbos "
                "keeps for cancel requests: choose another"
            )

    def _warn_stale(self) -> None:
        if DBOS.workflow_id is not None:
            return  # inside a workflow, a read would be a checkpoint of its own
        try:
            found = self.stale_runs()
        except Exception:  # a check, never a reason to fail a run
            logger.debug("could not list stale durable runs", exc_info=True)
            return
        for stale in found:
            logger.warning("%s", stale.advice())

    def _check_owner(self, run_id: str, status: WorkflowStatus | None) -> None:
        """Refuse to wait for a run that is not one of this saga's (of this
        definition or an earlier one): its result has another saga's types."""
        if status is None:
            raise LookupError(f"no durable run {run_id!r} in this DBOS database")
        parsed = _parse(status.name)
        if parsed is None or parsed[0] != self.name:
            raise ValueError(
                f"run {run_id!r} is a run of {status.name!r}, not of saga "
                f"{self.name!r}: its result has that workflow's types. A run id "
                "names one run of one saga: ask that saga for it"
            )

    def _conflict(self, run_id: str) -> ValueError:
        status = DBOS.get_workflow_status(run_id)
        other = status.name if status is not None else "another workflow"
        return ValueError(
            f"run id {run_id!r} is already the id of {other!r}, not of "
            f"{self.workflow_name!r}: a run id names one run of one saga (and "
            "definition); choose another id"
        )


def _start_sync(
    saga: DurableSaga[Any, Any, Any], run_id: str, value: object
) -> WorkflowHandle[Any]:
    with SetWorkflowID(run_id):
        return DBOS.start_workflow(saga._workflow, value)


@overload
def durable(
    definition: Saga[_In, _Out, _Err], *, name: str
) -> DurableSaga[_In, _Out, _Err]: ...
@overload
def durable(
    definition: AsyncSaga[_In, _Out, _Err], *, name: str
) -> DurableSaga[_In, _Out, _Err]: ...
def durable(
    definition: Saga[_In, _Out, _Err] | AsyncSaga[_In, _Out, _Err], *, name: str
) -> DurableSaga[_In, _Out, _Err]:
    """Register ``definition`` as the DBOS workflow
    ``typed-saga:<name>:<fingerprint>``; call it before ``DBOS.launch()``.

    ``name`` identifies the saga across deploys (keep it stable); the
    fingerprint (``engine.blueprint(definition).fingerprint``) changes when a
    step is added, removed or renamed, or a body's code changes, so a run
    started by one definition is never resumed by another: see
    :func:`stale_runs`.

    >>> from returns.result import Success
    >>> from typed_saga import step
    >>> reserve = step("reserve", Success, compensate=lambda _: Success(None))
    >>> one = durable(reserve, name="doctest reserve")
    >>> two = durable(reserve.then(step("charge", Success)), name="doctest order")
    >>> one.fingerprint != two.fingerprint, len(one.fingerprint)
    (True, 16)
    >>> durable(reserve.then(step("ship", Success)), name="doctest reserve")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    ValueError: durable saga 'doctest reserve' is already registered with another...
    """
    given: object = definition
    if not isinstance(given, Saga | AsyncSaga):
        raise TypeError(
            "durable() takes a Saga or an AsyncSaga (a chain or a @saga body), "
            f"got {type(definition).__name__}"
        )
    label: object = name
    if not isinstance(label, str) or not label.strip():
        raise ValueError(
            f"durable() needs a non-empty name, stable across deploys: got {name!r}"
        )
    fingerprint = blueprint(definition).fingerprint
    known = _REGISTERED.get(name)
    if known is not None and known.fingerprint != fingerprint:
        raise ValueError(
            f"durable saga {name!r} is already registered with another definition "
            f"(fingerprint {known.fingerprint}, now {fingerprint}): give each "
            "definition its own name"
        )
    _register_cancel_marker()
    workflow_name = f"{PREFIX}:{name}:{fingerprint}"
    if isinstance(definition, AsyncSaga):
        workflow: Callable[[Any], Any] = _async_workflow(definition, name)
    else:
        workflow = _sync_workflow(definition, name)
    registered = DBOS.workflow(name=workflow_name)(workflow)
    saga = DurableSaga(definition, name, fingerprint, registered)
    _REGISTERED[name] = saga
    return saga


def _sync_workflow(
    definition: Saga[Any, Any, Any], name: str
) -> Callable[[object], Result[Any, Any]]:
    def saga_workflow(value: object) -> Result[Any, Any]:  # fresh per registration
        run_id = DBOS.workflow_id
        assert run_id is not None
        run = _Run(name, run_id)
        _CANCELS.enter(run_id)
        try:
            result = _engine.run(
                definition, value, invoke=run.invoke, undo=run.undo, run_id=run_id
            )
        finally:
            _CANCELS.leave(run_id)
        if run.diverged is not None:
            raise run.diverged
        return result

    return saga_workflow


def _async_workflow(
    definition: AsyncSaga[Any, Any, Any], name: str
) -> Callable[[object], Coroutine[Any, Any, Result[Any, Any]]]:
    async def saga_workflow(value: object) -> Result[Any, Any]:
        run_id = DBOS.workflow_id
        assert run_id is not None
        run = _Run(name, run_id)
        _CANCELS.enter(run_id)
        try:
            result = await _engine.run_async(
                definition,
                value,
                invoke=run.invoke_async,
                undo=run.undo_async,
                run_id=run_id,
            )
        finally:
            _CANCELS.leave(run_id)
        if run.diverged is not None:
            raise run.diverged
        return result

    return saga_workflow


def cancel(run_id: str) -> bool:
    """Ask the durable run ``run_id`` to stop and compensate what it completed.

    The request is durable (any process may make it; it survives crashes) and
    idempotent. It takes effect when the run's current action finishes: that
    action records that it saw the request, no further action runs, the
    completed steps (that one included) are compensated, and the run ends
    with :class:`RunCancelled`. A run whose last action had already finished
    completes as usual. A process reads the requests for its runs at most
    every 0.1 s: a cancel from another process is seen by the first action
    that finishes at least 0.1 s after it. Returns whether the run was still
    unfinished.
    ``LookupError`` if there is no such run.
    """
    status = DBOS.get_workflow_status(run_id)
    if status is None:
        raise LookupError(f"no durable run {run_id!r} in this DBOS database")
    if _parse(status.name) is None:
        raise ValueError(
            f"{run_id!r} is a run of {status.name!r}, not of a durable saga; "
            "use DBOS.cancel_workflow for other workflows"
        )
    marker = _register_cancel_marker()
    with SetWorkflowID(_marker_id(run_id)):
        marker()
    _CANCELS.add(run_id)
    return status.status in _ACTIVE


async def cancel_async(run_id: str) -> bool:
    """:func:`cancel` for async code."""
    return await asyncio.to_thread(cancel, run_id)


def dbos_config(
    database: str | os.PathLike[str],
    *,
    name: str = "typed-saga",
    application_version: str = "1",
    wal: bool | None = None,
) -> DBOSConfig:
    """A DBOS configuration for a system database: a SQLite file path (the
    embedded default) or a ``postgresql://`` URL (many processes, many
    machines).

    ``application_version`` is set explicitly (DBOS would otherwise hash the
    source of the registered workflows, and a crashed run of another hash is
    never resumed): keep it stable across deploys, and change it only to keep
    a new deploy from resuming older runs.

    For a SQLite file, ``wal=None`` switches the file to write-ahead logging
    where that is safe (a local file system; WAL needs shared memory, so not
    NFS or SMB), which costs about a third less per step; ``wal=False`` keeps
    SQLite's rollback journal. The file (and its directory) is created.

    >>> config = dbos_config("postgresql://app@db.internal:5432/app_dbos")
    >>> config["system_database_url"], config["application_version"]
    ('postgresql://app@db.internal:5432/app_dbos', '1')
    """
    text = os.fspath(database)
    config: DBOSConfig = {
        "name": name,
        "application_version": application_version,
    }
    if text.startswith(("postgresql:", "postgres:", "postgresql+")):
        if wal:
            raise ValueError("wal=True is a SQLite setting; this is a Postgres URL")
        config["system_database_url"] = text
        return config
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        raise ValueError(
            f"dbos_config() takes a SQLite file path or a postgresql:// URL, got "
            f"{text!r}"
        )
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if wal is None:
        wal = _local_file_system(path)
    if wal:
        _enable_wal(path)
    config["system_database_url"] = f"sqlite:///{path}"
    return config


_NETWORK_FILE_SYSTEMS: Final = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs"}
)


def _local_file_system(path: Path) -> bool:
    """Whether ``path`` is on a local file system (Linux: ``/proc/mounts``);
    elsewhere, assumed local."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return True
    best, kind = "", ""
    target = str(path.parent)
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return not (kind in _NETWORK_FILE_SYSTEMS or kind.startswith("fuse.sshfs"))


def _enable_wal(path: Path) -> None:
    """WAL is a property of the database file: set once, before DBOS opens it."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()
