"""The Go-style API: ``Action``, ``Handler`` and ``run(handler)``.

For code that keeps shared state on an object (``self.quota_id`` set by one
action, read by the next) instead of threading it through return values. It
runs on the same engine as :class:`~typed_saga.Saga`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, Generic, Protocol, TypeVar, final

from returns.result import Result, Success

from typed_saga import _fold
from typed_saga._events import Listener, logger
from typed_saga._node import Policy, Step, check_callable, check_name, check_policy
from typed_saga._trace import Observer

_Err_co = TypeVar("_Err_co", covariant=True)


@final
class Action(Generic[_Err_co]):
    """One named action of a :class:`Handler`, with an optional compensation.

    Both are zero-argument functions returning a ``Result``; they read and
    write the handler's own state.

    >>> from returns.result import Success
    >>> Action("validate", lambda: Success(None)).name
    'validate'
    """

    __slots__ = ("_action", "_compensate", "_name")

    _name: str
    _action: Callable[[], Result[object, _Err_co]]
    _compensate: Callable[[], Result[object, object]] | None

    def __init__(
        self,
        name: str,
        action: Callable[[], Result[object, _Err_co]],
        compensate: Callable[[], Result[object, object]] | None = None,
    ) -> None:
        check_name(name, "action")
        check_callable(action, "action", name)
        if compensate is not None:
            check_callable(compensate, "compensation", name)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_action", action)
        object.__setattr__(self, "_compensate", compensate)

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
    actions = list(handler.actions())
    nodes = tuple(_to_step(index, action) for index, action in enumerate(actions))
    if not nodes:
        return Success(None)
    listening = tuple(listeners)
    quiet = not listening and not logger.isEnabledFor(logging.DEBUG)
    obs = _QUIET if quiet else Observer(None, listening)
    result, _ = _fold.run_nodes(nodes, None, policy, obs)
    if isinstance(result, Success):
        return Success(None)
    return result  # type: ignore[return-value]


def _to_step(index: int, action: object) -> Step:
    if not isinstance(action, Action):
        raise TypeError(
            f"actions()[{index}] is a {type(action).__name__}, not an Action; "
            "wrap it as Action(name, action, compensate)"
        )
    act = action.action
    comp = action.compensate
    return Step(
        action.name,
        lambda _: act(),
        None if comp is None else (lambda _: comp()),
        sync=True,  # zero-argument actions of a handler are never awaited
    )


_QUIET: Final = Observer.quiet(None)
