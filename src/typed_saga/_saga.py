"""The two saga values, :class:`Saga` (sync) and :class:`AsyncSaga`.

Both are immutable definitions: an ordered sequence of steps. ``then``
concatenates, ``map`` appends a pure transformation; neither touches the
original. The runners live in ``_fold`` (sync) and ``_afold`` (async).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import (
    TYPE_CHECKING,
    Generic,
    ParamSpec,
    TypeVar,
    Union,
    cast,
    final,
    overload,
)

from returns.result import Result, Success

from typed_saga import _fold
from typed_saga._call import AsyncCall, Call
from typed_saga._events import Listener, logger
from typed_saga._node import (
    BodyNode,
    Group,
    Leaf,
    Node,
    Policy,
    Segment,
    Step,
    check_name,
    check_policy,
    returns_awaitable,
    segments,
)
from typed_saga._report import SagaReport
from typed_saga._trace import Observer, Trace, build_report

_In_contra = TypeVar("_In_contra", contravariant=True)
_Out_co = TypeVar("_Out_co", covariant=True)
_Err_co = TypeVar("_Err_co", covariant=True)
_New = TypeVar("_New")
_E2 = TypeVar("_E2")
_P = ParamSpec("_P")

_Part = Union[Node, "_Definition"]
_debugging = logger.isEnabledFor


class _Definition:
    """Shared storage: a tree of parts flattened once, on first use.

    ``then`` is O(1) (it pairs two definitions), so building a 100,000-step
    saga in a loop stays linear; the flat tuple of nodes is computed by an
    explicit stack (no recursion) and cached, which is invisible from outside.
    """

    __slots__ = (
        "_chain",
        "_flat",
        "_listeners",
        "_name",
        "_parts",
        "_quiet",
        "_segments",
    )

    is_async: bool = False
    _parts: tuple[_Part, ...]
    _flat: tuple[Node, ...] | None
    _segments: tuple[Segment, ...] | None
    _chain: tuple[Leaf, ...] | None  # () also for a definition with bodies
    _name: str | None
    _listeners: tuple[Listener, ...]
    _quiet: Observer | None

    def __init__(
        self,
        parts: tuple[_Part, ...],
        name: str | None = None,
        listeners: tuple[Listener, ...] = (),
    ) -> None:
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "_flat", None)
        object.__setattr__(self, "_segments", None)
        object.__setattr__(self, "_chain", None)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_listeners", listeners)
        object.__setattr__(self, "_quiet", None)

    if not TYPE_CHECKING:  # mypy: unknown attributes stay type errors

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(
                f"{type(self).__name__} is immutable: then(), map() and named() "
                "return new sagas instead"
            )

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self._parts, self._name, self._listeners))

    def __copy__(self) -> _Definition:
        return self  # an immutable value

    def __deepcopy__(self, memo: object) -> _Definition:
        return self

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node in run order (``parallel`` groups are one node each)."""
        flat = self._flat
        if flat is None:
            out: list[Node] = []
            stack: list[_Part] = [self]
            while stack:
                part = stack.pop()
                if isinstance(part, Step | Group | BodyNode):
                    out.append(part)
                elif part._flat is not None:
                    out.extend(part._flat)
                else:
                    stack.extend(reversed(part._parts))
            flat = tuple(out)
            object.__setattr__(self, "_flat", flat)  # benign: same value every time
        return flat

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The nodes split at bodies (one tuple for a plain chain), cached."""
        segs = self._segments
        if segs is None:
            segs = segments(self.nodes)
            object.__setattr__(self, "_segments", segs)  # benign, like _flat
        return segs

    @property
    def chain(self) -> tuple[Leaf, ...]:
        """The steps in order when the definition has no body (else ``()``):
        what a run records against, cached."""
        chain = self._chain
        if chain is None:
            segs = self.segments
            chain = segs[0] if len(segs) == 1 and isinstance(segs[0], tuple) else ()
            object.__setattr__(self, "_chain", chain)  # benign, like _flat
        return chain

    def _trace(self, run_id: str | None) -> Trace:
        """A fresh trace for one run: a chain records against its own tuple of
        nodes, a definition with bodies against a list of the nodes reached."""
        chain = self._chain
        if chain is None:
            chain = self.chain
        return Trace(
            chain if chain else [],
            self._name,
            None if run_id is None else _check_run_id(run_id),
        )

    def _begin(
        self, listeners: Sequence[Listener], run_id: str | None
    ) -> tuple[Trace, Observer]:
        """A run's trace and observer: the shared quiet stand-in when nobody
        listens (see ``Observer.quiet``). Kept short: it is most of what a run
        costs beyond calling the actions."""
        trace = self._trace(run_id)
        if listeners or self._listeners or _debugging(logging.DEBUG):
            return trace, Observer(
                self._name,
                (*self._listeners, *_check_listeners(listeners)),
                trace.run,
            )
        stand_in = self._quiet
        if stand_in is None:
            stand_in = Observer.quiet(self._name)
            object.__setattr__(self, "_quiet", stand_in)  # benign, like _flat
        return trace, stand_in

    @property
    def name(self) -> str | None:
        """The saga's name (see ``named``), used in events, logs and reports."""
        return self._name

    @property
    def step_names(self) -> tuple[str, ...]:
        """The names of the steps, in order (a ``parallel`` group counts as one)."""
        return tuple(node.name for node in self.nodes if not node.hidden)

    def __len__(self) -> int:
        """The number of steps (``map`` stages do not count)."""
        return len(self.step_names)

    def __repr__(self) -> str:
        names = self.step_names
        shown = ", ".join(map(repr, names[:5])) + (", ..." if len(names) > 5 else "")
        label = "" if self._name is None else f" {self._name!r}"
        return f"<{type(self).__name__}{label} [{shown}]>"

    def _observer(self, listeners: Sequence[Listener], trace: Trace) -> Observer:
        """The observer for a run of ``trace`` (see :meth:`_begin`)."""
        if listeners or self._listeners or _debugging(logging.DEBUG):
            return Observer(
                self._name,
                (*self._listeners, *_check_listeners(listeners)),
                trace.run,
            )
        stand_in = self._quiet
        if stand_in is None:
            stand_in = Observer.quiet(self._name)
            object.__setattr__(self, "_quiet", stand_in)  # benign, like _flat
        return stand_in


