"""The Go-style API: ``Action``, ``Handler`` and ``run(handler)``.

For code that keeps shared state on an object (``self.quota_id`` set by one
action, read by the next) instead of threading it through return values. It
runs on the same engine as :class:`~typed_saga.Saga`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Protocol,
    TypeVar,
    cast,
    final,
)

from returns.result import Result, Success

from typed_saga import _fold
from typed_saga._events import Listener, logger
from typed_saga._node import (
    Policy,
    Step,
    check_callable,
    check_name,
    check_policy,
    returns_awaitable,
)
from typed_saga._trace import AWAITABLE_IN_SYNC_RUN, Observer, Trace

_Err_co = TypeVar("_Err_co", covariant=True)


@final
class Action(Generic[_Err_co]):
    """One named action of a :class:`Handler`, with an optional compensation.

    Both are zero-argument functions returning a ``Result``; they read and
    write the handler's own state. With :func:`run_async`, either may be an
    ``async def``.

    >>> from returns.result import Success
    >>> Action("validate", lambda: Success(None)).name
    'validate'
    """

    __slots__ = ("_action", "_compensate", "_name", "_node")

    _name: str
    _action: Callable[[], Result[object, _Err_co]]
    _compensate: Callable[[], Result[object, object]] | None
    _node: Step | None

    def __init__(
        self,
        name: str,
        action: Callable[
            [], Result[object, _Err_co] | Coroutine[Any, Any, Result[object, _Err_co]]
        ],
        compensate: Callable[
            [], Result[object, object] | Awaitable[Result[object, object]]
        ]
        | None = None,
    ) -> None:
        check_name(name, "action")
        check_callable(action, "action", name)
        if compensate is not None:
            check_callable(compensate, "compensation", name)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_action", action)
        object.__setattr__(self, "_compensate", compensate)
        object.__setattr__(self, "_node", None)

    @property
    def name(self) -> str:
        """The action's name, used in logs, reports and errors."""
        return self._name

    @property
    def action(self) -> Callable[[], Result[object, _Err_co]]:
        """The zero-argument function that does the work."""
        return self._action

    @property
    def compensate(self) -> Callable[[], Result[object, object]] | None:
        """The zero-argument function that undoes it, or ``None``."""
        return self._compensate

    def _step(self) -> Step:
        """The runner's node for this action in a sync run, made once."""
        node = self._node
        if node is None:
            act = self._action
            comp = self._compensate
            node = Step.plain(
                self._name,
                lambda _: act(),
                None if comp is None else (lambda _: comp()),
            )
            object.__setattr__(self, "_node", node)  # benign: same value every time
        return node

    def _async_step(self) -> Step:
        """The runner's node for this action in an async run."""
        act = self._action
        comp = self._compensate
        return Step(
            self._name,
            lambda _: act(),
            None if comp is None else (lambda _: comp()),
            is_async=returns_awaitable(act),
            compensate_is_async=comp is not None and returns_awaitable(comp),
        )

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError("Action is immutable")

    def __repr__(self) -> str:
        return f"Action({self.name!r})"


class Handler(Protocol[_Err_co]):
    """Anything with an ``actions()`` method listing its :class:`Action` s in order."""

    def actions(self) -> Iterable[Action[_Err_co]]:
        """The actions to run, in order; called exactly once per run."""
        ...


