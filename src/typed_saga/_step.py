"""``step(name, action, compensate=None)``: the one constructor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
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

# Async means Coroutine (what `async def` functions and methods return) or
# FutureResult, not any Awaitable, wherever the overload must tell sync from
# async: an async action, and the async compensation that makes a sync action's
# step async. Awaitable is a protocol, and pyrefly takes returns'
# `__getattr__: None` (on every container) for dynamic attributes, so to
# pyrefly a plain Result is an Awaitable[Result]. With Awaitable there, a sync
# step whose compensation was written for another step failed the sync
# overload, matched an async one with _Out taken from the compensation, and
# became AsyncSaga[..., Unknown] with no error; a lambda compensation matched
# two overloads and became Unknown. Coroutine is a class, so neither happens,
# and mypy, pyright and ty give the same verdicts either way (see
# typesafety/matrix). The price: an action, or a sync action's only-async
# compensation, typed `-> Awaitable[Result[...]]` rather than written with
# `async def` is a type error; annotate it `-> Coroutine[Any, Any,
# Result[...]]` (the runtime runs both as async). A loud, fixable error on a
# rare annotation beats a silent hole in the most common mistake. Once the
# action is async, its compensation may be any Awaitable (AsyncCompensation).
_Coroutine: TypeAlias = Coroutine[Any, Any, _Out]

_AsyncOnlyCompensation: TypeAlias = Callable[
    [_Out], _Coroutine[Result[object, object]] | FutureResult[object, object]
]


# Which overload a checker blames when none matches decides what the user
# reads. mypy blames the first overload (any callable "looks like" any
# Callable parameter to it); pyright blames, among the overloads with the
# fewest mismatched arguments, the last one. So the sync overload comes first
# (mypy) and again last (pyright): a sync mistake is then explained against
# `(_In) -> Result[_Out, _Err]` and `Compensation[_Out]` on both, instead of
# against an async-only compensation or a FutureResult action. The last one
# is never the one that matches (the first one would have). New overloads
# (other action shapes) go before it, so that it stays last.
#
# On mypy a compensation written for another step's output still reads
# 'Cannot infer value of type parameter "_Out"': mypy solves _Out from the
# action and the compensation together and finds no solution. Typing the
# action as a callback Protocol makes mypy solve it from the action first and
# name the compensation ('expected "Callable[[Quota], Result[...]]"'), but
# then mypy and ty no longer infer a lambda action's parameter when a
# compensation is given: it becomes Any, silently. A cryptic message at the
# right call beats a silent Any, so the action stays a Callable.
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
    action: Callable[[_In], _Coroutine[Result[_Out, _Err]]],
    compensate: AsyncCompensation[_Out] | None = None,
) -> AsyncSaga[_In, _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[[_In], FutureResult[_Out, _Err]],
    compensate: AsyncCompensation[_Out] | None = None,
) -> AsyncSaga[_In, _Out, _Err]: ...
@overload
def step(  # the sync overload again, for pyright's error messages (see above)
    name: str,
    action: Callable[[_In], Result[_Out, _Err]],
    compensate: Compensation[_Out] | None = None,
) -> Saga[_In, _Out, _Err]: ...
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