def _map_step(function: object) -> Step:
    if not callable(function):
        raise TypeError(
            "map() takes a function of the previous output, "
            f"got {type(function).__name__}"
        )
    if isinstance(function, _Definition):
        raise TypeError(
            "map() takes a plain function of the previous output, got a saga; "
            "to run another saga after this one, use .then(other)"
        )
    if returns_awaitable(function):
        raise TypeError(
            "map() takes a plain (pure, synchronous) function; for async work "
            "use .then(step(name, async_function))"
        )
    name = callable_name(function)

    def lift(value: object) -> object:
        return Success(function(value))

    return Step(f"map({name})", lift, None, hidden=True, sync=True)


def callable_name(function: object) -> str:
    """A name for a function in notes, events and spans: its qualified name,
    never the ``repr`` of a ``functools.partial`` (its bound arguments may be
    secrets)."""
    inner = function
    while isinstance(inner, functools.partial):
        inner = inner.func
    name = getattr(inner, "__qualname__", None)
    if not isinstance(name, str):
        name = type(inner).__qualname__
    return f"partial({name})" if inner is not function else name


def _check_saga(other: object) -> None:
    if not isinstance(other, Saga | AsyncSaga):
        raise TypeError(
            f"then() takes a saga, got {type(other).__name__}; wrap a function "
            "with step(name, function, compensate=...) first"
        )


def _check_listeners(listeners: Sequence[object]) -> tuple[Listener, ...]:
    listeners = tuple(listeners)
    for index, listener in enumerate(listeners):
        if not callable(listener):
            raise TypeError(
                f"listener {index} is a {type(listener).__name__}, not callable; "
                "a listener is a function taking one event"
            )
    return cast("tuple[Listener, ...]", tuple(listeners))


def _check_run_id(run_id: object) -> str | None:
    if run_id is None or (isinstance(run_id, str) and run_id.strip()):
        return run_id
    raise ValueError(
        f"run_id must be a non-empty string or None (a fresh id), got {run_id!r}"
    )


def _joined(
    first: _Definition, second: _Definition
) -> tuple[tuple[_Part, ...], str | None, tuple[Listener, ...]]:
    """What ``first.then(second)`` is made of: both, ``first``'s name, and the
    listeners of both (each once), which then hear the whole run."""
    listeners = list(first._listeners)
    listeners.extend(x for x in second._listeners if x not in listeners)
    return (first, second), first._name, tuple(listeners)


