"""The flat, immutable pieces a saga definition is made of.

A definition is a tuple of nodes. A :class:`Step` is one action with its
optional compensation; a :class:`Group` is a ``parallel(...)`` fan-out whose
branches are tuples of nodes themselves. Both are built and checked once, at
definition time, so the runners only read them.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, final

Policy: TypeAlias = Literal["stop", "continue"]
POLICIES: Final[tuple[Policy, ...]] = ("stop", "continue")

_FUTURE_ANNOTATION = re.compile(
    r"^\s*(?:[\w.]*\.)?(?:FutureResult\w*|Awaitable|Coroutine)\b"
)


@final
class Step:
    """One step: ``action(state) -> Result``, optional ``compensate(output)``.

    ``is_async``: calling ``action`` may give an awaitable (decided once, here).
    ``hidden``: a ``.map(f)`` stage, absent from reports and events.
    ``sync=True`` skips the async detection, for callers that know.
    """

    __slots__ = (
        "action",
        "compensate",
        "compensate_is_async",
        "hidden",
        "is_async",
        "name",
    )

    name: str
    action: Callable[[object], object]
    compensate: Callable[[object], object] | None
    is_async: bool
    compensate_is_async: bool
    hidden: bool

    def __init__(
        self,
        name: str,
        action: Callable[[object], object],
        compensate: Callable[[object], object] | None,
        *,
        hidden: bool = False,
        sync: bool = False,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "compensate", compensate)
        object.__setattr__(self, "is_async", not sync and returns_awaitable(action))
        object.__setattr__(
            self,
            "compensate_is_async",
            not sync and compensate is not None and returns_awaitable(compensate),
        )
        object.__setattr__(self, "hidden", hidden)

    if not TYPE_CHECKING:  # mypy: unknown attributes stay type errors

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError("saga steps are immutable")

    def __repr__(self) -> str:
        return f"<step {self.name!r}>"


@final
class Group:
    """A ``parallel(...)`` fan-out: every branch gets the same input."""

    __slots__ = ("branches", "name")

    name: str
    branches: tuple[tuple[Node, ...], ...]
    is_async: Final = True
    hidden: Final = False

    def __init__(self, name: str, branches: tuple[tuple[Node, ...], ...]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "branches", branches)

    if not TYPE_CHECKING:  # mypy: unknown attributes stay type errors

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError("saga steps are immutable")

    def __repr__(self) -> str:
        return f"<parallel {self.name!r}>"


Node: TypeAlias = Step | Group


def check_name(name: object, what: str = "step") -> str:
    """Reject what cannot name a step, at definition time."""
    if not isinstance(name, str):
        raise TypeError(f"a {what} name must be a str, got {type(name).__name__}")
    if not name.strip():
        raise ValueError(
            f"a {what} name must be a non-empty string: it is what logs, reports "
            f"and errors use to tell you which {what} failed"
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
