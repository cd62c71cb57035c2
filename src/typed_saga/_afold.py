"""The asynchronous runner: the same fold as ``_fold``, with ``await``.

``forward`` runs the actions in order (awaiting the async ones, running sync
ones inline); ``unwind`` compensates the completed ones in reverse. Every
unwinding runs inside a shielded cancel scope, so a cancellation — the one
that interrupted a step, or a second one — cannot cut it short; once the
unwinding is done the cancellation goes on (it is never lost).

A ``parallel`` group is one node: its branches run forward in a task group;
when one fails the others are cancelled, every branch is unwound (concurrently,
each in reverse) and the first failure is the group's result. A body is
driven as in ``_stream``: each call it yields is run by ``forward`` and its
output sent back in.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine, Sequence
from time import perf_counter
from types import CoroutineType
from typing import Final, Protocol, TypeAlias

import anyio
from returns.io import IOResult
from returns.result import Failure, Result, Success

from typed_saga._call import AsyncStepCall
from typed_saga._events import describe_error, is_cancellation, log_error
from typed_saga._fold import (
    bad_return,
    compensation_error,
    compensation_failed,
    leave,
)
from typed_saga._node import BodyNode, Group, Leaf, Node, Policy, Segment, Step
from typed_saga._report import StepOutcome
from typed_saga._stream import bad_yield, close
from typed_saga._trace import (
    COMPENSATED,
    CURRENT,
    Observer,
    Trace,
    add_note,
    attach_report,
    awaitable_after_await,
    failure_value,
    note_text,
    runner_loop,
)


async def run_nodes(
    segs: tuple[Segment, ...],
    value: object,
    policy: Policy,
    obs: Observer,
    *,
    timeout: float | None,
    trace: Trace,
    runtime: Runtime | None = None,
) -> Result[object, object]:
    """Run a saga; same contract as ``_fold.run_nodes``, plus cancellation:
    a cancelled run unwinds (shielded) and the cancellation propagates.
    ``runtime``: how branches run together and the unwinding is shielded
    (anyio's, on asyncio and trio, unless an engine brings its own)."""
    run = _Run(policy, obs, timeout, trace, runtime or ANYIO)
    token = CURRENT.set(trace)
    try:
        try:
            if len(segs) == 1 and type(segs[0]) is tuple:
                result = await run.forward(segs[0], value, trace)
            else:
                result = await run.drive(segs, value, trace)
            if type(result) is Success or isinstance(result, Success):
                obs.succeeded(trace)
                return result
            if not isinstance(result, Failure):
                raise bad_return(trace.label(len(trace.outputs)), result)
        except BaseException as exc:
            await run.fail(trace, exc)
            add_note(exc, note_text(trace, policy))
            attach_report(exc, trace, obs.saga)
            trace.release()
            raise
        await run.fail(trace, result)
        return result
    finally:
        CURRENT.reset(token)


class _Run:
    """One run's settings, so the recursive parts (groups, bodies) share them."""

    __slots__ = ("obs", "policy", "root", "runtime", "timeout")

    def __init__(
        self,
        policy: Policy,
        obs: Observer,
        timeout: float | None,
        root: Trace,
        runtime: Runtime,
    ) -> None:
        self.policy = policy
        self.obs = obs
        self.timeout = timeout
        self.root = root
        self.runtime = runtime

    # -- forward -------------------------------------------------------------

    async def drive(
        self, segs: tuple[Segment, ...], state: object, trace: Trace
    ) -> object:
        """Run ``segs`` in order; the last ``Success`` or the first non-success."""
        # never returned: there is always a segment (segments() makes one at least)
        result: object = None  # pragma: no mutate
        for seg in segs:
            if isinstance(seg, BodyNode):
                result = await self.body(seg, state, trace)
            else:
                mapper = trace.run.mapper
                nodes = seg if mapper is None else mapper(seg)
                if isinstance(trace.nodes, list):
                    trace.nodes.extend(nodes)
                result = await self.forward(nodes, state, trace)
            if type(result) is not Success and not isinstance(result, Success):
                return result
            state = result._inner_value
        return result

    @runner_loop
    async def forward(
        self, nodes: tuple[Leaf, ...], state: object, trace: Trace
    ) -> object:
        """Call each action with the previous output, recording each output.

        Returns the last ``Success``, or the first result that is not one."""
        obs = self.obs
        verbose = obs.verbose
        outputs = trace.outputs
        result: object = None
        for node in nodes:
            if verbose:
                obs.step_started(node, trace)
            if isinstance(node, Group):
                result = await self.parallel(node, state, trace, len(outputs))
            else:
                result = node.action(state)
                if type(result) is CoroutineType:  # an async def's: the common case
                    result = await result
                    if type(result) is not Success:
                        result = _settled(node, result, compensation=False)
                elif (
                    # is_async was decided at definition time; a step it could
                    # not see through (a lambda around a coroutine) is awaited
                    # too; a Result returned directly (a wrapper that
                    # short-circuits) is not
                    type(result) is not Success
                    and not isinstance(result, Result)
                    and (node.is_async or inspect.isawaitable(result))
                ):
                    result = await _settle(node, result, compensation=False)
            if type(result) is not Success and not isinstance(result, Success):
                return result
            state = result._inner_value
            outputs.append(state)
            if verbose:
                obs.step_succeeded(node, trace)
        return Success(state) if result is None else result  # no steps: as is

    async def body(self, body: BodyNode, value: object, trace: Trace) -> object:
        """Step one body's generator (see ``_stream._body``), awaiting each call."""
        reached = trace.nodes
        assert isinstance(reached, list)
        generator = body.function(value)
        sent: object = None
        try:
            while True:
                try:
                    call = generator.send(sent)
                except StopIteration as stop:
                    return Success(stop.value)
                except BaseException:
                    reached.append(body)
                    raise
                if not isinstance(call, AsyncStepCall) or not (
                    body.is_async or not call.definition.is_async
                ):
                    reached.append(body)
                    raise bad_yield(body, call)
                result = await self.drive(call.definition.segments, call.value, trace)
                if type(result) is not Success and not isinstance(result, Success):
                    close(generator, body, trace)
                    return result
                sent = result._inner_value
        except BaseException:
            close(generator, body, trace)
            raise

    async def parallel(
        self, group: Group, state: object, trace: Trace, index: int
    ) -> object:
        """Run every branch; on the first failure cancel the rest, unwind every
        branch, and return (or raise) that failure. No other failure is lost:
        each is in its branch's records, logged at ERROR, and in the note."""
        obs = self.obs
        inputs = group.inputs or (state,) * len(group.branches)
        subs = [
            trace.branch(index, number, [] if _has_body(nodes) else nodes)
            for number, nodes in enumerate(group.branches, start=1)
        ]
        trace.set_branches(index, subs)
        failures: list[tuple[object, Trace, int]] = []  # in time order
        outputs: list[object] = [None] * len(subs)
        cancelled = self.runtime.cancelled

        async def branch(
            number: int,
            nodes: tuple[Node, ...],
            value: object,
            sub: Trace,
            stop_others: Callable[[], None],
        ) -> None:
            CURRENT.set(sub)  # this task's context: current_step() sees the branch
            try:
                if isinstance(sub.nodes, list):
                    result = await self.drive(_segments_of(nodes), value, sub)
                else:
                    result = await self.forward(nodes, value, sub)  # type: ignore[arg-type]
            except cancelled as exc:
                sub.completed, sub.error = len(sub.outputs), exc
                if sub.completed < len(sub.nodes):
                    obs.step_failed(sub, sub.completed, exc)
                raise
            except BaseException as exc:
                result = exc
            if type(result) is Success or isinstance(result, Success):
                outputs[number] = result._inner_value
                return
            if not isinstance(result, Failure | BaseException):
                result = bad_return(sub.label(len(sub.outputs)), result)
            sub.completed, sub.error = len(sub.outputs), failure_value(result)
            obs.step_failed(sub, sub.completed, sub.error)
            failures.append((result, sub, number + 1))
            stop_others()

        jobs = [
            functools.partial(branch, number, nodes, value, sub)
            for number, (nodes, value, sub) in enumerate(
                zip(
                    group.branches,
                    inputs,
                    subs,
                    strict=True,  # pragma: no mutate (equal lengths by construction)
                )
            )
        ]
        try:
            await self.runtime.together(jobs)
        except BaseException:
            await self.unwind_group(subs, trace)
            raise
        if not failures:
            return Success(outputs if group.as_list else tuple(outputs))
        first, first_sub, first_number = _pick(failures)
        for other, sub, number in failures:
            if other is not first:
                self.also(group, sub, number, other, trace)
        await self.unwind_group(subs, trace)
        if isinstance(first, BaseException):
            trace.add_also(
                f"raised in step {first_sub.label(first_sub.completed)!r} of branch "
                f"{first_number} of parallel group {group.name!r}",
                first=True,
            )
            raise first
        return first

    def also(
        self, group: Group, sub: Trace, number: int, error: object, trace: Trace
    ) -> None:
        """A branch failure that is not the group's result: keep it visible."""
        what = (
            f"also failed: step {sub.label(sub.completed)!r} of branch {number} of "
            f"parallel group {group.name!r}: {describe_error(failure_value(error))}"
        )
        trace.add_also(what)
        log_error("%s", what, saga_run_id=self.root.id)

    # -- unwinding -----------------------------------------------------------

    async def fail(self, trace: Trace, error: object) -> None:
        """Record the failing node, unwind the completed ones (shielded), report."""
        trace.completed = len(trace.outputs)
        trace.error = failure_value(error)
        obs = self.obs
        obs.step_failed(trace, trace.completed, trace.error)
        try:
            absorbed = await self.runtime.shielded(self.unwind(trace))
        except BaseException as fatal:  # a compensation's KeyboardInterrupt
            obs.saga_failed(trace)
            add_note(fatal, note_text(trace, self.policy, fatal=fatal))
            attach_report(fatal, trace, obs.saga)
            trace.release()
            raise
        obs.saga_failed(trace)
        if absorbed is not None:
            if isinstance(error, BaseException):
                rearm(absorbed)  # the exception goes on; so does the cancellation
            else:
                raise absorbed  # a cancellation arrived while unwinding a Failure

    @runner_loop
    async def unwind(self, trace: Trace) -> None:
        """Compensate the completed nodes in reverse, each with its own output."""
        obs = self.obs
        verbose = obs.verbose
        nodes = trace.nodes
        # a parallel group that failed forward has already unwound its branches;
        # if one of their compensations failed, "stop" applies to what is left
        stopped = self.policy == "stop" and bool(trace.failures)
        for index in reversed(range(len(trace.outputs))):
            node = nodes[index]
            if isinstance(node, Group):
                if stopped:
                    self.leave(trace, index)
                    continue
                started = (
                    obs.compensation_started(trace, index)
                    if verbose
                    else perf_counter()
                )
                errors = await self.unwind_group(trace.branches[index], trace)
                if errors:
                    trace.set_outcome(
                        index, (StepOutcome.COMPENSATION_FAILED, errors[0])
                    )
                    obs.compensation_failed(trace, index, errors[0], started)
                    stopped = self.policy == "stop"
                else:
                    trace.set_outcome(index, COMPENSATED)
                    if verbose:
                        obs.compensation_succeeded(trace, index, started)
                continue
            if node.compensate is None:
                if not node.hidden and verbose:
                    obs.compensation_skipped(trace, index, by_policy=False)
                continue
            if stopped:
                self.leave(trace, index)
                continue
            assert isinstance(node, Step)  # only steps and groups are ever completed
            trace.undoing = index
            started = obs.compensation_started(trace, index) if verbose else 0.0
            try:
                if self.timeout is None:  # no cancel scope to enter: the common case
                    error = await _call_compensation(node, trace, index)
                else:
                    error = await self.compensate_within_timeout(node, trace, index)
            except BaseException as fatal:
                compensation_failed(trace, index, fatal, obs, started)
                for rest in reversed(range(index)):
                    self.leave(trace, rest)
                raise
            if error is _OK:
                # recorded even though a report assumes it: a branch's trace
                # has no failing step for the report to go by
                trace.set_outcome(index, COMPENSATED)
                if verbose:
                    obs.compensation_succeeded(trace, index, started)
            else:
                compensation_failed(trace, index, error, obs, started)
                stopped = self.policy == "stop"
        trace.undoing = -1

    async def unwind_group(self, subs: list[Trace], outer: Trace) -> list[object]:
        """Unwind every branch concurrently, each in reverse; shielded.

        Branch compensation failures and leftovers are added to ``outer``;
        returns the errors of the compensations that failed. A branch whose
        compensation raises ``KeyboardInterrupt`` (or the like) does not stop
        the others; the first such is raised afterwards, the rest noted."""
        fatal: list[BaseException] = []

        async def unwind_branch(sub: Trace, stop_others: Callable[[], None]) -> None:
            CURRENT.set(sub)
            try:
                await self.unwind(sub)
            except BaseException as exc:
                fatal.append(exc)

        jobs = [functools.partial(unwind_branch, sub) for sub in subs if sub.outputs]
        absorbed = await self.runtime.shielded(self.runtime.together(jobs))
        for sub in subs:
            for label, error in sub.failures:
                outer.add_failure(label, error)
            for label in sub.left:
                outer.add_left(label)
        if fatal:
            for extra in fatal[1:]:
                outer.add_also(f"a compensation also raised {describe_error(extra)}")
            raise fatal[0]
        if absorbed is not None:
            if _in_flight():
                rearm(absorbed)
            else:
                raise absorbed
        return [error for sub in subs for _, error in sub.failures]

    def leave(self, trace: Trace, index: int) -> None:
        """Mark a node (a group: its branches' steps) left un-compensated."""
        node = trace.nodes[index]
        if isinstance(node, Group):
            trace.set_outcome(index, (StepOutcome.LEFT_UNCOMPENSATED, None))
            for sub in trace.branches.get(index, ()):
                for sub_index in range(len(sub.outputs)):
                    self.leave(sub, sub_index)
                for label in sub.left:
                    trace.add_left(label)
                # moved up: a group left is never unwound, so nothing reads it again
                sub.left = ()  # pragma: no mutate
        elif node.compensate is not None:
            leave(trace, index, self.obs)

    async def compensate_within_timeout(
        self, node: Step, trace: Trace, index: int
    ) -> object:
        """Call one compensation under ``compensation_timeout``; ``_OK`` on
        success, else its error (a ``TimeoutError`` when it ran out of time,
        also when it could not be interrupted and finished late)."""
        assert self.timeout is not None
        # set by the call below, unless the scope caught the cancellation
        error: object = _OK  # pragma: no mutate
        with anyio.move_on_after(self.timeout) as deadline:
            error = await _call_compensation(node, trace, index)
        if deadline.cancelled_caught:
            return TimeoutError(
                f"compensation of step {trace.label(index)!r} did not finish within "
                f"{self.timeout} s (compensation_timeout); it was interrupted"
            )
        if deadline.cancel_called or anyio.current_time() >= deadline.deadline:
            return TimeoutError(
                f"compensation of step {trace.label(index)!r} finished after "
                f"{self.timeout} s (compensation_timeout): it could not be "
                "interrupted (it blocked without awaiting, or awaited a thread that "
                "cannot be abandoned), so it counts as failed"
            )
        return error


_OK = object()
"""What a compensation that succeeded gives (``None`` may be a real error)."""


async def _settle(node: Step, result: object, *, compensation: bool) -> object:
    """Await what an async action (or compensation) returned: a coroutine's
    ``Result``, or a ``FutureResult``'s."""
    result = await result  # type: ignore[misc]
    return result if type(result) is Success else _settled(node, result, compensation)


def _settled(node: Step, result: object, compensation: bool) -> object:
    """An awaited result that is not a plain ``Success``: a ``FutureResult``'s
    ``IOResult`` gives its ``Result``; another awaitable is a missing ``await``
    inside the function."""
    if isinstance(result, IOResult):
        return result._inner_value
    if not isinstance(result, Result) and inspect.isawaitable(result):
        from typed_saga._fold import _discard

        _discard(result)
        raise awaitable_after_await(node.name, compensation=compensation)
    return result


async def _call_compensation(node: Step, trace: Trace, index: int) -> object:
    """Call ``node``'s compensation with its output, awaiting what it returns
    if need be; ``_OK``, or what it failed with."""
    assert node.compensate is not None
    try:
        result = node.compensate(trace.outputs[index])
        if type(result) is CoroutineType:
            result = await result
            if type(result) is not Success:
                result = _settled(node, result, compensation=True)
        elif (
            type(result) is not Success
            and not isinstance(result, Result)
            and inspect.isawaitable(result)
        ):
            result = await _settle(node, result, compensation=True)
    except Exception as exc:
        return exc
    if type(result) is Success or isinstance(result, Success):
        return _OK
    return compensation_error(trace.label(index), result)


Job: TypeAlias = Callable[[Callable[[], None]], Coroutine[object, object, None]]
"""A branch to run (forward or unwinding), given its ``stop_others`` callback."""


class Runtime(Protocol):
    """How the async runner runs branches together and shields its unwinding.

    anyio's (:data:`ANYIO`, on asyncio and trio) unless an engine brings its
    own: a Temporal workflow, for one, cannot use anyio's cancel scopes."""

    @property
    def cancelled(self) -> type[BaseException]:
        """The exception a cancellation raises in a branch."""
        ...

    async def together(self, jobs: Sequence[Job]) -> None:
        """Run the jobs concurrently until all end. Each job is given a
        ``stop_others`` callback: a failing branch calls it to cancel the
        branches still running (a runtime may choose to let them finish)."""

    async def shielded(
        self, unwinding: Coroutine[object, object, None]
    ) -> BaseException | None:
        """Run ``unwinding`` to its end whatever cancellation arrives; return
        a cancellation absorbed meanwhile, else ``None``."""


class _AnyioRuntime:
    """Branches in an anyio task group; unwinding shielded (see :func:`shielded`)."""

    __slots__ = ()

    @property
    def cancelled(self) -> type[BaseException]:
        return anyio.get_cancelled_exc_class()

    async def together(self, jobs: Sequence[Job]) -> None:
        async with anyio.create_task_group() as tasks:
            stop: Callable[[], None] = tasks.cancel_scope.cancel
            for job in jobs:
                tasks.start_soon(job, stop)

    async def shielded(
        self, unwinding: Coroutine[object, object, None]
    ) -> BaseException | None:
        return await shielded(unwinding)


ANYIO: Final[Runtime] = _AnyioRuntime()


async def shielded(unwinding: Coroutine[object, object, None]) -> BaseException | None:
    """Run ``unwinding`` to the end whatever cancellation arrives meanwhile.

    anyio's shielded scope stops cancel scopes (timeouts, task groups, trio);
    on asyncio a native ``Task.cancel()`` passes through shields, so there the
    unwinding runs in its own task behind ``asyncio.shield`` and we wait it
    out (a ``KeyboardInterrupt`` in that task is brought back here, rather
    than escaping the event loop). Returns the cancellation absorbed
    meanwhile (the caller re-raises it, or re-arms it with :func:`rearm` when
    another exception is on its way out), else ``None``.
    """
    absorbed: BaseException | None = None
    with anyio.CancelScope(shield=True):
        if not _on_asyncio():
            await unwinding
            return None
        task = asyncio.ensure_future(_holding_fatal(unwinding))
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError as exc:
                if task.done():
                    raise
                absorbed = exc
        fatal = task.result()  # re-raises what escaped the unwinding, if anything
        if fatal is not None:
            raise fatal
    return absorbed


async def _holding_fatal(
    unwinding: Coroutine[object, object, None],
) -> BaseException | None:
    """asyncio lets a task's ``KeyboardInterrupt`` / ``SystemExit`` escape the
    event loop itself; keep it as a value instead, for the caller to raise."""
    try:
        await unwinding
    except (KeyboardInterrupt, SystemExit) as fatal:
        return fatal
    return None


def rearm(absorbed: BaseException) -> None:
    """Deliver again a native asyncio cancellation that arrived while we
    unwound, at the task's next ``await``: another exception is propagating
    now (rule 6), and the cancellation must not be lost. The task's count of
    cancel requests is unchanged."""
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - shielded() absorbs only on asyncio
        return
    task.uncancel()
    message = absorbed.args[0] if absorbed.args else None
    task.cancel(message)


def _in_flight() -> bool:
    """Whether an exception is propagating through the caller right now."""
    import sys

    return sys.exc_info()[1] is not None


def _on_asyncio() -> bool:
    try:
        return asyncio.current_task() is not None
    except RuntimeError:  # no asyncio loop running here: trio
        return False


def _pick(
    failures: list[tuple[object, Trace, int]],
) -> tuple[object, Trace, int]:
    """The group's result among its branches' failures: the first in time,
    unless a ``KeyboardInterrupt`` / ``SystemExit`` came later (never dropped
    for an earlier failure); a cancellation only if nothing else failed."""
    for failure in failures:
        if _fatal(failure[0]):
            return failure
    for failure in failures:
        if not is_cancellation(failure[0]):
            return failure
    return failures[0]


def _fatal(error: object) -> bool:
    return (
        isinstance(error, BaseException)
        and not isinstance(error, Exception)
        and not is_cancellation(error)
    )


def _has_body(nodes: tuple[Node, ...]) -> bool:
    return any(isinstance(node, BodyNode) for node in nodes)


def _segments_of(nodes: tuple[Node, ...]) -> tuple[Segment, ...]:
    from typed_saga._node import segments

    return segments(nodes)
