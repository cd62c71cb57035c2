"""The synchronous runner: one explicit loop forward, one explicit loop back.

Read :func:`run_nodes` top to bottom. ``_forward`` calls each action with the
previous output until one does not return ``Success``; ``_unwind`` walks the
completed steps in reverse and calls their compensations with their own
outputs. No recursion, no nested binds: 100,000 steps are just a longer loop.
"""

from __future__ import annotations

import inspect
from time import perf_counter

from returns.result import Failure, Result, Success

from typed_saga._node import Policy, Step
from typed_saga._report import StepOutcome
from typed_saga._trace import (
    LEFT_UNCOMPENSATED,
    Observer,
    Trace,
    add_note,
    awaitable_in_sync_run,
    failure_value,
    not_a_result,
)


def run_nodes(
    nodes: tuple[Step, ...], value: object, policy: Policy, obs: Observer
) -> tuple[Result[object, object], Trace]:
    """Run a saga; return the last action's ``Success`` or the very ``Failure``
    of the failing action (after unwinding), with the run's trace.

    An action that raises, or returns a non-``Result``, is unwound the same way
    and then the exception propagates (with a note naming the step).
    """
    started = perf_counter()
    trace = Trace()
    try:
        result = _forward(nodes, value, trace, obs)
    except BaseException as exc:
        _fail(nodes, trace, policy, obs.awake(started), exc)
        add_note(exc, nodes[trace.completed], trace, policy)
        raise
    if type(result) is Success:
        obs.succeeded()
        return result, trace
    if isinstance(result, Failure):
        _fail(nodes, trace, policy, obs.awake(started), result)
        return result, trace
    error = bad_return(nodes[len(trace.outputs)].name, result)
    _fail(nodes, trace, policy, obs.awake(started), error)
    raise error


def _forward(
    nodes: tuple[Step, ...], state: object, trace: Trace, obs: Observer
) -> object:
    """Call each action with the previous output, recording each output.

    Returns the last ``Success``, or the first result that is not one."""
    verbose = obs.verbose
    outputs = trace.outputs
    result: object = Success(state)
    for node in nodes:
        if verbose:
            obs.step_started(node, trace)
        result = node.action(state)
        if type(result) is not Success:
            return result
        state = result._inner_value
        outputs.append(state)
        if verbose:
            obs.step_succeeded(node, trace)
    return result


def _unwind(
    nodes: tuple[Step, ...], trace: Trace, policy: Policy, obs: Observer
) -> None:
    """Compensate the completed steps in reverse, each with its own output.

    Records only what went wrong (a failed compensation, a step the ``"stop"``
    policy never reached): every other compensable step was compensated."""
    verbose = obs.verbose
    outputs = trace.outputs
    stopped = False
    for index in reversed(range(len(outputs))):
        node = nodes[index]
        compensate = node.compensate
        if compensate is None:
            if verbose and not node.hidden:
                obs.compensation_skipped(node.name, by_policy=False)
            continue
        if stopped:
            trace.left.append(node.name)
            trace.outcomes[index] = LEFT_UNCOMPENSATED
            obs.compensation_skipped(node.name, by_policy=True)
            continue
        started = obs.compensation_started(node.name) if verbose else perf_counter()
        try:
            result = compensate(outputs[index])
            error = (
                None if type(result) is Success else compensation_error(node, result)
            )
        except Exception as exc:
            error = exc
        if error is None:
            if verbose:
                obs.compensation_succeeded(node.name, started)
        else:
            trace.outcomes[index] = (StepOutcome.COMPENSATION_FAILED, error)
            trace.failures.append((node.name, error))
            obs.compensation_failed(node.name, error, started)
            stopped = policy == "stop"


def compensation_error(node: Step, result: object) -> object:
    """What a compensation that did not return ``Success`` failed with: its
    ``Failure``'s error, or a ``TypeError`` for a non-``Result``."""
    if isinstance(result, Failure):
        return result.failure()
    return bad_return(node.name, result, compensation=True)


def _fail(
    nodes: tuple[Step, ...], trace: Trace, policy: Policy, obs: Observer, error: object
) -> None:
    """Record the failing step, unwind the completed ones, report it."""
    trace.completed = len(trace.outputs)
    trace.error = failure_value(error)
    name = nodes[trace.completed].name
    obs.step_failed(name, trace.error, trace)
    _unwind(nodes, trace, policy, obs)
    obs.saga_failed(name, trace.error, trace)


def bad_return(name: str, returned: object, *, compensation: bool = False) -> TypeError:
    """The ``TypeError`` for a non-``Result`` return; closes a stray coroutine."""
    if inspect.isawaitable(returned):
        _discard(returned)
        return awaitable_in_sync_run(name, compensation=compensation)
    return not_a_result(name, returned, compensation=compensation)


def _discard(awaitable: object) -> None:
    """Close the coroutine behind an awaitable that will never be awaited (also
    inside a ``FutureResult``: ``_inner_value`` -> ``ReAwaitable._coro``), so
    no "coroutine ... was never awaited" warning leaks."""
    for _ in range(4):
        if inspect.iscoroutine(awaitable):
            awaitable.close()
            return
        awaitable = getattr(awaitable, "_inner_value", None) or getattr(
            awaitable, "_coro", None
        )
