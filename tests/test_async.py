"""Async sagas: what is async by nature (issue 3).

The core rules on the async runner live in ``test_rules.py`` (the ``runner``
fixture); here: ``FutureResult`` actions and compensations, sync pieces inside
async sagas, how ``step()`` decides sync or async at definition time, the sync
runner meeting an undetectable async action, exceptions from async actions,
and 10,000 concurrent runs of one definition. Every test runs on asyncio and
trio (the ``backend`` fixture).
"""

from __future__ import annotations

import functools
import gc
import threading
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, cast

import anyio
import pytest
from returns.future import FutureFailure, FutureResult, FutureSuccess, future_safe
from returns.io import IOResult
from returns.result import Failure, Result, Success

from typed_saga import AsyncSaga, Saga, StepOutcome, current_step, step

# -- FutureResult actions and compensations ----------------------------------------


def test_future_safe_action_makes_an_async_saga_and_unwraps_io(backend: str) -> None:
    """``@future_safe`` wraps a coroutine function: ``step`` sees it, and the
    run returns a plain ``Result``, not the ``IOResult`` a ``FutureResult``
    awaits to."""

    @future_safe
    async def fetch(n: int) -> int:
        await anyio.sleep(0)
        return n * 10

    saga = step("fetch", fetch)
    assert isinstance(saga, AsyncSaga)

    async def main() -> Result[int, Exception]:
        return await saga.run(4)

    result = anyio.run(main, backend=backend)
    assert result == Success(40)
    assert not isinstance(cast(object, result), IOResult)


def test_future_safe_exception_becomes_a_failure_and_unwinds(backend: str) -> None:
    """An exception caught by ``future_safe`` is a ``Failure``: rule 3 applies,
    and the run returns a ``Failure`` holding that very exception."""
    undone: list[int] = []
    boom = ZeroDivisionError("no quota in region 0")

    @future_safe
    async def divide(n: int) -> int:
        await anyio.sleep(0)
        raise boom

    async def reserve(n: int) -> Result[int, Exception]:
        await anyio.sleep(0)
        return Success(n + 1)

    def release(n: int) -> Result[None, Exception]:
        undone.append(n)
        return Success(None)

    saga = step("reserve", reserve, compensate=release).then(step("divide", divide))

    async def main() -> Result[int, Exception]:
        return await saga.run(1)

    result = anyio.run(main, backend=backend)
    assert isinstance(result, Failure)
    assert result.failure() is boom
    assert undone == [2]


def test_future_result_compensations(backend: str) -> None:
    """Compensations returning ``FutureResult`` (success and failure) are
    awaited; a ``FutureFailure`` counts as a failed compensation."""
    undone: list[tuple[str, int]] = []

    async def make(n: int) -> Result[int, str]:
        return Success(n + 1)

    @future_safe
    async def undo_ok(n: int) -> None:
        await anyio.sleep(0)
        undone.append(("ok", n))

    def undo_bad(n: int) -> FutureResult[None, str]:
        undone.append(("bad", n))
        return FutureFailure("cannot delete")

    def undo_plain(n: int) -> FutureResult[None, str]:
        undone.append(("plain", n))
        return FutureSuccess(None)

    saga = (
        step("a", make, compensate=undo_plain)
        .then(step("b", make, compensate=undo_ok))
        .then(step("c", make, compensate=undo_bad))
        .then(step("d", lambda _: Failure("d refused")))
    )

    async def main() -> Any:
        return await saga.run_with_report(0, on_compensation_failure="continue")

    report = anyio.run(main, backend=backend)
    assert report.result == Failure("d refused")
    assert undone == [("bad", 3), ("ok", 2), ("plain", 1)]
    assert [r.outcome for r in report.steps] == [
        StepOutcome.COMPENSATED,
        StepOutcome.COMPENSATED,
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.FAILED,
    ]
    assert report.steps[2].error == "cannot delete"


