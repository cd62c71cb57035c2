"""The asynchronous runner: the same fold as ``_fold``, with ``await``.

``_forward`` runs the actions in order (awaiting the async ones, running sync
ones inline); ``_unwind`` compensates the completed ones in reverse. Every
unwinding runs inside a shielded cancel scope, so a cancellation — the one
that interrupted a step, or a second one — cannot cut it short; the
interrupting exception is re-raised once the unwinding is done.

A ``parallel`` group is one node: its branches run forward in a task group;
when one fails the others are cancelled, every branch is unwound (concurrently,
each in reverse) and the first failure is the group's result.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Coroutine
from time import perf_counter

import anyio
from returns.io import IOResult
from returns.result import Failure, Result, Success

from typed_saga._fold import bad_return, compensation_error
from typed_saga._node import Group, Node, Policy, Step
from typed_saga._report import StepOutcome
from typed_saga._trace import (
    COMPENSATED,
    LEFT_UNCOMPENSATED,
    Observer,
    Trace,
    add_note,
    failure_value,
)


async def run_nodes(
    nodes: tuple[Node, ...],
    value: object,
    policy: Policy,
    obs: Observer,
    timeout: float | None,
) -> tuple[Result[object, object], Trace]:
    """Run a saga; same contract as ``_fold.run_nodes``, plus cancellation:
    a cancelled run unwinds (shielded) and the cancellation propagates."""
    trace = Trace()
    run = _Run(policy, obs, timeout)
    try:
        result = await run.forward(nodes, value, trace)
    except BaseException as exc:
        await run.fail(nodes, trace, exc)
        add_note(exc, nodes[trace.completed], trace, policy)
        raise
    if isinstance(result, Success):
        obs.succeeded()
        return result, trace
    if isinstance(result, Failure):
        await run.fail(nodes, trace, result)
        return result, trace
    error = bad_return(nodes[len(trace.outputs)].name, result)
    await run.fail(nodes, trace, error)
    raise error


class _Run:
    """One run's settings, so the recursive parts (groups) share them.

    ``obs`` may be a definition's shared quiet stand-in until something
    worth reporting happens (a failure, a group): ``wake`` swaps in a real one.
    """

    __slots__ = ("obs", "policy", "started", "timeout")

    def __init__(self, policy: Policy, obs: Observer, timeout: float | None) -> None:
        self.policy = policy
        self.obs = obs
        self.timeout = timeout
        self.started = perf_counter()

    def wake(self) -> Observer:
        self.obs = self.obs.awake(self.started)
        return self.obs

    # -- forward -------------------------------------------------------------

    async def forward(
        self, nodes: tuple[Node, ...], state: object, trace: Trace
    ) -> object:
        """Call each action with the previous output, recording each output.

        Returns the last ``Success``, or the first result that is not one."""
        obs = self.obs
        verbose = obs.verbose
        outputs = trace.outputs
        result: object = Success(state)
        for index, node in enumerate(nodes):
            if verbose:
                obs.step_started(node, trace)
            if isinstance(node, Group):
                result = await self.parallel(node, state, trace, index)
            else:
                result = node.action(state)
                # is_async was decided at definition time; a step it could not
                # see through (a lambda around a coroutine) is awaited too
                if type(result) is not Success and (
                    node.is_async or inspect.isawaitable(result)
                ):
                    result = await result  # type: ignore[misc]
                    if type(result) is not Success and isinstance(result, IOResult):
                        result = result._inner_value  # a FutureResult's Result
            if type(result) is not Success:
                return result
            state = result._inner_value
            outputs.append(state)
            if verbose:
                obs.step_succeeded(node, trace)
        return result

    async def parallel(
        self, group: Group, state: object, trace: Trace, index: int
    ) -> object:
        """Run every branch on ``state``; on the first failure cancel the rest,
        unwind every branch, and return (or raise) that failure."""
        self.wake()  # branches may report failures before the run fails
        traces = [Trace() for _ in group.branches]
        trace.branches[index] = traces
        first: list[object] = []  # the first Failure / exception, in time

        async def branch(
            nodes: tuple[Node, ...], sub: Trace, scope: anyio.CancelScope
        ) -> None:
            try:
                result = await self.forward(nodes, state, sub)
            except anyio.get_cancelled_exc_class() as exc:
                sub.completed, sub.error = len(sub.outputs), exc
                if sub.completed < len(nodes):
                    self.obs.step_failed(nodes[sub.completed].name, exc, sub)
                raise
            except BaseException as exc:
                result = exc
            if isinstance(result, Success):
                return
            if not isinstance(result, Failure | BaseException):
                result = bad_return(nodes[len(sub.outputs)].name, result)
            sub.completed, sub.error = len(sub.outputs), failure_value(result)
            self.obs.step_failed(nodes[sub.completed].name, sub.error, sub)
            if not first or (_fatal(result) and not _fatal(first[0])):
                first[:] = [result]  # the first in time, unless a fatal one follows
            scope.cancel()

        try:
            async with anyio.create_task_group() as group_scope:
                for nodes, sub in zip(
                    group.branches, traces, strict=True
                ):  # pragma: no mutate (equal lengths by construction)
                    group_scope.start_soon(branch, nodes, sub, group_scope.cancel_scope)
        except BaseException:
            await self.unwind_group(group, traces, trace)
            raise
        if not first:
            return Success(tuple(sub.outputs[-1] for sub in traces))
        await self.unwind_group(group, traces, trace)
        failure = first[0]
        if isinstance(failure, BaseException):
            failed = next(
                nodes[sub.completed]
                for nodes, sub in zip(
                    group.branches, traces, strict=True
                )  # pragma: no mutate (equal lengths by construction)
                if sub.error is failure
            )
            failure.add_note(
                f"typed-saga: raised in step {failed.name!r} of a parallel branch"
            )
            raise failure
        return failure

    # -- unwinding -----------------------------------------------------------

    async def fail(self, nodes: tuple[Node, ...], trace: Trace, error: object) -> None:
        """Record the failing node, unwind the completed ones (shielded), report."""
        trace.completed = len(trace.outputs)
        trace.error = failure_value(error)
        name = nodes[trace.completed].name
        self.wake().step_failed(name, trace.error, trace)
        absorbed = await shielded(self.unwind(nodes, trace))
        self.obs.saga_failed(name, trace.error, trace)
        if absorbed is not None and not isinstance(error, BaseException):
            raise absorbed  # a cancellation arrived while unwinding a Failure

    async def unwind(self, nodes: tuple[Node, ...], trace: Trace) -> None:
        """Compensate the completed nodes in reverse, each with its own output."""
        obs = self.obs
        verbose = obs.verbose
        # a parallel group that failed forward has already unwound its branches;
        # if one of their compensations failed, "stop" applies to what is left
        stopped = self.policy == "stop" and bool(trace.failures)
        for index in reversed(range(len(trace.outputs))):
            node = nodes[index]
            if isinstance(node, Group):
                if stopped:
                    self.leave(node, trace, index, trace)
                    continue
                started = obs.compensation_started(node.name)
                errors = await self.unwind_group(node, trace.branches[index], trace)
                if errors:
                    trace.outcomes[index] = (StepOutcome.COMPENSATION_FAILED, errors[0])
                    obs.compensation_failed(node.name, errors[0], started)
                    stopped = self.policy == "stop"
                else:
                    trace.outcomes[index] = COMPENSATED
                    obs.compensation_succeeded(node.name, started)
                continue
            if node.compensate is None:
                if not node.hidden:
                    obs.compensation_skipped(node.name, by_policy=False)
                continue
            if stopped:
                self.leave(node, trace, index, trace)
                continue
            started = obs.compensation_started(node.name) if verbose else perf_counter()
            output = trace.outputs[index]
            if self.timeout is None:  # no cancel scope to enter: the common case
                error = await _call_compensation(node, output)
            else:
                error = await self.compensate_within_timeout(node, output)
            if error is None:
                trace.outcomes[index] = COMPENSATED
                if verbose:
                    obs.compensation_succeeded(node.name, started)
            else:
                trace.outcomes[index] = (StepOutcome.COMPENSATION_FAILED, error)
                trace.failures.append((node.name, error))
                obs.compensation_failed(node.name, error, started)
                stopped = self.policy == "stop"

    async def unwind_group(
        self, group: Group, traces: list[Trace], outer: Trace
    ) -> list[object]:
        """Unwind every branch concurrently, each in reverse; shielded.

        Branch compensation failures and leftovers are added to ``outer``;
        returns the errors of the compensations that failed."""

        async def unwind_all() -> None:
            async with anyio.create_task_group() as branches:
                for nodes, sub in zip(
                    group.branches, traces, strict=True
                ):  # pragma: no mutate (equal lengths by construction)
                    if sub.outputs:
                        branches.start_soon(self.unwind, nodes, sub)

        absorbed = await shielded(unwind_all())
        for sub in traces:
            outer.failures.extend(sub.failures)
            outer.left.extend(sub.left)
        if absorbed is not None and sys.exc_info()[1] is None:
            raise absorbed
        return [error for sub in traces for _, error in sub.failures]

    def leave(self, node: Node, trace: Trace, index: int, outer: Trace) -> None:
        """Mark a node (a group: its branches' steps) left un-compensated."""
        if isinstance(node, Group):
            trace.outcomes[index] = LEFT_UNCOMPENSATED
            for nodes, sub in zip(
                node.branches, trace.branches[index], strict=True
            ):  # pragma: no mutate (equal lengths by construction)
                for sub_index in range(len(sub.outputs)):
                    self.leave(nodes[sub_index], sub, sub_index, outer)
        elif node.compensate is not None:
            trace.outcomes[index] = LEFT_UNCOMPENSATED
            outer.left.append(node.name)
            self.obs.compensation_skipped(node.name, by_policy=True)

    async def compensate_within_timeout(self, node: Step, output: object) -> object:
        """Call one compensation under ``compensation_timeout``; ``None`` on
        success, else its error (a ``TimeoutError`` when it ran out of time)."""
        error: object = None
        with anyio.move_on_after(self.timeout) as deadline:
            error = await _call_compensation(node, output)
        if deadline.cancelled_caught:
            return TimeoutError(
                f"compensation of step {node.name!r} did not finish within "
                f"{self.timeout} s (compensation_timeout)"
            )
        return error


async def _call_compensation(node: Step, output: object) -> object:
    """Call ``node``'s compensation, awaiting what it returns if need be."""
    assert node.compensate is not None
    try:
        result = node.compensate(output)
        if type(result) is not Success and inspect.isawaitable(result):
            result = await result
            if isinstance(result, IOResult):  # a FutureResult's
                result = result._inner_value
    except Exception as exc:
        return exc
    return None if type(result) is Success else compensation_error(node, result)


async def shielded(unwinding: Coroutine[object, object, None]) -> BaseException | None:
    """Run ``unwinding`` to the end whatever cancellation arrives meanwhile.

    anyio's shielded scope stops cancel scopes (timeouts, task groups, trio);
    on asyncio a native ``Task.cancel()`` passes through shields, so there the
    unwinding runs in its own task behind ``asyncio.shield`` and we wait it
    out. Returns the cancellation absorbed meanwhile (the caller re-raises it
    unless another exception is already on its way out), else ``None``.
    """
    absorbed: BaseException | None = None
    with anyio.CancelScope(shield=True):
        if not _on_asyncio():
            await unwinding
            return None
        task = asyncio.ensure_future(unwinding)
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError as exc:
                if task.done():
                    raise
                absorbed = exc
        task.result()  # re-raise what escaped the unwinding itself, if anything
    return absorbed


def _on_asyncio() -> bool:
    try:
        return asyncio.current_task() is not None
    except RuntimeError:  # no asyncio loop running here: trio
        return False


def _fatal(error: object) -> bool:
    """``KeyboardInterrupt``, ``SystemExit``: never dropped for an earlier failure."""
    return isinstance(error, BaseException) and not isinstance(error, Exception)
