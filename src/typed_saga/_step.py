"""``step(name, action, compensate=None)``: the one constructor."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from types import FunctionType, MethodType
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    ParamSpec,
    TypeAlias,
    TypeVar,
    cast,
    overload,
)

from returns.result import Result

from typed_saga._node import Step, check_callable, check_name, returns_awaitable
from typed_saga._retry import Retry
from typed_saga._saga import AsyncMultiStep, AsyncSaga, MultiStep, Saga

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Err = TypeVar("_Err")
_A = TypeVar("_A")
_B = TypeVar("_B")
_P = ParamSpec("_P")

if TYPE_CHECKING:
    # Only checkers read these: importing returns.future costs as much as the
    # rest of the import of returns.result, and no step needs it to run.
    from returns.future import FutureResult

    Compensation: TypeAlias = Callable[[_Out], Result[object, object]]
    """A sync compensation: takes its own step's output, returns a ``Result``."""

    AsyncCompensation: TypeAlias = Callable[
        [_Out],
        Result[object, object]
        | Awaitable[Result[object, object]]
        | FutureResult[object, object],
    ]
    """A compensation inside an async saga: sync, ``async def``, or ``FutureResult``."""

    _AnyDefinition: TypeAlias = (
        Saga[Any, Any, Any]
        | AsyncSaga[Any, Any, Any]
        | MultiStep[..., Any, Any]
        | AsyncMultiStep[..., Any, Any]
    )

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
    *,
    retry: Retry | None = None,
) -> Saga[_In, _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[[_In], Result[_Out, _Err]],
    compensate: _AsyncOnlyCompensation[_Out],
    *,
    retry: Retry | None = None,
) -> AsyncSaga[_In, _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[[_In], _Coroutine[Result[_Out, _Err]]],
    compensate: AsyncCompensation[_Out] | None = None,
    *,
    retry: Retry | None = None,
) -> AsyncSaga[_In, _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[[_In], FutureResult[_Out, _Err]],
    compensate: AsyncCompensation[_Out] | None = None,
    *,
    retry: Retry | None = None,
) -> AsyncSaga[_In, _Out, _Err]: ...
# Several parameters: a step a body calls with all of them. Two named ones
# (not a bare ParamSpec) so that a one-parameter lambda never matches here.
@overload
def step(
    name: str,
    action: Callable[Concatenate[_A, _B, _P], Result[_Out, _Err]],
    compensate: Compensation[_Out] | None = None,
    *,
    retry: Retry | None = None,
) -> MultiStep[Concatenate[_A, _B, _P], _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[Concatenate[_A, _B, _P], Result[_Out, _Err]],
    compensate: _AsyncOnlyCompensation[_Out],
    *,
    retry: Retry | None = None,
) -> AsyncMultiStep[Concatenate[_A, _B, _P], _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[Concatenate[_A, _B, _P], _Coroutine[Result[_Out, _Err]]],
    compensate: AsyncCompensation[_Out] | None = None,
    *,
    retry: Retry | None = None,
) -> AsyncMultiStep[Concatenate[_A, _B, _P], _Out, _Err]: ...
@overload
def step(
    name: str,
    action: Callable[Concatenate[_A, _B, _P], FutureResult[_Out, _Err]],
    compensate: AsyncCompensation[_Out] | None = None,
    *,
    retry: Retry | None = None,
) -> AsyncMultiStep[Concatenate[_A, _B, _P], _Out, _Err]: ...
@overload
def step(  # the sync overload again, for pyright's error messages (see above)
    name: str,
    action: Callable[[_In], Result[_Out, _Err]],
    compensate: Compensation[_Out] | None = None,
    *,
    retry: Retry | None = None,
) -> Saga[_In, _Out, _Err]: ...
def step(
    name: str,
    action: Callable[..., object],
    compensate: Callable[[_Out], object] | None = None,
    *,
    retry: Retry | None = None,
) -> (
    Saga[Any, Any, Any]
    | AsyncSaga[Any, Any, Any]
    | MultiStep[..., Any, Any]
    | AsyncMultiStep[..., Any, Any]
):
    """A one-step saga: ``action(input) -> Result``, undone by
    ``compensate(action's output)`` when a later step fails.

    Leave ``compensate`` out for a step with nothing to undo (a validation, a
    read). The name shows up in logs, reports and errors, so make it say what
    the step does. ``retry``: a :class:`~typed_saga.Retry` policy, to call the
    action (and the compensation) again when they raise.

    Returns an :class:`~typed_saga.AsyncSaga` when the action is a coroutine
    function (also behind ``functools.wraps``), returns a ``FutureResult``, or
    the compensation is async; otherwise a :class:`~typed_saga.Saga`. An
    action of two or more parameters gives a :class:`~typed_saga.MultiStep`,
    which a body calls with all of them.

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
    comp = cast("Callable[[object], object] | None", compensate)
    if retry is not None and not isinstance(retry, Retry):
        raise TypeError(
            f"retry= takes a typed_saga.Retry policy, got {type(retry).__name__}"
        )
    if _required_parameters(action) < 2:
        node = Step(name, cast("Callable[[object], object]", action), comp, retry=retry)
        if node.is_async or node.compensate_is_async:
            return AsyncSaga((node,))
        return Saga((node,))
    is_async = returns_awaitable(action)

    def spread(packed: object) -> object:
        args, kwargs = cast("tuple[tuple[object, ...], dict[str, object]]", packed)
        return action(*args, **kwargs)

    spread.__wrapped__ = action  # type: ignore[attr-defined]
    node = Step(name, spread, comp, is_async=is_async, retry=retry)
    if node.is_async or node.compensate_is_async:
        return AsyncMultiStep((node,))
    return MultiStep((node,))


def _required_parameters(action: Callable[..., object]) -> int:
    """How many arguments ``action`` needs (1 when that cannot be seen)."""
    function: object = action
    bound = 0
    if isinstance(action, MethodType):
        function, bound = action.__func__, 1
    if type(function) is FunctionType and "__wrapped__" not in function.__dict__:
        code = function.__code__  # the common case, read off the code object
        return (
            code.co_argcount
            - len(function.__defaults__ or ())
            + code.co_kwonlyargcount
            - len(function.__kwdefaults__ or ())
            - bound
        )
    try:
        parameters = inspect.signature(action).parameters.values()
    except (TypeError, ValueError):  # some builtins and C types
        return 1
    return sum(
        1
        for p in parameters
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


@overload
def async_step(
    name: str,
    action: Callable[[_In], Awaitable[Result[_Out, _Err]]]
    | Callable[[_In], FutureResult[_Out, _Err]]
    | Callable[[_In], Result[_Out, _Err]],
    compensate: AsyncCompensation[_Out] | None = None,
    *,
    retry: Retry | None = None,
) -> AsyncSaga[_In, _Out, _Err]: ...
@overload
def async_step(
    name: str,
    action: Callable[Concatenate[_A, _B, _P], Awaitable[Result[_Out, _Err]]]
    | Callable[Concatenate[_A, _B, _P], FutureResult[_Out, _Err]]
    | Callable[Concatenate[_A, _B, _P], Result[_Out, _Err]],
    compensate: AsyncCompensation[_Out] | None = None,
    *,
    retry: Retry | None = None,
) -> AsyncMultiStep[Concatenate[_A, _B, _P], _Out, _Err]: ...
def async_step(
    name: str,
    action: Callable[..., object],
    compensate: Callable[[_Out], object] | None = None,
    *,
    retry: Retry | None = None,
) -> AsyncSaga[Any, Any, Any] | AsyncMultiStep[..., Any, Any]:
    """:func:`step`, always async: for an action whose async-ness
    :func:`step` cannot see — a ``lambda`` or a callable object that returns a
    coroutine or a ``FutureResult`` without saying so in an annotation. (Type
    checkers see what such a lambda returns; ``step()`` at run time cannot.)
    What the action returns is awaited when it is awaitable.

    >>> import anyio
    >>> from returns.result import Result, Success
    >>> async def fetch(order: int) -> Result[str, str]:
    ...     return Success(f"order {order}")
    >>> saga = async_step("fetch", lambda order: fetch(order))
    >>> saga
    <AsyncSaga ['fetch']>
    >>> anyio.run(saga.run, 7)
    <Success: order 7>
    """
    built = cast(
        "_AnyDefinition",
        step(name, action, compensate, retry=retry),  # type: ignore[arg-type]
    )
    node = built.nodes[0]
    assert isinstance(node, Step)
    forced = Step(
        node.name,
        node.source[0],
        node.source[1],
        is_async=True,
        compensate_is_async=node.compensate is not None,
        retry=retry,
    )
    if isinstance(built, MultiStep | AsyncMultiStep):
        return AsyncMultiStep((forced,))
    return AsyncSaga((forced,))