def test_sync_pieces_inside_an_async_saga_run_inline(backend: str) -> None:
    """Sync actions and sync compensations run on the event loop, in the
    task that awaits ``run``, in order with the async ones."""
    calls: list[tuple[str, object, object]] = []
    loop_thread = threading.get_ident()

    def where() -> object:
        assert threading.get_ident() == loop_thread
        return anyio.get_current_task().id

    def sync_do(name: str) -> Callable[[int], Result[int, str]]:
        def act(n: int) -> Result[int, str]:
            calls.append(("do", name, where()))
            return Success(n + 1)

        return act

    def sync_undo(name: str) -> Callable[[int], Result[None, str]]:
        def comp(n: int) -> Result[None, str]:
            calls.append(("undo", name, n))
            where()
            return Success(None)

        return comp

    async def async_do(n: int) -> Result[int, str]:
        await anyio.sleep(0)
        calls.append(("do", "async", where()))
        return Success(n * 10)

    async def async_undo(n: int) -> Result[None, str]:
        await anyio.sleep(0)
        calls.append(("undo", "async", n))
        return Success(None)

    saga = (
        step("sync 1", sync_do("sync 1"), compensate=sync_undo("sync 1"))
        .then(step("async", async_do, compensate=async_undo))
        .then(step("sync 2", sync_do("sync 2"), compensate=sync_undo("sync 2")))
        .then(step("refuse", lambda _: Failure("no")))
    )
    assert isinstance(saga, AsyncSaga)

    async def main() -> tuple[Result[int, str], object]:
        return await saga.run(1), anyio.get_current_task().id

    result, task = anyio.run(main, backend=backend)
    assert result == Failure("no")
    assert calls == [
        ("do", "sync 1", task),
        ("do", "async", task),
        ("do", "sync 2", task),
        ("undo", "sync 2", 21),
        ("undo", "async", 20),
        ("undo", "sync 1", 2),
    ]


def test_lambda_returning_coroutine_is_awaited_in_an_async_saga(backend: str) -> None:
    """Inside an async saga any awaitable result is awaited, even from a lambda
    (as action or compensation), so hiding the coroutine does no harm there."""
    undone: list[int] = []

    async def add(n: int) -> Result[int, str]:
        await anyio.sleep(0)
        return Success(n + 1)

    async def undo(n: int) -> Result[None, str]:
        await anyio.sleep(0)
        undone.append(n)
        return Success(None)

    saga = (
        step("async first", add)
        .then(step("hidden", _hide(add), compensate=_hide(undo)))
        .then(step("refuse", lambda _: Failure("no")))
    )

    async def main() -> Result[int, str]:
        return await saga.run(1)

    assert anyio.run(main, backend=backend) == Failure("no")
    assert undone == [3]


# -- step() decides at definition time ----------------------------------------------


async def _coroutine_action(n: int) -> Result[int, str]:
    await anyio.sleep(0)
    return Success(n + 1)


def _inc(n: int) -> Result[int, str]:
    return Success(n + 1)


def _refuse(_: object) -> Result[int, str]:
    return Failure("no")


def _hide(fn: Callable[[int], object]) -> Callable[[int], Result[Any, str]]:
    """An async function behind a lambda: neither ``step`` (no coroutine
    function, no ``__wrapped__``, no annotation) nor the type checker (the
    cast) can see that it is async, as with a lambda or a loosely typed
    callback in user code."""
    return cast(Callable[[int], Result[Any, str]], lambda n: fn(n))  # noqa: PLW0108


def _wrapped_coroutine_action() -> Callable[
    [int], Coroutine[Any, Any, Result[int, str]]
]:
    @functools.wraps(_coroutine_action)
    def logged(n: int) -> Coroutine[Any, Any, Result[int, str]]:
        return _coroutine_action(n)

    # hide the annotation so only functools.wraps (``__wrapped__``) can tell
    logged.__annotations__ = {}
    return logged


def _future_annotated() -> Callable[[int], FutureResult[int, str]]:
    def lookup(n: int) -> FutureResult[int, str]:
        return FutureResult.from_value(n + 1)

    # the real class object (not a string, as ``from __future__`` would give)
    lookup.__annotations__ = {"n": int, "return": FutureResult[int, str]}
    return lookup


def _future_annotated_as_string() -> Callable[[int], FutureResult[int, str]]:
    def lookup(n: int) -> FutureResult[int, str]:  # a string under __future__
        return FutureResult.from_value(n + 1)

    return lookup


class _AsyncCallable:
    """An object whose ``__call__`` is ``async def``."""

    async def __call__(self, n: int) -> Result[int, str]:
        await anyio.sleep(0)
        return Success(n + 1)


ASYNC_ACTIONS: dict[str, Callable[[], Callable[[int], Any]]] = {
    "coroutine function": lambda: _coroutine_action,
    "functools.wraps": _wrapped_coroutine_action,
    "FutureResult annotation": _future_annotated,
    "FutureResult string annotation": _future_annotated_as_string,
    "async __call__": _AsyncCallable,
    "future_safe": lambda: future_safe(_coroutine_action),
    "functools.partial": lambda: functools.partial(_coroutine_action),
}


