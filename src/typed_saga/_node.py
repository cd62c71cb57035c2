"""The flat, immutable pieces a saga definition is made of.

A definition is a tuple of nodes. A :class:`Step` is one action with its
optional compensation; a :class:`Group` is a ``parallel(...)`` fan-out whose
branches are tuples of nodes themselves; a :class:`BodyNode` is a body (a
generator function that wires steps with ``yield from``), whose steps are only
known as it runs. All are built and checked once, at definition time, so the
runners only read them.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import typing
from collections.abc import Callable
from inspect import CO_COROUTINE
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, final

if TYPE_CHECKING:
    from typed_saga._retry import Retry

Policy: TypeAlias = Literal["stop", "continue"]
POLICIES: Final[tuple[Policy, ...]] = ("stop", "continue")

_FUTURE_ANNOTATION = re.compile(
    r"^\s*(?:[\w.]*\.)?(?:FutureResult\w*|Awaitable|Coroutine)\b"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class _Frozen:
    """Nodes are values: nothing writes to one after ``__init__`` (they are
    internal; the public definitions around them refuse writes outright, at a
    cost a node made per handler action per run should not pay), and a copy
    is the node itself."""

    __slots__ = ()

    def __copy__(self) -> _Frozen:
        return self

    def __deepcopy__(self, memo: object) -> _Frozen:
        return self


@final
class Step(_Frozen):
    """One step: ``action(state) -> Result``, optional ``compensate(output)``.

    ``is_async``: calling ``action`` may give an awaitable (decided once, here).
    ``hidden``: a ``.map(f)`` stage, absent from reports and events.
    ``sync=True`` skips the async detection, for callers that know;
    ``is_async`` / ``compensate_is_async`` say it outright (for functions
    wrapped before they get here). ``retry``: call the action and the
    compensation again on the policy's exceptions (in process; ``source``
    keeps both as given, for engines that retry by themselves).
    """

    __slots__ = (
        "action",
        "compensate",
        "compensate_is_async",
        "hidden",
        "is_async",
        "name",
        "retry",
        "source",
    )

    name: str
    action: Callable[[object], object]
    compensate: Callable[[object], object] | None
    is_async: bool
    compensate_is_async: bool
    hidden: bool
    retry: Retry | None
    source: tuple[Callable[[object], object], Callable[[object], object] | None]

    def __init__(
        self,
        name: str,
        action: Callable[[object], object],
        compensate: Callable[[object], object] | None,
        *,
        hidden: bool = False,
        sync: bool = False,
        is_async: bool | None = None,
        compensate_is_async: bool | None = None,
        retry: Retry | None = None,
    ) -> None:
        if is_async is None:
            is_async = not sync and returns_awaitable(action)
        if compensate_is_async is None:
            compensate_is_async = (
                not sync and compensate is not None and returns_awaitable(compensate)
            )
        self.source = (action, compensate)
        if retry is not None:
            from typed_saga._retry import retrying_async, retrying_sync

            action = (retrying_async if is_async else retrying_sync)(action, retry)
            if compensate is not None:
                compensate = (retrying_async if compensate_is_async else retrying_sync)(
                    compensate, retry
                )
        self.name = name
        self.action = action
        self.compensate = compensate
        self.is_async = is_async
        self.compensate_is_async = compensate_is_async
        self.hidden = hidden
        self.retry = retry

    @classmethod
    def plain(
        cls,
        name: str,
        action: Callable[[object], object],
        compensate: Callable[[object], object] | None,
    ) -> Step:
        """A sync step with no retry, made without detection (for callers that
        make one per run: a Go-style handler's actions)."""
        node = cls.__new__(cls)
        node.source = (action, compensate)
        node.name = name
        node.action = action
        node.compensate = compensate
        node.is_async = node.compensate_is_async = node.hidden = False
        node.retry = None
        return node

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore, (Step, self._state()))

    def _state(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in Step.__slots__}

    def __repr__(self) -> str:
        return f"<step {self.name!r}>"


@final
class Group(_Frozen):
    """A ``parallel(...)`` fan-out.

    Every branch gets the group's input, or, for a group built from calls
    inside a body, its own ``inputs[i]``. ``as_list``: the output is a list
    (``parallel([...])`` in a body), else a tuple.
    """

    __slots__ = ("as_list", "branches", "inputs", "name")

    name: str
    branches: tuple[tuple[Node, ...], ...]
    inputs: tuple[object, ...] | None
    as_list: bool
    is_async: Final = True
    hidden: Final = False
    compensate: Final = None

    def __init__(
        self,
        name: str,
        branches: tuple[tuple[Node, ...], ...],
        inputs: tuple[object, ...] | None = None,
        *,
        as_list: bool = False,
    ) -> None:
        self.name = name
        self.branches = branches
        self.inputs = inputs
        self.as_list = as_list

    def __reduce__(self) -> tuple[object, ...]:
        state = {name: getattr(self, name) for name in Group.__slots__}
        return (_restore, (Group, state))

    def __repr__(self) -> str:
        return f"<parallel {self.name!r}>"


