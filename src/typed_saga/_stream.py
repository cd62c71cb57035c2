"""Feeding bodies to the synchronous fold.

A definition with bodies is a sequence of segments: stretches of plain steps
and bodies. :func:`drive` runs each stretch with ``_fold._forward`` (the very
loop a chain runs in) and steps each body's generator: every call it yields
is a saga whose segments are driven the same way, and whose output is sent
back in. The nodes reached are appended to ``trace.nodes`` as they are reached,
so the unwinding and the report see exactly the steps the body ran.

Recursion goes as deep as bodies are nested in the *definition*; a loop of
100,000 steps in one body is 100,000 turns of the ``while`` loop below.
"""

from __future__ import annotations

from returns.result import Success

from typed_saga import _fold
from typed_saga._call import AsyncStepCall, Call
from typed_saga._events import describe_error, log_error
from typed_saga._node import BodyNode, Segment
from typed_saga._trace import Observer, Trace


def drive(
    segs: tuple[Segment, ...], value: object, trace: Trace, obs: Observer
) -> object:
    """Run ``segs`` in order on ``value``. Returns the last ``Success``, or the
    first result that is not one (as ``_fold._forward`` does)."""
    reached = trace.nodes
    assert isinstance(reached, list)
    # never returned: there is always a segment (segments() makes one at least)
    result: object = None  # pragma: no mutate
    state = value
    for seg in segs:
        if isinstance(seg, BodyNode):
            result = _body(seg, state, trace, obs)
        else:
            mapper = trace.run.mapper
            nodes = seg if mapper is None else mapper(seg)
            reached.extend(nodes)
            result = _fold._forward(nodes, state, trace, obs)
        if type(result) is not Success and not isinstance(result, Success):
            return result
        state = result._inner_value
    return result


def _body(body: BodyNode, value: object, trace: Trace, obs: Observer) -> object:
    """Step one body's generator, running each call it yields; ``Success`` of
    what it returns, or the first failure (the body is closed first)."""
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
                reached.append(body)  # the body itself raised: it is what failed
                raise
            if type(call) is not Call:
                reached.append(body)
                raise bad_yield(body, call)
            # its steps, if it has no body: a shortcut for drive() below, which
            # runs a chain's one stretch of steps the same way
            nodes = call.definition.chain  # pragma: no mutate
            if nodes:
                if trace.run.mapper is not None:
                    nodes = trace.run.mapper(nodes)
                reached.extend(nodes)
                result = _fold._forward(nodes, call.value, trace, obs)
            else:
                result = drive(call.definition.segments, call.value, trace, obs)
            if type(result) is not Success and not isinstance(result, Success):
                close(generator, body, trace)
                return result
            sent = result._inner_value
    except BaseException:
        close(generator, body, trace)
        raise


def close(generator: object, body: BodyNode, trace: Trace) -> None:
    """Close a body that will not be resumed (its ``finally`` blocks run). A
    body that raises while closing is logged at ERROR and noted; the run's
    outcome stays that of the step that failed."""
    try:
        generator.close()  # type: ignore[attr-defined]
    except Exception as exc:
        what = f"body {body.name!r} raised while being closed: {describe_error(exc)}"
        trace.add_also(what)
        log_error("%s", what)


def bad_yield(body: BodyNode, item: object) -> TypeError:
    """The error for a body that yielded something other than a step call."""
    if isinstance(item, AsyncStepCall):
        names = item.definition.step_names
        what = (
            f"step {names[0]!r}"
            if len(names) == 1
            else f"saga {item.definition.name or list(names)!r}"
        )
        return TypeError(
            f"body {body.name!r} is a sync Body but called {what}, which is async. "
            "Annotate the body function's return type as `AsyncBody[...]` so that "
            "@saga makes it an AsyncSaga, then `await` its run."
        )
    from typed_saga._saga import _Definition

    if isinstance(item, _Definition):
        hint = (
            f"it yielded the saga {item!r} itself; call it with its input: "
            "`output = yield from that_saga(value)`"
        )
    else:
        hint = (
            f"it yielded a {type(item).__module__}.{type(item).__qualname__}; a body "
            "only yields step calls: `output = yield from some_step(value)`"
            " (with `from`)"
        )
    return TypeError(f"body {body.name!r} yielded something that is not a step: {hint}")