@pytest.mark.parametrize("kind", ASYNC_ACTIONS)
def test_step_detects_async_actions_at_definition_time(backend: str, kind: str) -> None:
    """Each way of being async gives an ``AsyncSaga`` before anything runs,
    and the saga runs."""
    action = ASYNC_ACTIONS[kind]()
    saga = step("act", action)
    assert isinstance(saga, AsyncSaga)

    async def main() -> Any:
        return await saga.run(1)

    result = anyio.run(main, backend=backend)
    if kind == "future_safe":  # future_safe wraps the Result in a Success
        assert result == Success(Success(2))
    else:
        assert result == Success(2)


def test_step_stays_sync_for_sync_actions() -> None:
    """A plain function, a lambda, a ``functools.partial`` and a sync callable
    object are sync steps."""
    assert isinstance(step("lambda", lambda n: Success(n)), Saga)  # noqa: PLW0108

    def plain(n: int) -> Result[int, str]:
        return Success(n)

    class Callable_:
        def __call__(self, n: int) -> Result[int, str]:
            return Success(n)

    def lam(n: int) -> Result[int, str]:
        return Success(n)

    for action in (plain, lam, functools.partial(plain), Callable_()):
        assert isinstance(step("s", action), Saga)


def test_async_compensation_alone_makes_the_step_async(backend: str) -> None:
    """A sync action with an async compensation needs the async runner."""
    undone: list[int] = []

    async def undo(n: int) -> Result[None, str]:
        await anyio.sleep(0)
        undone.append(n)
        return Success(None)

    first = step("sync action", _inc, compensate=undo)
    assert isinstance(first, AsyncSaga)
    saga = first.then(step("refuse", _refuse))

    async def main() -> Any:
        return await saga.run(1)

    assert anyio.run(main, backend=backend) == Failure("no")
    assert undone == [2]


def test_then_mixes_sync_and_async_into_an_async_saga(backend: str) -> None:
    """``Saga.then(AsyncSaga)`` and ``AsyncSaga.then(Saga)`` are async; the
    sync parts are not changed."""
    sync = step("sync", _inc)
    async_ = step("async", _coroutine_action)
    forward = sync.then(async_)
    backward = async_.then(sync)
    assert isinstance(forward, AsyncSaga)
    assert isinstance(backward, AsyncSaga)
    assert isinstance(sync, Saga)
    assert forward.step_names == ("sync", "async")
    assert backward.step_names == ("async", "sync")

    async def main() -> tuple[Any, Any]:
        return await forward.run(1), await backward.map(str).run(10)

    assert anyio.run(main, backend=backend) == (Success(3), Success("12"))


# -- the sync runner meets an awaitable it could not foresee ---------------------------


def _run_sync_and_collect_warnings(saga: Saga[int, Any, Any]) -> tuple[str, list[str]]:
    """Run ``saga`` expecting a ``TypeError``; return its message and every
    warning raised meanwhile, after dropping the traceback (whose frames would
    keep a leaked coroutine alive past the check) and collecting garbage."""
    message = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            saga.run(1)
        except TypeError as exc:
            message = str(exc)
            exc.__traceback__ = None
        gc.collect()  # any unawaited coroutine warns when collected
    assert message, "Saga.run did not raise TypeError"
    return message, [str(w.message) for w in caught]


def test_sync_run_of_a_hidden_coroutine_unwinds_and_advises() -> None:
    """A lambda hides the coroutine function: ``step`` builds a ``Saga``;
    ``Saga.run`` then meets the coroutine, unwinds the completed steps, closes
    the coroutine (no "never awaited" warning) and raises a ``TypeError``
    saying how to declare the step async."""
    undone: list[int] = []

    def release(n: int) -> Result[None, str]:
        undone.append(n)
        return Success(None)

    saga = step("reserve", _inc, compensate=release).then(
        step("fetch", _hide(_coroutine_action))
    )
    assert isinstance(saga, Saga)
    message, caught = _run_sync_and_collect_warnings(saga)
    assert undone == [2]
    assert "'fetch'" in message
    assert "async def" in message
    assert "FutureResult" in message
    assert "await saga.run" in message
    assert caught == []


def test_sync_run_of_a_hidden_future_result_leaks_no_warning() -> None:
    """Same, with a lambda around a ``future_safe`` function: unwound, advised,
    and the coroutine inside the ``FutureResult`` is closed too."""
    undone: list[int] = []

    def release(n: int) -> Result[None, str]:
        undone.append(n)
        return Success(None)

    fetch = future_safe(_coroutine_action)
    saga = step("reserve", _inc, compensate=release).then(step("fetch", _hide(fetch)))
    message, caught = _run_sync_and_collect_warnings(saga)
    assert undone == [2]
    assert "async def" in message
    assert caught == []