@final
class Saga(_Definition, Generic[_In_contra, _Out_co, _Err_co]):
    """A synchronous saga: run its steps in order, undo them in reverse on failure.

    Build one with :func:`~typed_saga.step` or :func:`~typed_saga.saga`,
    compose with :meth:`then` and :meth:`map`, run with :meth:`run`; call it
    with its input inside a body (``out = yield from a_saga(value)``).

    >>> from returns.result import Failure, Result, Success
    >>> undone = []
    >>> def reserve(n: int) -> Result[int, str]:
    ...     return Success(n)
    >>> def release(n: int) -> Result[None, str]:
    ...     undone.append(n)
    ...     return Success(None)
    >>> def charge(n: int) -> Result[str, str]:
    ...     return Failure("card declined") if n > 10 else Success(f"paid {n}")
    >>> from typed_saga import step
    >>> reservation = step("reserve", reserve, compensate=release)
    >>> order = reservation.then(step("charge", charge))
    >>> order.run(3)
    <Success: paid 3>
    >>> order.run(42)
    <Failure: card declined>
    >>> undone
    [42]
    """

    __slots__ = ()

    def __call__(self, value: _In_contra) -> Call[_Out_co, _Err_co]:
        """This saga called with ``value``, for a body: ``yield from`` it to run
        its steps and get its output. Nothing runs until then."""
        call = object.__new__(Call)
        call.definition, call.value = self, value
        return call

    @overload
    def then(
        self, other: Saga[_Out_co, _New, _E2]
    ) -> Saga[_In_contra, _New, _Err_co | _E2]: ...
    @overload
    def then(
        self, other: AsyncSaga[_Out_co, _New, _E2]
    ) -> AsyncSaga[_In_contra, _New, _Err_co | _E2]: ...
    def then(
        self, other: Saga[_Out_co, _New, _E2] | AsyncSaga[_Out_co, _New, _E2]
    ) -> (
        Saga[_In_contra, _New, _Err_co | _E2]
        | AsyncSaga[_In_contra, _New, _Err_co | _E2]
    ):
        """Run ``other`` after this saga, feeding it this saga's output.

        Returns a new saga (with this saga's name, and the listeners of both);
        ``self`` is unchanged. A failure anywhere in the result unwinds the
        steps of both. Chaining an :class:`AsyncSaga` makes the whole an
        :class:`AsyncSaga`.
        """
        _check_saga(other)
        if isinstance(other, AsyncSaga):
            return AsyncSaga(*_joined(self, other))
        return Saga(*_joined(self, other))

    def map(
        self, function: Callable[[_Out_co], _New]
    ) -> Saga[_In_contra, _New, _Err_co]:
        """Transform the output with a pure function that cannot fail.

        A ``map`` stage is not a step: it has no compensation and is absent
        from reports (if it raises, the run unwinds as for any exception).

        >>> from returns.result import Success
        >>> from typed_saga import step
        >>> step("one", lambda n: Success(n + 1)).map(str).run(1)
        <Success: 2>
        """
        return Saga((self, _map_step(function)), self._name, self._listeners)

    def named(self, name: str) -> Saga[_In_contra, _Out_co, _Err_co]:
        """The same saga with a name, shown in events, logs and reports."""
        return Saga(self._parts, check_name(name, "saga"), self._listeners)

    def with_listeners(
        self, *listeners: Listener
    ) -> Saga[_In_contra, _Out_co, _Err_co]:
        """The same saga, with listeners that receive the events of every run."""
        return Saga(
            self._parts, self._name, (*self._listeners, *_check_listeners(listeners))
        )

    def to_mermaid(self) -> str:
        """A Mermaid ``flowchart`` of the steps in order: each compensation as a
        dashed edge to an "undo" node, steps without one labelled so, ``parallel``
        groups as subgraphs; ``map`` stages are left out. A body is one box:
        its steps are only known when it runs (draw a run with
        ``SagaReport.to_mermaid()``). Paste it into a ``mermaid`` code block
        (GitHub renders it).

        >>> from returns.result import Success
        >>> from typed_saga import step
        >>> saga = step("reserve", Success, compensate=lambda _: Success(None))
        >>> print(saga.then(step("charge", Success)).to_mermaid(), end="")
        flowchart TD
            s0["reserve"]
            s0u(["undo reserve"]):::undo
            s0 -.-> s0u
            s1["charge<br/>(no compensation)"]
            s0 --> s1
            classDef undo fill:#f3f4f6,stroke:#6b7280,color:#374151,stroke-dasharray:4 4
        """
        from typed_saga._mermaid import saga_diagram

        return saga_diagram(self.nodes, self._name)

    def run(
        self,
        value: _In_contra,
        *,
        on_compensation_failure: Policy = "stop",
        listeners: Sequence[Listener] = (),
        run_id: str | None = None,
    ) -> Result[_Out_co, _Err_co]:
        """Run the saga on ``value``.

        Returns the last step's ``Success``, or — after compensating the
        completed steps in reverse — the very ``Failure`` the failing step
        returned. An action that raises is unwound the same way and the
        exception is re-raised with a note naming the step (and the run's
        report kept on it: :meth:`SagaReport.of`).

        ``on_compensation_failure``: ``"stop"`` (default) ends the unwinding at
        the first compensation that fails; ``"continue"`` tries every one.
        ``run_id``: the id :func:`~typed_saga.current_step` and events give
        (default: a fresh random one).
        """
        policy = (
            on_compensation_failure
            if on_compensation_failure == "stop"
            else check_policy(on_compensation_failure)
        )
        trace, obs = self._begin(listeners, run_id)
        return _fold.run_nodes(self.segments, value, policy, obs, trace)  # type: ignore[return-value]

    def run_with_report(
        self,
        value: _In_contra,
        *,
        on_compensation_failure: Policy = "stop",
        listeners: Sequence[Listener] = (),
        run_id: str | None = None,
    ) -> SagaReport[_Out_co, _Err_co]:
        """Like :meth:`run`, but also tell what happened to every step (for a
        body, every step it reached).

        >>> from returns.result import Failure, Success
        >>> from typed_saga import step
        >>> saga = step("a", Success, compensate=lambda _: Success(None)).then(
        ...     step("b", lambda _: Failure("boom"))
        ... )
        >>> print(saga.run_with_report(1))
        saga failed at step 'b'
        step  outcome      error
        ----  -----------  ------
        a     compensated
        b     failed       'boom'
        """
        policy = check_policy(on_compensation_failure)
        trace, obs = self._begin(listeners, run_id)
        result = _fold.run_nodes(self.segments, value, policy, obs, trace)
        return cast(
            "SagaReport[_Out_co, _Err_co]", build_report(result, trace, self._name)
        )


