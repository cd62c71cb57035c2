"""The synchronous runner: one explicit loop forward, one explicit loop back.

Read :func:`run_nodes` top to bottom. ``_forward`` calls each action with the
previous output until one does not return ``Success``; ``_unwind`` walks the
completed steps in reverse and calls their compensations with their own
outputs. No recursion, no nested binds: 100,000 steps are just a longer loop.
A definition with bodies is fed to the same ``_forward``, one stretch of steps
at a time, by ``_stream.drive``; the unwinding is the same either way.
"""

from __future__ import annotations

import inspect

from returns.result import Failure, Result, Success

from typed_saga import _stream
from typed_saga._node import Leaf, Policy, Segment
from typed_saga._report import StepOutcome
from typed_saga._trace import (
    LEFT_UNCOMPENSATED,
    Observer,
    Trace,
    add_note,
    attach_report,
    awaitable_in_sync_run,
    failure_value,
    not_a_result,
    note_text,
    runner_loop,
)


def run_nodes(
    segs: tuple[Segment, ...],
    value: object,
    policy: Policy,
    obs: Observer,
    trace: Trace,
) -> Result[object, object]:
    """Run a saga; return the last action's ``Success`` or the very ``Failure``
    of the failing action (after unwinding).

    An action that raises, or returns a non-``Result``, is unwound the same way
    and then the exception propagates (with a note naming the step, and the
    run's report kept on it for ``SagaReport.of``).
    """
    try:
        nodes = trace.nodes
        if type(nodes) is tuple:  # a chain: its steps are known, one loop
            result = _forward(nodes, value, trace, obs)
        else:
            result = _stream.drive(segs, value, trace, obs)
        if type(result) is Success or isinstance(result, Success):
            if obs.verbose:
                obs.succeeded(trace)
            return result
        if not isinstance(result, Failure):
            raise bad_return(trace.label(len(trace.outputs)), result)
    except BaseException as exc:
        _fail(trace, policy, obs, exc)
        add_note(exc, note_text(trace, policy))
        attach_report(exc, trace, obs.saga)
        trace.release()
        raise
    _fail(trace, policy, obs, result)
    return result


@runner_loop
def _forward(
    nodes: tuple[Leaf, ...], state: object, trace: Trace, obs: Observer
) -> object:
    """Call each action with the previous output, recording each output.

    Returns the last ``Success``, or the first result that is not one."""
    verbose = obs.verbose
    outputs = trace.outputs
    result: object = None
    for node in nodes:
        if verbose:
            obs.step_started(node, trace)
        result = node.action(state)  # type: ignore[union-attr]  # sync: only Steps
        if type(result) is not Success and not isinstance(result, Success):
            return result
        state = result._inner_value
        outputs.append(state)
        if verbose:
            obs.step_succeeded(node, trace)
    return Success(state) if result is None else result  # no steps: state as is


@runner_loop
def _unwind(trace: Trace, policy: Policy, obs: Observer) -> None:
    """Compensate the completed steps in reverse, each with its own output.

    Records only what went wrong (a failed compensation, a step the ``"stop"``
    policy never reached): every other compensable step was compensated. A
    compensation that raises ``KeyboardInterrupt`` (or another non-``Exception``)
    ends the unwinding there: the rest is recorded as left, then it propagates.
    """
    verbose = obs.verbose
    nodes = trace.nodes
    outputs = trace.outputs
    stopped = False
    for index in reversed(range(len(outputs))):
        node = nodes[index]
        compensate = node.compensate
        if compensate is None:
            if verbose and not node.hidden:
                obs.compensation_skipped(trace, index, by_policy=False)
            continue
        if stopped:
            leave(trace, index, obs)
            continue
        trace.undoing = index
        started = obs.compensation_started(trace, index) if verbose else 0.0
        try:
            result = compensate(outputs[index])
        except Exception as exc:
            error: object = exc
        except BaseException as exc:
            compensation_failed(trace, index, exc, obs, started)
            for rest in reversed(range(index)):
                if nodes[rest].compensate is not None:
                    leave(trace, rest, obs)
            raise
        else:
            if type(result) is Success or isinstance(result, Success):
                if verbose:
                    obs.compensation_succeeded(trace, index, started)
                continue
            error = compensation_error(trace.label(index), result)
        compensation_failed(trace, index, error, obs, started)
        stopped = policy == "stop"
    trace.undoing = -1


def compensation_failed(
    trace: Trace, index: int, error: object, obs: Observer, started: float
) -> None:
    """Record (and report: logged at ERROR) a compensation that failed."""
    trace.set_outcome(index, (StepOutcome.COMPENSATION_FAILED, error))
    trace.add_failure(trace.label(index), error)
    obs.compensation_failed(trace, index, error, started)


def leave(trace: Trace, index: int, obs: Observer) -> None:
    """Record a step the ``"stop"`` policy (or an interrupt) left un-compensated."""
    trace.add_left(trace.label(index))
    trace.set_outcome(index, LEFT_UNCOMPENSATED)
    obs.compensation_skipped(trace, index, by_policy=True)


def compensation_error(name: str, result: object) -> object:
    """What a compensation that did not return ``Success`` failed with: its
    ``Failure``'s error (``None`` included), or a ``TypeError`` for a
    non-``Result``."""
    if isinstance(result, Failure):
        return result.failure()
    return bad_return(name, result, compensation=True)


def _fail(trace: Trace, policy: Policy, obs: Observer, error: object) -> None:
    """Record the failing step, unwind the completed ones, report it."""
    trace.completed = len(trace.outputs)
    trace.error = failure_value(error)
    obs.step_failed(trace, trace.completed, trace.error)
    try:
        _unwind(trace, policy, obs)
    except BaseException as fatal:
        obs.saga_failed(trace)
        add_note(fatal, note_text(trace, policy, fatal=fatal))
        attach_report(fatal, trace, obs.saga)
        trace.release()
        raise
    obs.saga_failed(trace)


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