def test_sync_compensation_returning_a_coroutine_is_a_failed_compensation() -> None:
    """In a sync saga, a compensation that hides a coroutine has failed (with
    the same advice); the coroutine is closed and the run's failure is kept."""
    undone: list[int] = []

    async def undo(n: int) -> Result[None, str]:
        undone.append(n)
        return Success(None)

    failure = Failure("refused")
    hidden = cast(Callable[[int], Result[None, str]], lambda n: undo(n))  # noqa: PLW0108
    saga = step("make", _inc, compensate=hidden).then(step("refuse", lambda _: failure))
    assert isinstance(saga, Saga)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = saga.run_with_report(1)
        gc.collect()
    assert report.result is failure
    assert undone == []  # the coroutine never ran
    assert report.steps[0].outcome is StepOutcome.COMPENSATION_FAILED
    assert isinstance(report.steps[0].error, TypeError)
    assert "async def" in str(report.steps[0].error)
    assert [str(w.message) for w in caught] == []


# -- an `await` missing inside an async action or compensation -------------------------

AWAIT_MISSING = (
    "returned an awaitable that, once awaited, gave another awaitable instead of a "
    "Result: is an `await` missing inside it (`return await other(...)`)?"
)


class _Deferred:
    """An awaitable (not a coroutine) whose result is another awaitable."""

    def __init__(self, inner: Coroutine[Any, Any, object]) -> None:
        self.inner = inner

    def __await__(self) -> Any:
        yield from ()
        return self.inner


async def _inner(value: object) -> Result[object, str]:
    return Success(value)


def _forgetful(how: str) -> Callable[[object], Any]:
    """A function whose awaited result is the coroutine of ``_inner``: an
    ``async def`` that forgot its ``await``, or a plain function returning
    an awaitable that does."""
    if how == "coroutine":

        async def forgot(value: object) -> Any:
            return _inner(value)

        return forgot
    return lambda value: _Deferred(_inner(value))


@pytest.mark.parametrize("how", ["coroutine", "awaitable"])
def test_a_missing_inner_await_names_the_step_or_its_compensation(
    backend: str, how: str
) -> None:
    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    forgot = _forgetful(how)
    action_broken = step("a", ok).then(step("b", forgot))
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        with pytest.raises(TypeError) as caught:
            anyio.run(action_broken.run, 1, backend=backend)
        assert str(caught.value) == f"step 'b' {AWAIT_MISSING}"

        compensation_broken = step("a", ok, compensate=forgot).then(
            step("b", lambda _: Failure("no"))
        )
        report = anyio.run(compensation_broken.run_with_report, 1, backend=backend)
        gc.collect()
    assert report.result == Failure("no")
    assert report.steps[0].outcome is StepOutcome.COMPENSATION_FAILED
    assert isinstance(report.steps[0].error, TypeError)
    assert str(report.steps[0].error) == f"the compensation of step 'a' {AWAIT_MISSING}"
    assert [str(w.message) for w in warned] == []  # each coroutine was closed


@pytest.mark.parametrize(
    ("returned", "described"),
    [(None, "None (is a `return` missing?)"), (42, "a builtins.int")],
)
def test_a_sync_compensation_in_an_async_saga_returning_a_non_result(
    backend: str, returned: object, described: str
) -> None:
    async def ok(value: object) -> Result[object, str]:
        return Success(value)

    def compensate(_: object) -> Any:
        return returned

    saga = step("a", ok, compensate=compensate).then(step("b", lambda _: Failure("no")))
    report = anyio.run(saga.run_with_report, 1, backend=backend)
    assert report.steps[0].outcome is StepOutcome.COMPENSATION_FAILED
    assert str(report.steps[0].error) == (
        f"the compensation of step 'a' returned {described}, not a returns Result; "
        "return Success(value) or Failure(error)"
    )


def test_current_step_in_a_worker_thread_of_an_async_step(backend: str) -> None:
    async def act(value: object) -> Result[str, str]:
        context = await anyio.to_thread.run_sync(current_step)
        return Success(context.key)

    run = functools.partial(step("a", act).named("s").run, 1, run_id="r")
    assert anyio.run(run, backend=backend) == Success("r/a")


# -- exceptions from async actions: rule 6 ---------------------------------------------