@final
class BodyNode(_Frozen):
    """A body: ``function(value)`` makes a generator that yields step calls.

    ``is_async``: declared ``AsyncBody`` (it may call async steps)."""

    __slots__ = ("function", "is_async", "name")

    name: str
    function: Callable[[object], typing.Generator[object, object, object]]
    is_async: bool
    hidden: Final = False
    compensate: Final = None

    def __init__(
        self,
        name: str,
        function: Callable[[object], typing.Generator[object, object, object]],
        *,
        is_async: bool,
    ) -> None:
        self.name = name
        self.function = function
        self.is_async = is_async

    def __reduce__(self) -> tuple[object, ...]:
        state = {name: getattr(self, name) for name in BodyNode.__slots__}
        return (_restore, (BodyNode, state))

    def __repr__(self) -> str:
        return f"<body {self.name!r}>"


Node: TypeAlias = Step | Group | BodyNode
Leaf: TypeAlias = Step | Group
"""What a run records: a node whose output a compensation may need."""

Segment: TypeAlias = tuple[Leaf, ...] | BodyNode
"""A stretch of a definition: leaves run one after another, or one body."""


def _restore(kind: type[_Frozen], state: dict[str, object]) -> _Frozen:
    node = kind.__new__(kind)
    for name, value in state.items():
        setattr(node, name, value)
    return node


def segments(nodes: tuple[Node, ...]) -> tuple[Segment, ...]:
    """Split ``nodes`` at its bodies: ``(leaves..., body, leaves...)``."""
    out: list[Segment] = []
    run: list[Leaf] = []
    for node in nodes:
        if isinstance(node, BodyNode):
            if run:
                out.append(tuple(run))
                run = []
            out.append(node)
        else:
            run.append(node)
    if run or not out:
        out.append(tuple(run))
    return tuple(out)


def check_name(name: object, what: str = "step") -> str:
    """Reject what cannot name a step, at definition time."""
    article = "an" if what[0] in "aeiou" else "a"
    if not isinstance(name, str):
        raise TypeError(
            f"{article} {what} name must be a str, got {type(name).__name__}"
        )
    if not name.strip():
        raise ValueError(
            f"{article} {what} name must be a non-empty string: it is what logs, "
            f"reports and errors use to tell you which {what} failed"
        )
    if _CONTROL.search(name):
        raise ValueError(
            f"{article} {what} name must be one line of printable text, got "
            f"{name!r}: reports, logs and pictures show it as is"
        )
    return name


def check_callable(value: object, role: str, name: str) -> None:
    """Reject a non-callable action or compensation, at definition time."""
    if not callable(value):
        raise TypeError(
            f"the {role} of step {name!r} must be callable, got "
            f"{type(value).__name__} {value!r}; "
            "pass the function itself, not its result"
        )


def check_policy(policy: object) -> Policy:
    """Reject an unknown ``on_compensation_failure`` before anything runs."""
    if policy == "stop":
        return "stop"
    if policy == "continue":
        return "continue"
    raise ValueError(
        f"on_compensation_failure must be one of {', '.join(map(repr, POLICIES))}, "
        f"got {policy!r}"
    )


def returns_awaitable(fn: Callable[..., object]) -> bool:
    """Whether calling ``fn`` gives an awaitable, as far as definition time can see:
    a coroutine function (also behind ``functools.wraps`` / ``partial``, as
    ``returns.future.future_safe`` wraps one), a callable object with an
    ``async def __call__``, or a return annotation of ``FutureResult``."""
    plain: object = fn.__func__ if isinstance(fn, MethodType) else fn
    if type(plain) is FunctionType and "__wrapped__" not in plain.__dict__:
        # the common case (a function or a bound method), decided from the
        # code's flags and the return annotation
        if plain.__code__.co_flags & CO_COROUTINE:
            return True
        return "return" in plain.__annotations__ and _annotated_awaitable(plain)
    candidates: list[object] = [fn]
    with contextlib.suppress(ValueError):  # a __wrapped__ cycle: use fn itself
        candidates.append(inspect.unwrap(fn))
    for candidate in candidates:
        if inspect.iscoroutinefunction(candidate):
            return True
        call = getattr(type(candidate), "__call__", None)  # noqa: B004
        if not inspect.isroutine(candidate) and inspect.iscoroutinefunction(call):
            return True
    return _annotated_awaitable(fn)


def _annotated_awaitable(fn: Callable[..., object]) -> bool:
    target: object = fn
    if not inspect.isroutine(target) and not isinstance(target, type):
        target = getattr(type(fn), "__call__", fn)  # noqa: B004
    raw = getattr(target, "__annotations__", {})
    annotation = raw.get("return") if isinstance(raw, dict) else None
    if annotation is None:
        return False
    if isinstance(annotation, str):
        return bool(_FUTURE_ANNOTATION.match(annotation))
    origin: object = typing.get_origin(annotation)
    if origin is None:
        origin = annotation
    name = getattr(origin, "__name__", "")
    module = getattr(origin, "__module__", "")
    if module.startswith("returns.future") and name.startswith("FutureResult"):
        return True
    return name in {"Awaitable", "Coroutine"} and module in {
        "typing",
        "collections.abc",
    }
