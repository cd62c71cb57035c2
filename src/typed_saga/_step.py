"""``step(name, action, compensate=None)``: the one constructor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar, cast, overload

from returns.future import FutureResult
from returns.result import Result

from typed_saga._node import Step, check_callable, check_name
from typed_saga._saga import AsyncSaga, Saga

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Err = TypeVar("_Err")

Compensation: TypeAlias = Callable[[_Out], Result[object, object]]
"""A sync compensation: takes its own step's output, returns a ``Result``."""

AsyncCompensation: TypeAlias = Callable[
    [_Out],
    Result[object, object]
    | Awaitable[Result[object, object]]
    | FutureResult[object, object],
]
"""A compensation inside an async saga: sync, ``async def``, or ``FutureResult``."""

_AsyncOnlyCompensation: TypeAlias = Callable[
    [_Out], Awaitable[Result[object, object]] | FutureResult[object, object]
]


# Sync overloads first: when nothing matches, mypy reports against the first
# one, and a sync mistake should not be answered with advice to go async.
@overload
def step(
    name: str,
    action: Callable[[_In], Result[_Out, _Err]],
    compensate: Compensation[_Out] | None = None,
) -> Saga[_In, _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[[_In], Result[_Out, _Err]],
    compensate: _AsyncOnlyCompensation[_Out],
) -> AsyncSaga[_In, _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[[_In], Awaitable[Result[_Out, _Err]]],
    compensate: AsyncCompensation[_Out] | None = None,
) -> AsyncSaga[_In, _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[[_In], FutureResult[_Out, _Err]],
    compensate: AsyncCompensation[_Out] | None = None,
) -> AsyncSaga[_In, _Out, _Err]: ...
def step(
    name: str,
    action: Callable[[_In], object],
    compensate: Callable[[_Out], object] | None = None,
) -> Saga[_In, _Out, _Err] | AsyncSaga[_In, _Out, _Err]:
    """A one-step saga: ``action(input) -> Result``, undone by
    ``compensate(action's output)`` when a later step fails.

    Leave ``compensate`` out for a step with nothing to undo (a validation, a
    read). The name shows up in logs, reports and errors, so make it say what
    the step does.

    Returns an :class:`~typed_saga.AsyncSaga` when the action is a coroutine
    function (also behind ``functools.wraps``), returns a ``FutureResult``, or
    the compensation is async; otherwise a :class:`~typed_saga.Saga`.

    >>> from returns.result import Result, Success
    >>> def double(n: int) -> Result[int, str]:
    ...     return Success(n * 2)
    >>> step("double", double)
    <Saga ['double']>
    >>> step("", double)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    ValueError: a step name must be a non-empty string: ...
    """
    check_name(name)
    check_callable(action, "action", name)
    if compensate is not None:
        check_callable(compensate, "compensation", name)
    node = Step(name, cast(Callable[[object], object], action), cast(Any, compensate))
    if node.is_async or node.compensate_is_async:
        return AsyncSaga((node,))
    return Saga((node,))