def test_exception_from_async_action_unwinds_then_reraises_same_object(
    backend: str,
) -> None:
    """Completed steps (sync and async compensations, which await) are undone
    in reverse, then the very exception propagates with a note naming the step
    and the compensation that failed."""
    undone: list[tuple[str, int]] = []
    boom = ConnectionResetError("peer went away")
    broken = RuntimeError("delete failed")

    async def make(n: int) -> Result[int, str]:
        await anyio.sleep(0)
        return Success(n + 1)

    async def explode(n: int) -> Result[int, str]:
        await anyio.sleep(0)
        raise boom

    async def undo_async(n: int) -> Result[None, str]:
        await anyio.sleep(0)
        await anyio.sleep(0)
        undone.append(("async", n))
        return Success(None)

    def undo_sync(n: int) -> Result[None, str]:
        undone.append(("sync", n))
        return Success(None)

    def undo_broken(n: int) -> Result[None, str]:
        undone.append(("broken", n))
        raise broken

    saga = (
        step("one", make, compensate=undo_async)
        .then(step("two", make, compensate=undo_sync))
        .then(step("three", make, compensate=undo_broken))
        .then(step("call peer", explode))
        .then(step("never", make, compensate=undo_sync))
    )

    async def main() -> None:
        await saga.run(0, on_compensation_failure="continue")

    with pytest.raises(ConnectionResetError) as info:
        anyio.run(main, backend=backend)
    assert info.value is boom
    assert undone == [("broken", 3), ("sync", 2), ("async", 1)]
    notes = "\n".join(getattr(boom, "__notes__", []))
    assert "'call peer'" in notes
    assert "'three'" in notes
    assert "delete failed" in notes


def test_exception_from_async_action_under_stop_policy(backend: str) -> None:
    """With the default policy a failing compensation stops the unwinding and
    the steps left behind are named in the note."""
    undone: list[int] = []
    boom = ValueError("bad input")

    async def make(n: int) -> Result[int, str]:
        return Success(n + 1)

    async def explode(n: int) -> Result[int, str]:
        await anyio.sleep(0)
        raise boom

    async def undo(n: int) -> Result[None, str]:
        undone.append(n)
        return Success(None)

    async def undo_fails(n: int) -> Result[None, str]:
        await anyio.sleep(0)
        return Failure("still attached")

    saga = (
        step("first", make, compensate=undo)
        .then(step("second", make, compensate=undo_fails))
        .then(step("third", explode))
    )

    async def main() -> None:
        await saga.run(0)

    with pytest.raises(ValueError, match="bad input") as info:
        anyio.run(main, backend=backend)
    assert info.value is boom
    assert undone == []
    notes = "\n".join(boom.__notes__)
    assert "'third'" in notes
    assert "left un-compensated: 'first'" in notes


# -- one definition, 10,000 concurrent runs -----------------------------------------


RUNS = 10_000


def test_ten_thousand_concurrent_runs_of_one_definition(backend: str) -> None:
    """Every run gets its own results and its own compensation arguments; odd
    inputs fail at the last step so their compensations run concurrently with
    other runs' forward steps."""
    undone: dict[int, list[tuple[str, object]]] = {}

    async def reserve(n: int) -> Result[tuple[int, str], str]:
        for _ in range(n % 3):  # vary the interleaving
            await anyio.sleep(0)
        return Success((n, "quota"))

    def label(pair: tuple[int, str]) -> Result[tuple[int, str], str]:
        n, _ = pair
        return Success((n, f"net-{n}"))

    async def create(pair: tuple[int, str]) -> Result[str, str]:
        n, net = pair
        await anyio.sleep(0)
        if n % 2:
            return Failure(f"server for run {n} refused")
        return Success(f"server-{n}@{net}")

    async def release(pair: tuple[int, str]) -> Result[None, str]:
        await anyio.sleep(0)
        undone.setdefault(pair[0], []).append(("release", pair))
        return Success(None)

    def delete(pair: tuple[int, str]) -> Result[None, str]:
        undone.setdefault(pair[0], []).append(("delete", pair))
        return Success(None)

    saga = (
        step("reserve", reserve, compensate=release)
        .then(step("network", label, compensate=delete))
        .then(step("server", create))
    )
    results: dict[int, Result[str, str]] = {}

    async def one(n: int) -> None:
        results[n] = await saga.run(n)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for n in range(RUNS):
                group.start_soon(one, n)

    anyio.run(main, backend=backend)
    assert len(results) == RUNS
    for n in range(RUNS):
        if n % 2:
            assert results[n] == Failure(f"server for run {n} refused")
            assert undone[n] == [
                ("delete", (n, f"net-{n}")),
                ("release", (n, "quota")),
            ]
        else:
            assert results[n] == Success(f"server-{n}@net-{n}")
            assert n not in undone
    assert len(undone) == RUNS // 2
