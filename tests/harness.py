"""One way to write a scenario, three ways to run it.

A :class:`Runner` builds steps from plain functions and runs sagas either
synchronously or, in the async modes, with every action and compensation
turned into a coroutine that really awaits (``anyio.sleep(0)``) before doing
its work, on asyncio or trio. The core-rule tests are written once against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import anyio
from returns.result import Failure, Result, Success

from typed_saga import AsyncSaga, Saga, SagaReport, saga, step

Mode = Literal["sync", "asyncio", "trio"]
MODES: Final[tuple[Mode, ...]] = ("sync", "asyncio", "trio")
AnySaga = Saga[Any, Any, Any] | AsyncSaga[Any, Any, Any]


@dataclass
class Runner:
    """Builds and runs sagas in one mode."""

    mode: Mode

    @property
    def is_async(self) -> bool:
        return self.mode != "sync"

    def step(
        self,
        name: str,
        action: Callable[[Any], Any],
        compensate: Callable[[Any], Any] | None = None,
    ) -> AnySaga:
        """``step(...)``; in async modes the functions become coroutines."""
        if not self.is_async:
            built: AnySaga = step(name, action, compensate=compensate)
            return built

        async def async_action(value: Any) -> Any:
            await anyio.sleep(0)
            return action(value)

        async_compensate = None
        if compensate is not None:
            sync_compensate = compensate

            async def async_compensate(value: Any) -> Any:
                await anyio.sleep(0)
                return sync_compensate(value)

        return step(name, async_action, compensate=async_compensate)

    def body(self, name: str) -> Callable[[Callable[[Any], Any]], AnySaga]:
        """``@saga(name)``; in async modes the body is declared ``AsyncBody``
        (so it may call the async steps this runner builds)."""

        def decorate(function: Callable[[Any], Any]) -> AnySaga:
            if self.is_async:
                function.__annotations__["return"] = "AsyncBody[object, object]"
            built: AnySaga = saga(name)(function)
            return built

        return decorate

    def chain(self, *sagas: AnySaga) -> AnySaga:
        """``sagas[0].then(sagas[1]).then(...)``."""
        whole = sagas[0]
        for part in sagas[1:]:
            whole = whole.then(part)
        return whole

    def run(self, saga: AnySaga, value: object, **options: Any) -> Result[Any, Any]:
        """Run to completion; exceptions propagate as from ``run`` itself."""
        if isinstance(saga, Saga):
            assert not self.is_async
            return saga.run(value, **options)

        async def main() -> Result[Any, Any]:
            return await saga.run(value, **options)

        return anyio.run(main, backend=self._backend())

    def run_with_report(
        self, saga: AnySaga, value: object, **options: Any
    ) -> SagaReport[Any, Any]:
        if isinstance(saga, Saga):
            return saga.run_with_report(value, **options)

        async def main() -> SagaReport[Any, Any]:
            return await saga.run_with_report(value, **options)

        return anyio.run(main, backend=self._backend())

    def _backend(self) -> str:
        return "asyncio" if self.mode in ("sync", "asyncio") else "trio"


@dataclass
class World:
    """A fake outside world that records every call, in order.

    ``action(name)`` makes an action that records ``("do", name, input)`` and
    succeeds with ``f"{name}({input})"``; ``undo(name)`` a compensation that
    records ``("undo", name, output)``. ``fail`` / ``raise_`` variants make
    the failing kinds.
    """

    calls: list[tuple[str, str, object]] = field(default_factory=list)

    def action(self, name: str) -> Callable[[object], Result[str, str]]:
        def act(value: object) -> Result[str, str]:
            self.calls.append(("do", name, value))
            return Success(f"{name}({value})")

        return act

    def failing(
        self, name: str, failure: Failure[Any] | None = None
    ) -> Callable[[object], Any]:
        returned = failure if failure is not None else Failure(f"{name} failed")

        def act(value: object) -> Any:
            self.calls.append(("do", name, value))
            return returned

        return act

    def raising(self, name: str, exc: BaseException) -> Callable[[object], Any]:
        def act(value: object) -> Any:
            self.calls.append(("do", name, value))
            raise exc

        return act

    def undo(self, name: str) -> Callable[[object], Result[None, str]]:
        def comp(value: object) -> Result[None, str]:
            self.calls.append(("undo", name, value))
            return Success(None)

        return comp

    def undo_failing(
        self, name: str, error: object = "undo failed"
    ) -> Callable[[object], Any]:
        def comp(value: object) -> Any:
            self.calls.append(("undo", name, value))
            return Failure(error)

        return comp

    def undo_raising(self, name: str, exc: Exception) -> Callable[[object], Any]:
        def comp(value: object) -> Any:
            self.calls.append(("undo", name, value))
            raise exc

        return comp

    @property
    def undone(self) -> list[str]:
        """Names of the compensations called, in call order."""
        return [name for kind, name, _ in self.calls if kind == "undo"]

    @property
    def done(self) -> list[str]:
        """Names of the actions called, in call order."""
        return [name for kind, name, _ in self.calls if kind == "do"]