@final
class AsyncSaga(_Definition, Generic[_In_contra, _Out_co, _Err_co]):
    """A saga with at least one async step; ``await saga.run(value)``.

    Runs on asyncio and trio (through anyio). Sync steps run inline, on the
    event loop. If the run is cancelled while a step is in flight, the
    completed steps are compensated inside a shielded scope, then the
    cancellation propagates.
    """

    __slots__ = ()
    is_async = True

    def __call__(self, value: _In_contra) -> AsyncCall[_Out_co, _Err_co]:
        """This saga called with ``value``, for an async body: ``yield from``
        it to run its steps and get its output."""
        return AsyncCall(self, value)

    def then(
        self, other: Saga[_Out_co, _New, _E2] | AsyncSaga[_Out_co, _New, _E2]
    ) -> AsyncSaga[_In_contra, _New, _Err_co | _E2]:
        """Run ``other`` (sync or async) after this saga; returns a new saga
        (with this saga's name, and the listeners of both)."""
        _check_saga(other)
        return AsyncSaga(*_joined(self, other))

    def map(
        self, function: Callable[[_Out_co], _New]
    ) -> AsyncSaga[_In_contra, _New, _Err_co]:
        """Transform the output with a pure, synchronous function."""
        return AsyncSaga((self, _map_step(function)), self._name, self._listeners)

    def named(self, name: str) -> AsyncSaga[_In_contra, _Out_co, _Err_co]:
        """The same saga with a name, shown in events, logs and reports."""
        return AsyncSaga(self._parts, check_name(name, "saga"), self._listeners)

    def with_listeners(
        self, *listeners: Listener
    ) -> AsyncSaga[_In_contra, _Out_co, _Err_co]:
        """The same saga, with listeners that receive the events of every run."""
        return AsyncSaga(
            self._parts, self._name, (*self._listeners, *_check_listeners(listeners))
        )

    def to_mermaid(self) -> str:
        """A Mermaid ``flowchart`` of the steps in order: each compensation as a
        dashed edge to an "undo" node, steps without one labelled so, ``parallel``
        groups as subgraphs; ``map`` stages are left out. A body is one box:
        its steps are only known when it runs.
        """
        from typed_saga._mermaid import saga_diagram

        return saga_diagram(self.nodes, self._name)

    async def run(
        self,
        value: _In_contra,
        *,
        on_compensation_failure: Policy = "stop",
        compensation_timeout: float | None = None,
        listeners: Sequence[Listener] = (),
        run_id: str | None = None,
    ) -> Result[_Out_co, _Err_co]:
        """Run the saga on ``value``; same contract as :meth:`Saga.run`.

        ``compensation_timeout`` (seconds) bounds each compensation, so a hung
        one cannot hold the shielded unwinding forever; one that times out
        counts as failed (the policy applies) and is logged. Only an ``await``
        can be interrupted: a compensation that blocks without awaiting (or
        awaits a thread that cannot be abandoned) runs to its end, and counts as
        failed if that end comes after the timeout.
        """
        result, _ = await self._run(
            value, on_compensation_failure, compensation_timeout, listeners, run_id
        )
        return cast("Result[_Out_co, _Err_co]", result)

    async def run_with_report(
        self,
        value: _In_contra,
        *,
        on_compensation_failure: Policy = "stop",
        compensation_timeout: float | None = None,
        listeners: Sequence[Listener] = (),
        run_id: str | None = None,
    ) -> SagaReport[_Out_co, _Err_co]:
        """Like :meth:`run`, but also tell what happened to every step."""
        result, trace = await self._run(
            value, on_compensation_failure, compensation_timeout, listeners, run_id
        )
        return cast(
            "SagaReport[_Out_co, _Err_co]", build_report(result, trace, self._name)
        )

    async def _run(
        self,
        value: object,
        on_compensation_failure: Policy,
        compensation_timeout: float | None,
        listeners: Sequence[Listener],
        run_id: str | None,
    ) -> tuple[Result[object, object], Trace]:
        """What :meth:`run` and :meth:`run_with_report` share: check the
        options, run, return the result and the run's trace."""
        policy = check_policy(on_compensation_failure)
        timeout = _check_timeout(compensation_timeout)
        trace, obs = self._begin(listeners, run_id)
        from typed_saga import _afold  # loaded by the first async run only

        result = await _afold.run_nodes(
            self.segments,
            value,
            policy,
            obs,
            timeout=timeout,
            trace=trace,
        )
        return result, trace