def run(
    handler: Handler[_Err_co],
    *,
    on_compensation_failure: Policy = "stop",
    listeners: Iterable[Listener] = (),
    run_id: str | None = None,
) -> Result[None, _Err_co]:
    """Run a handler's actions in order, compensating on the first failure.

    ``Success(None)`` when every action succeeds (or there are none); otherwise
    the very ``Failure`` the failing action returned, after the completed
    actions' compensations ran in reverse.

    >>> from returns.result import Failure, Success
    >>> class Provision:
    ...     def __init__(self) -> None:
    ...         self.log: list[str] = []
    ...     def actions(self) -> list[Action[str]]:
    ...         return [
    ...             Action("quota", self.allocate, self.release),
    ...             Action("server", lambda: Failure("no capacity")),
    ...         ]
    ...     def allocate(self) -> Result[None, str]:
    ...         self.log.append("allocated")
    ...         return Success(None)
    ...     def release(self) -> Result[None, str]:
    ...         self.log.append("released")
    ...         return Success(None)
    >>> handler = Provision()
    >>> run(handler)
    <Failure: no capacity>
    >>> handler.log
    ['allocated', 'released']
    """
    policy = check_policy(on_compensation_failure)
    nodes = _steps(handler, Action._step)
    if not nodes:
        return Success(None)
    trace = Trace(nodes, None, run_id)
    try:
        result = _fold.run_nodes(
            (nodes,), None, policy, _observer(tuple(listeners), trace), trace
        )
    except TypeError as error:
        if not getattr(error, AWAITABLE_IN_SYNC_RUN, False):
            raise
        raise TypeError(
            f"{error.args[0].split(' returned', 1)[0]} is async (it returned an "
            "awaitable): run this handler with `await typed_saga.run_async(handler)`"
        ) from error
    if isinstance(result, Success):
        return Success(None)
    return result  # type: ignore[return-value]


async def run_async(
    handler: Handler[_Err_co],
    *,
    on_compensation_failure: Policy = "stop",
    listeners: Iterable[Listener] = (),
    run_id: str | None = None,
    compensation_timeout: float | None = None,
) -> Result[None, _Err_co]:
    """:func:`run` on asyncio or trio: actions and compensations may be
    ``async def`` (or plain); cancellation unwinds as for an ``AsyncSaga``.

    >>> import anyio
    >>> from returns.result import Failure, Success
    >>> class Handler:
    ...     def actions(self) -> list[Action[str]]:
    ...         async def server() -> Result[None, str]:
    ...             return Failure("no capacity")
    ...         return [Action("server", server)]
    >>> anyio.run(run_async, Handler())
    <Failure: no capacity>
    """
    from typed_saga import _afold  # loaded by the first async run only
    from typed_saga._saga import _check_timeout

    policy = check_policy(on_compensation_failure)
    timeout = _check_timeout(compensation_timeout)
    nodes = _steps(handler, Action._async_step)
    if not nodes:
        return Success(None)
    trace = Trace(nodes, None, run_id)
    result = await _afold.run_nodes(
        (nodes,),
        None,
        policy,
        _observer(tuple(listeners), trace),
        timeout=timeout,
        trace=trace,
    )
    if isinstance(result, Success):
        return Success(None)
    return result  # type: ignore[return-value]


def _steps(handler: object, node: Callable[[Action[object]], Step]) -> tuple[Step, ...]:
    actions = getattr(handler, "actions", None)
    if not callable(actions):
        raise TypeError(
            f"run() takes a handler with an actions() method, got "
            f"{type(handler).__name__}"
        )
    listed = actions()
    if listed is None or isinstance(listed, str) or not hasattr(listed, "__iter__"):
        raise TypeError(
            f"{type(handler).__name__}.actions() returned "
            f"{'None' if listed is None else type(listed).__name__}; it must return "
            "the list of Actions to run (is a `return` missing?)"
        )
    items = cast("Iterable[object]", listed)
    return tuple(node(_checked(index, action)) for index, action in enumerate(items))


def _observer(listeners: tuple[Listener, ...], trace: Trace) -> Observer:
    from typed_saga._saga import _check_listeners

    if listeners or logger.isEnabledFor(logging.DEBUG):
        return Observer(None, _check_listeners(listeners), trace.run)
    return _QUIET


def _checked(index: int, action: object) -> Action[object]:
    if not isinstance(action, Action):
        raise TypeError(
            f"actions()[{index}] is a {type(action).__name__}, not an Action; "
            "wrap it as Action(name, action, compensate)"
        )
    return action


_QUIET: Final = Observer.quiet(None)
