"""The seam for engines that run saga definitions elsewhere (durably, or on a
fleet of workers): ``typed_saga.dbos`` and ``typed_saga.temporal`` are built
on it, and import nothing private.

An engine needs three things, and this module offers them:

* :func:`blueprint`: what a definition is made of — every step it can reach
  (through bodies too), each with its action, compensation and retry policy,
  a fingerprint that changes when the steps or the bodies change, and the
  definition's input and output types as its annotations say (for an engine
  whose values cross a wire: :func:`result_types` gives a step's).
* :func:`run` / :func:`run_async`: the in-process runner itself (the same
  fold, the same rules, reports and events), with every call of an action and
  of a compensation handed to the engine's ``invoke`` / ``undo`` instead of
  being made directly. Inside them :func:`~typed_saga.current_step` gives the
  run, the step's name in this run and its key, as for any run.
* :func:`running_step`: sets what :func:`~typed_saga.current_step` says where
  the engine runs a step away from the fold (a worker process).
* :class:`Runtime`: how the async runner runs ``parallel`` branches together
  and shields its unwinding; :data:`ANYIO` unless the engine brings its own
  (a Temporal workflow's event loop cannot host anyio's cancel scopes).

>>> from returns.result import Failure, Result, Success
>>> from typed_saga import step
>>> calls: list[str] = []
>>> def invoke(info: StepInfo, value: object) -> object:
...     calls.append(f"do {info.name}")
...     return info.action(value)
>>> def undo(info: StepInfo, value: object) -> object:
...     calls.append(f"undo {info.name}")
...     assert info.compensate is not None
...     return info.compensate(value)
>>> saga = step("a", Success, compensate=lambda _: Success(None)).then(
...     step("b", lambda _: Failure("no"))
... )
>>> run(saga, 1, invoke=invoke, undo=undo)
<Failure: no>
>>> calls
['do a', 'do b', 'undo a']
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import typing
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import CodeType
from typing import Any, TypeAlias, TypeVar, cast, final

from returns.result import Result

from typed_saga import _afold, _fold
from typed_saga._afold import ANYIO, Runtime
from typed_saga._context import OVERRIDE, StepContext
from typed_saga._events import Listener
from typed_saga._node import BodyNode, Group, Leaf, Node, Policy, Step, check_policy
from typed_saga._report import SagaReport
from typed_saga._retry import Retry
from typed_saga._saga import AsyncMultiStep, AsyncSaga, MultiStep, Saga, _Definition
from typed_saga._trace import build_report

__all__ = (
    "ANYIO",
    "Blueprint",
    "Definition",
    "Invoke",
    "Runtime",
    "StepInfo",
    "blueprint",
    "result_types",
    "run",
    "run_async",
    "run_async_with_report",
    "run_with_report",
    "running_step",
)

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Err = TypeVar("_Err")

Definition: TypeAlias = (
    Saga[Any, Any, Any]
    | AsyncSaga[Any, Any, Any]
    | MultiStep[..., Any, Any]
    | AsyncMultiStep[..., Any, Any]
)
"""Anything :func:`blueprint` can describe."""


@final
@dataclass(frozen=True, slots=True, eq=False)
class StepInfo:
    """One step of a definition, as an engine needs it.

    ``action(input)`` does the work (for a step of several parameters, the
    input is ``(args, kwargs)``); ``compensate(output)`` undoes it, if there is
    one. Either may return a ``Result``, an awaitable of one, or a
    ``FutureResult`` (``is_async`` / ``compensate_is_async`` say which to
    expect). Both are the functions as the user gave them: the engine applies
    ``retry`` its own way.
    """

    name: str
    action: Callable[[object], object]
    compensate: Callable[[object], object] | None
    is_async: bool
    compensate_is_async: bool
    retry: Retry | None


@final
@dataclass(frozen=True, slots=True, eq=False)
class Blueprint:
    """What a definition is made of (see :func:`blueprint`).

    ``input_type`` / ``output_type``: the definition's input and output types
    as the annotations of its first and last parts say (a step's action, a
    body, a ``map`` function, ``parallel`` branches: a ``tuple`` of theirs),
    or ``inspect.Parameter.empty`` where they say nothing (a ``lambda``)."""

    name: str | None
    is_async: bool
    steps: tuple[StepInfo, ...]
    fingerprint: str
    input_type: object = inspect.Parameter.empty
    output_type: object = inspect.Parameter.empty

    def step(self, name: str) -> StepInfo:
        """The step called ``name``; ``KeyError`` if there is none."""
        for info in self.steps:
            if info.name == name:
                return info
        raise KeyError(name)


def blueprint(definition: Definition) -> Blueprint:
    """Describe ``definition``: its name, whether it is async, every step it
    can reach (in a chain, in ``parallel`` branches, and in the sagas a body
    calls — found among the names the body's code refers to, in its module
    and closure), each once, and a fingerprint of all that, which changes when
    a step is added, removed or renamed, or a body's code changes.

    Two different steps with one name cannot be told apart by an engine that
    names its own records after the step: that is a ``ValueError`` here.

    >>> from returns.result import Success
    >>> from typed_saga import step
    >>> plan = blueprint(step("a", Success).then(step("b", Success)))
    >>> [info.name for info in plan.steps], len(plan.fingerprint)
    (['a', 'b'], 16)
    >>> def parse(text: str) -> Result[int, ValueError]:
    ...     return Success(int(text))
    >>> typed = blueprint(step("parse", parse).map(float))
    >>> typed.input_type, typed.output_type
    (<class 'str'>, <class 'float'>)
    """
    if not isinstance(definition, _Definition):
        raise TypeError(
            f"blueprint() takes a saga definition, got {type(definition).__name__}"
        )
    found = _Discovery()
    found.walk(definition.nodes)
    digest = hashlib.sha256("\n".join(found.shape).encode()).hexdigest()[:16]
    nodes = definition.nodes
    return Blueprint(
        definition.name,
        definition.is_async,
        tuple(found.steps.values()),
        digest,
        _input_type(nodes),
        _output_type(nodes),
    )


def result_types(function: Callable[..., object]) -> tuple[object, object] | None:
    """``(Out, Err)`` for an action or compensation annotated to return
    ``Result[Out, Err]`` (``async def`` too), ``FutureResult[Out, Err]``, or
    an awaitable of a ``Result``; ``None`` where the annotation says nothing.

    >>> def parse(text: str) -> Result[int, ValueError]:
    ...     return Result.from_value(int(text))
    >>> result_types(parse)
    (<class 'int'>, <class 'ValueError'>)
    >>> result_types(lambda text: None) is None
    True
    """
    annotation = _hints(function).get("return", inspect.Parameter.empty)
    for _ in range(3):  # Coroutine[..., Result[...]], Awaitable[Result[...]]
        origin = typing.get_origin(annotation)
        name = getattr(origin, "__name__", "")
        args = typing.get_args(annotation)
        if name in {"Result", "FutureResult", "IOResult"} and len(args) == 2:
            return args[0], args[1]
        if name in {"Coroutine", "Awaitable"} and args:
            annotation = args[-1]
            continue
        break
    return None


def _hints(function: object) -> dict[str, object]:
    """The resolved annotations of a function (through ``functools.wraps``,
    ``partial``, a callable object's ``__call__``); ``{}`` when unreadable."""
    target = function
    with contextlib.suppress(ValueError):  # a __wrapped__ cycle
        target = inspect.unwrap(target)  # type: ignore[arg-type]
    while isinstance(target, functools.partial):
        target = target.func
    if not inspect.isroutine(target) and not isinstance(target, type):
        target = getattr(type(target), "__call__", target)  # noqa: B004
    try:
        return typing.get_type_hints(target)
    except Exception:  # a name that cannot be resolved, a builtin
        return {}


def _first_parameter(function: object) -> object:
    """The annotation of ``function``'s first parameter (``empty`` if none)."""
    try:
        parameters = list(inspect.signature(function).parameters)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return inspect.Parameter.empty
    if not parameters:
        return inspect.Parameter.empty
    return _hints(function).get(parameters[0], inspect.Parameter.empty)


def _input_type(nodes: tuple[Node, ...]) -> object:
    if not nodes:
        return inspect.Parameter.empty
    first = nodes[0]
    if isinstance(first, Group):
        return _input_type(first.branches[0]) if first.branches else object
    if isinstance(first, BodyNode):
        return _first_parameter(first.function)
    return _first_parameter(first.source[0])


def _output_type(nodes: tuple[Node, ...]) -> object:
    last = nodes[-1] if nodes else None
    found: object = inspect.Parameter.empty
    if isinstance(last, Group):
        outs = tuple(_output_type(branch) for branch in last.branches)
        if inspect.Parameter.empty not in outs:
            found = (
                list[cast("Any", typing.Union)[outs]]  # type: ignore[misc]
                if last.as_list
                else cast("Any", tuple)[outs]
            )
    elif isinstance(last, BodyNode):
        annotation = _hints(last.function).get("return")
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in {Generator, typing.Generator}:
            found = args[2] if len(args) == 3 else found
        elif len(args) == 2:  # Body[Out, Err], AsyncBody[Out, Err]
            found = args[0]
    elif last is not None and last.hidden:  # a map stage: its function's return
        mapped = inspect.getclosurevars(last.source[0]).nonlocals.get("function")
        if isinstance(mapped, type):  # a class: what it makes
            found = mapped
        else:
            found = _hints(mapped).get("return", found)
    elif last is not None:
        types = result_types(last.source[0])
        found = found if types is None else types[0]
    return found


Invoke: TypeAlias = Callable[[StepInfo, object], object]
"""An engine's way to call a step's action (or compensation) with a value:
returns what the function returns (a ``Result``, or for an async run an
awaitable of one)."""


def run(
    definition: Saga[_In, _Out, _Err],
    value: _In,
    *,
    invoke: Invoke,
    undo: Invoke,
    on_compensation_failure: Policy = "stop",
    run_id: str | None = None,
    listeners: Sequence[Listener] = (),
) -> Result[_Out, _Err]:
    """Run a sync definition as :meth:`Saga.run <typed_saga.Saga.run>` does,
    but call every action through ``invoke(step, input)`` and every
    compensation through ``undo(step, output)``. ``map`` stages and bodies'
    own code run inline (they are pure glue)."""
    return run_with_report(
        definition,
        value,
        invoke=invoke,
        undo=undo,
        on_compensation_failure=on_compensation_failure,
        run_id=run_id,
        listeners=listeners,
    ).result


def run_with_report(
    definition: Saga[_In, _Out, _Err],
    value: _In,
    *,
    invoke: Invoke,
    undo: Invoke,
    on_compensation_failure: Policy = "stop",
    run_id: str | None = None,
    listeners: Sequence[Listener] = (),
) -> SagaReport[_Out, _Err]:
    """:func:`run`, with the run's report."""
    policy = check_policy(on_compensation_failure)
    trace = definition._trace(run_id)
    mapper = _Mapper(invoke, undo)
    trace.mapper = mapper
    segs = definition.segments
    first = segs[0]
    if isinstance(trace.nodes, tuple) and isinstance(first, tuple):
        mapped = mapper(first)  # a chain: its steps are known, map them now
        trace.nodes, segs = mapped, (mapped,)
    result = _fold.run_nodes(
        segs, value, policy, definition._observer(listeners, trace), trace
    )
    return cast("SagaReport[_Out, _Err]", build_report(result, trace, definition.name))


async def run_async(
    definition: Saga[_In, _Out, _Err] | AsyncSaga[_In, _Out, _Err],
    value: _In,
    *,
    invoke: Invoke,
    undo: Invoke,
    on_compensation_failure: Policy = "stop",
    run_id: str | None = None,
    listeners: Sequence[Listener] = (),
    runtime: Runtime | None = None,
) -> Result[_Out, _Err]:
    """Run a definition on the async runner (asyncio or trio), every action
    and compensation called through ``invoke`` / ``undo`` (which may return
    awaitables); cancellation unwinds as for any ``AsyncSaga``. ``runtime``:
    how branches run together and the unwinding is shielded (default:
    :data:`ANYIO`)."""
    report = await run_async_with_report(
        definition,
        value,
        invoke=invoke,
        undo=undo,
        on_compensation_failure=on_compensation_failure,
        run_id=run_id,
        listeners=listeners,
        runtime=runtime,
    )
    return report.result


async def run_async_with_report(
    definition: Saga[_In, _Out, _Err] | AsyncSaga[_In, _Out, _Err],
    value: _In,
    *,
    invoke: Invoke,
    undo: Invoke,
    on_compensation_failure: Policy = "stop",
    run_id: str | None = None,
    listeners: Sequence[Listener] = (),
    compensation_timeout: float | None = None,
    runtime: Runtime | None = None,
) -> SagaReport[_Out, _Err]:
    """:func:`run_async`, with the run's report."""
    policy = check_policy(on_compensation_failure)
    trace = definition._trace(run_id)
    mapper = _Mapper(invoke, undo, asynchronous=True)
    trace.mapper = mapper
    segs = definition.segments
    first = segs[0]
    if isinstance(trace.nodes, tuple) and isinstance(first, tuple):
        mapped = mapper(first)  # a chain: its steps are known, map them now
        trace.nodes, segs = mapped, (mapped,)
    result = await _afold.run_nodes(
        segs,
        value,
        policy,
        definition._observer(listeners, trace),
        timeout=compensation_timeout,
        trace=trace,
        runtime=runtime,
    )
    return cast("SagaReport[_Out, _Err]", build_report(result, trace, definition.name))


@contextmanager
def running_step(context: StepContext, *, attempt: int | None = None) -> Iterator[None]:
    """Inside, :func:`~typed_saga.current_step` gives ``context``: for an
    engine that runs a step's function away from the fold (an activity on a
    worker), with the run id, step name and attempt the fold would give;
    ``attempt``, when given, replaces the context's (the engine's own count)."""
    if attempt is not None:
        context = StepContext(
            run_id=context.run_id,
            saga=context.saga,
            step=context.step,
            attempt=attempt,
            compensating=context.compensating,
            branch=context.branch,
        )
    token = OVERRIDE.set(context)
    try:
        yield
    finally:
        OVERRIDE.reset(token)


# -- the mapping of a run's steps onto the engine ------------------------------


class _Mapper:
    """Maps each stretch of a run's steps to the same steps calling the
    engine; remembers each step's mapping (and that mapped steps map to
    themselves), so a step reached again is mapped once."""

    __slots__ = ("_done", "_invoke", "_undo", "asynchronous")

    def __init__(
        self, invoke: Invoke, undo: Invoke, *, asynchronous: bool = False
    ) -> None:
        self._invoke = invoke
        self._undo = undo
        self.asynchronous = asynchronous
        self._done: dict[int, Leaf] = {}

    def __call__(self, nodes: tuple[Leaf, ...]) -> tuple[Leaf, ...]:
        return tuple(self.leaf(node) for node in nodes)

    def leaf(self, node: Leaf) -> Leaf:
        done = self._done.get(id(node))
        if done is not None:
            return done
        if isinstance(node, Group):
            mapped: Leaf = Group(
                node.name,
                tuple(tuple(self.node(n) for n in branch) for branch in node.branches),
                node.inputs,
                as_list=node.as_list,
            )
        elif node.hidden:
            mapped = node  # a map stage: pure, it runs inline
        else:
            mapped = self.step(node)
        self._done[id(node)] = mapped
        self._done[id(mapped)] = mapped
        return mapped

    def node(self, node: Node) -> Node:
        return node if isinstance(node, BodyNode) else self.leaf(node)

    def step(self, node: Step) -> Step:
        info = _info(node)
        invoke, undo = self._invoke, self._undo

        def action(value: object) -> object:
            return invoke(info, value)

        def compensate(output: object) -> object:
            return undo(info, output)

        return Step(
            node.name,
            action,
            None if node.compensate is None else compensate,
            is_async=self.asynchronous or node.is_async,
            compensate_is_async=self.asynchronous or node.compensate_is_async,
        )


def _info(node: Step) -> StepInfo:
    action, compensate = node.source
    return StepInfo(
        node.name,
        action,
        compensate,
        node.is_async,
        node.compensate_is_async,
        node.retry,
    )


class _Discovery:
    """Walks a definition for :func:`blueprint`: its steps by name, and the
    lines its fingerprint is made of."""

    def __init__(self) -> None:
        self.steps: dict[str, StepInfo] = {}
        self._nodes: dict[str, Step] = {}
        self._bodies: set[int] = set()
        self.shape: list[str] = []

    def walk(self, nodes: tuple[Node, ...], depth: int = 0) -> None:
        pad = "  " * depth
        for node in nodes:
            if isinstance(node, Group):
                self.shape.append(f"{pad}parallel {node.name}")
                for branch in node.branches:
                    self.shape.append(f"{pad} branch")
                    self.walk(branch, depth + 1)
            elif isinstance(node, BodyNode):
                self.body(node, pad, depth)
            elif node.hidden:
                self.shape.append(f"{pad}map")
            else:
                self.add(node, pad)

    def add(self, node: Step, pad: str) -> None:
        known = self._nodes.get(node.name)
        if known is not None and known is not node and known.source != node.source:
            raise ValueError(
                f"two different steps are named {node.name!r}; an engine names its "
                "records after the step, so give them different names"
            )
        self._nodes[node.name] = node
        self.steps.setdefault(node.name, _info(node))
        undo = "" if node.compensate is None else " + undo"
        self.shape.append(f"{pad}step {node.name}{undo}")

    def body(self, node: BodyNode, pad: str, depth: int) -> None:
        self.shape.append(f"{pad}body {node.name} {_code_digest(node.function)}")
        if id(node) in self._bodies:
            return
        self._bodies.add(id(node))
        for called in _referenced_definitions(node.function):
            self.shape.append(f"{pad} calls {called.name or ''}")
            self.walk(called.nodes, depth + 1)


def _referenced_definitions(function: object) -> list[_Definition]:
    """The saga definitions a body's code refers to by name: globals of its
    module and variables of its closure (nested comprehensions included)."""
    target = inspect.unwrap(function) if callable(function) else function
    code = getattr(target, "__code__", None)
    if not isinstance(code, CodeType):
        return []
    scope: dict[str, object] = dict(getattr(target, "__globals__", {}))
    closure = getattr(target, "__closure__", None) or ()
    for name, cell in zip(code.co_freevars, closure, strict=False):
        try:
            scope[name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    found: list[_Definition] = []
    seen: set[int] = set()
    for name in _names(code):
        value = scope.get(name)
        if isinstance(value, _Definition) and id(value) not in seen:
            seen.add(id(value))
            found.append(value)
    return found


def _names(code: CodeType) -> Iterator[str]:
    yield from code.co_names
    yield from code.co_freevars
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _names(const)


def _code_digest(function: object) -> str:
    target = inspect.unwrap(function) if callable(function) else function
    code = getattr(target, "__code__", None)
    if not isinstance(code, CodeType):
        return "?"
    parts: list[bytes] = []
    stack = [code]
    while stack:
        current = stack.pop()
        parts.append(current.co_code)
        parts.append(repr(current.co_names).encode())
        stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
    return hashlib.sha256(b"".join(parts)).hexdigest()[:12]