@final
class MultiStep(_Definition, Generic[_P, _Out_co, _Err_co]):
    """A step whose action takes several arguments: ``step(name, action)`` of
    such an action. A body calls it with all of them, each checked:
    ``receipt = yield from charge(card, flight, hotel)``. (``then`` links only
    one-argument sagas: use a body to feed several values to one step.)

    >>> from returns.result import Result, Success
    >>> from typed_saga import step
    >>> def transfer(source: str, target: str) -> Result[str, str]:
    ...     return Success(f"{source}->{target}")
    >>> step("transfer", transfer)
    <MultiStep ['transfer']>
    """

    __slots__ = ()

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> Call[_Out_co, _Err_co]:
        """This step called with its arguments, for a body: ``yield from`` it."""
        return Call(self, (args, kwargs))


@final
class AsyncMultiStep(_Definition, Generic[_P, _Out_co, _Err_co]):
    """:class:`MultiStep` of an async action: called in an ``AsyncBody``."""

    __slots__ = ()
    is_async = True

    def __call__(
        self, *args: _P.args, **kwargs: _P.kwargs
    ) -> AsyncCall[_Out_co, _Err_co]:
        """This step called with its arguments, for an async body."""
        return AsyncCall(self, (args, kwargs))


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not timeout > 0
    ):
        raise ValueError(
            "compensation_timeout must be a positive number of seconds or None, "
            f"got {timeout!r}"
        )
    return float(timeout)
