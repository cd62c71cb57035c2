"""What a body yields: a saga called with its input.

``some_saga(value)`` makes a :class:`Call` (an :class:`AsyncCall` for an
``AsyncSaga``); ``yield from`` it inside a body hands it to the runner, which
runs the saga's steps and sends back the output, and that output is the
value of the ``yield from`` expression. Nothing runs when a call is made.

The types carry the errors: a :data:`Body` declared to fail with ``E`` may
only yield calls whose errors are ``E`` (``StepCall`` is covariant in its
error), and a sync body may only yield calls of sync sagas (``StepCall`` is a
``AsyncStepCall``, not the other way round), so the type checker rejects an
undeclared error or an async step in a sync body at the ``yield from``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Generic, TypeVar, cast, final

from typing_extensions import TypeAliasType

if TYPE_CHECKING:
    from typed_saga._saga import _Definition

_Out_co = TypeVar("_Out_co", covariant=True)
_Err_co = TypeVar("_Err_co", covariant=True)
_Out = TypeVar("_Out")
_Err = TypeVar("_Err")


class AsyncStepCall(Generic[_Err_co]):
    """A request to run a saga (sync or async) on a value, failing with
    ``Err``: what an :data:`AsyncBody` yields."""

    __slots__ = ("definition", "value")

    definition: _Definition
    value: object

    def __init__(self, definition: _Definition, value: object) -> None:
        self.definition = definition
        self.value = value

    def __repr__(self) -> str:
        return f"<call of {self.definition!r}>"


class StepCall(AsyncStepCall[_Err_co]):
    """A request to run a sync saga on a value: what a :data:`Body` yields."""

    __slots__ = ()


if TYPE_CHECKING:
    # What type checkers see: a call IS a generator of step calls that returns
    # the output. At run time it only has __iter__, which makes one (below).
    # Declared so for pyrefly 1.4, which loses a generator's return type when
    # `yield from` reaches it through __iter__ (and then rejects every body);
    # mypy, pyright and ty read both declarations alike.

    @final
    class Call(
        StepCall[_Err_co],
        Generator[StepCall[_Err_co], object, _Out_co],
        Generic[_Out_co, _Err_co],
    ):
        """``some_saga(value)``: ``yield from`` it in a body to get the output."""

        def __init__(self, definition: _Definition, value: object) -> None: ...
        def __iter__(self) -> Generator[StepCall[_Err_co], object, _Out_co]: ...
        def __next__(self) -> StepCall[_Err_co]: ...
        def send(self, value: object, /) -> StepCall[_Err_co]: ...
        def throw(self, *args: object) -> StepCall[_Err_co]: ...

    @final
    class AsyncCall(
        AsyncStepCall[_Err_co],
        Generator[AsyncStepCall[_Err_co], object, _Out_co],
        Generic[_Out_co, _Err_co],
    ):
        """``some_async_saga(value)``: ``yield from`` it in an async body."""

        def __init__(self, definition: _Definition, value: object) -> None: ...
        def __iter__(self) -> Generator[AsyncStepCall[_Err_co], object, _Out_co]: ...
        def __next__(self) -> AsyncStepCall[_Err_co]: ...
        def send(self, value: object, /) -> AsyncStepCall[_Err_co]: ...
        def throw(self, *args: object) -> AsyncStepCall[_Err_co]: ...

else:

    @final
    class Call(StepCall[_Err_co], Generic[_Out_co, _Err_co]):
        """``some_saga(value)``: ``yield from`` it in a body to get the output."""

        __slots__ = ()

        def __iter__(self) -> Generator[StepCall[_Err_co], object, _Out_co]:
            return cast("_Out_co", (yield self))

    @final
    class AsyncCall(AsyncStepCall[_Err_co], Generic[_Out_co, _Err_co]):
        """``some_async_saga(value)``: ``yield from`` it in an async body."""

        __slots__ = ()

        def __iter__(self) -> Generator[AsyncStepCall[_Err_co], object, _Out_co]:
            return cast("_Out_co", (yield self))


Body = TypeAliasType(
    "Body", Generator[StepCall[_Err], object, _Out], type_params=(_Out, _Err)
)
"""``Body[Out, Err]``: the return type of a sync body function, which
``yield from``-s calls of sync sagas failing with ``Err`` and returns ``Out``."""

AsyncBody = TypeAliasType(
    "AsyncBody", Generator[AsyncStepCall[_Err], object, _Out], type_params=(_Out, _Err)
)
"""``AsyncBody[Out, Err]``: like :data:`Body`, and it may also call async
sagas and ``parallel``; ``@saga`` makes it an ``AsyncSaga``."""
