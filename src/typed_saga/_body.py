"""``@saga(name)``: a body function becomes a saga.

A body is a plain generator function of one parameter that wires steps with
``yield from``: ``flight = yield from reserve_flight(trip)``. Its local
variables are the state the runner threads forward, so any later step can use
any earlier value, in loops and conditions, with every value typed.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Generator
from typing import Any, TypeVar, final, overload

from typed_saga._call import AsyncBody, AsyncStepCall, StepCall
from typed_saga._node import BodyNode, check_name
from typed_saga._saga import AsyncSaga, Saga

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Err = TypeVar("_Err")

_ASYNC_BODY = re.compile(r"^\s*(?:[\w.]*\.)?AsyncBody\b")

_WHAT_A_BODY_IS = (
    "a body is a plain generator function of one parameter, annotated "
    "`-> Body[Out, Err]` (or `-> AsyncBody[Out, Err]`), that calls steps with "
    "`output = yield from some_step(value)` and returns its result"
)


@final
class SagaDecorator:
    """What ``saga(name)`` returns: apply it to a body function."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    # A sync body also matches the second overload (a StepCall is an
    # AsyncStepCall): the first one wins, as intended.
    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, body: Callable[[_In], Generator[StepCall[_Err], Any, _Out]]
    ) -> Saga[_In, _Out, _Err]: ...
    @overload
    def __call__(
        self, body: Callable[[_In], Generator[AsyncStepCall[_Err], Any, _Out]]
    ) -> AsyncSaga[_In, _Out, _Err]: ...
    def __call__(
        self, body: Callable[[_In], Generator[AsyncStepCall[_Err], Any, _Out]]
    ) -> Saga[_In, _Out, _Err] | AsyncSaga[_In, _Out, _Err]:
        check_body(body, self.name)
        is_async = declared_async(body)
        node = BodyNode(self.name, body, is_async=is_async)  # type: ignore[arg-type]
        if is_async:
            return AsyncSaga((node,), self.name)
        return Saga((node,), self.name)

    def __repr__(self) -> str:
        return f"saga({self.name!r})"


def saga(name: str) -> SagaDecorator:
    """Turn a body function into a saga named ``name``.

    The body gets the saga's input; each ``yield from some_saga(value)`` runs
    that saga's steps and evaluates to its output; what the body returns is
    the saga's output. On the first ``Failure`` the body is closed (its
    ``finally`` blocks run) and every step it completed is compensated in
    reverse, as in any saga; the very ``Failure`` comes back.

    ``-> Body[Out, Err]`` makes a :class:`~typed_saga.Saga`;
    ``-> AsyncBody[Out, Err]`` an :class:`~typed_saga.AsyncSaga`, which may
    also call async steps and ``parallel``.

    >>> from returns.result import Failure, Result, Success
    >>> from typed_saga import Body, step
    >>> booked: list[str] = []
    >>> def book(what: str) -> Result[str, str]:
    ...     booked.append(what)
    ...     return Success(what)
    >>> def cancel(what: str) -> Result[None, str]:
    ...     booked.remove(what)
    ...     return Success(None)
    >>> def pay(flight: str, hotel: str) -> Result[str, str]:
    ...     return Failure("card declined")
    >>> reserve = step("reserve", book, compensate=cancel)
    >>> charge = step("charge", pay)
    >>> @saga("trip")
    ... def trip(city: str) -> Body[str, str]:
    ...     flight = yield from reserve(f"flight to {city}")
    ...     hotel = yield from reserve(f"hotel in {city}")
    ...     return (yield from charge(flight, hotel))
    >>> trip.run("Oslo")
    <Failure: card declined>
    >>> booked
    []
    """
    check_name(name, "saga")
    return SagaDecorator(name)


def check_body(body: object, name: str) -> None:
    """Reject what is not a body, when it is defined."""
    if not callable(body):
        raise TypeError(
            f"@saga({name!r}) takes a function, got {type(body).__name__}; "
            + _WHAT_A_BODY_IS
        )
    target = _unwrapped(body)
    if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
        raise TypeError(
            f"@saga({name!r}) got an `async def` function; {_WHAT_A_BODY_IS}. Keep "
            "the body a plain `def`: annotate it `-> AsyncBody[...]` and put the "
            "awaiting in async steps"
        )
    if not inspect.isgeneratorfunction(target):
        raise TypeError(
            f"@saga({name!r}) got a function that is not a generator (it has no "
            f"`yield from`); {_WHAT_A_BODY_IS}"
        )
    try:
        parameters = list(inspect.signature(body).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - generator functions have one
        return
    required = [
        p
        for p in parameters
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    positional = [
        p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(required) != 1 or not positional or required[0] is not positional[0]:
        raise TypeError(
            f"@saga({name!r}) got a function of {len(parameters)} parameter(s); "
            f"{_WHAT_A_BODY_IS}. The saga's input is that one parameter: to pass "
            "several values, make it a dataclass or a tuple"
        )


def declared_async(body: object) -> bool:
    """Whether the body's return annotation is ``AsyncBody`` (also as a string,
    under ``from __future__ import annotations``)."""
    raw = getattr(_unwrapped(body), "__annotations__", None)
    annotation: object = raw.get("return") if isinstance(raw, dict) else None
    if annotation is None:
        return False
    if isinstance(annotation, str):
        return bool(_ASYNC_BODY.match(annotation))
    origin: object = typing.get_origin(annotation)
    alias: object = AsyncBody
    return annotation is alias or origin is alias


def _unwrapped(function: object) -> object:
    """``function`` behind ``functools.wraps`` layers (itself on a cycle)."""
    try:
        return inspect.unwrap(function)  # type: ignore[arg-type]
    except ValueError:
        return function
