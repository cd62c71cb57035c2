"""The peers: the same 10-step workload, each library in its own idiom.

* saga-py 1.1.0 (``import saga``): a builder of (action, compensation) pairs;
  an action returns a dict passed as ``**kwargs`` to the next one, failure is
  an exception, wrapped in ``SagaError`` after the rollback.
* simple-saga 0.1.6 (``SyncSaga``): a context manager; ``saga.step(...)`` runs
  the action at once and records it; an exception leaving the block triggers
  the compensations.
* sagaz 1.5.0: async only; steps are added with ``add_step`` and chained with
  ``depends_on``, actions take and return a context dict. It is timed inside one
  running asyncio loop, beside an equally async bare loop, so the event loop's
  own floor is visible.
* A hand-written ``try``/``except`` rollback over plain values and exceptions:
  what the code looks like without any library and without ``returns``.

The peers are a bench-only extra (``pip install -e '.[bench]'``); a peer that is
missing is reported as such. Run alone with ``python benchmarks/bench_peers.py``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from types import ModuleType
from typing import Any

from bench_sync import (
    STEPS,
    Measured,
    Thunk,
    bare_loop,
    build_saga,
    fmt_ratio,
    fmt_time,
    interleaved,
    markdown_table,
    pairs,
    prose,
)


class Boom(Exception):
    """The failure of the last step, for the peers that signal by raising."""


def _module(name: str) -> ModuleType | str:
    """The peer's module, or why it cannot be used here."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # an ImportError, or a peer that breaks on import
        return (
            f"not available ({type(exc).__name__}: {exc}); "
            "install with pip install -e '.[bench]'"
        )


def _swallow(fn: Thunk, *errors: type[BaseException]) -> Thunk:
    """A thunk that runs ``fn`` and swallows the failure it is meant to raise."""

    def call() -> object:
        try:
            return fn()
        except errors as exc:
            return exc

    return call


# --------------------------------------------------------------------------
# Hand-written: plain values and exceptions, no returns
# --------------------------------------------------------------------------


def plain_inc(x: int) -> int:
    """A trivial action, plain-value style."""
    return x + 1


def plain_undo(_: int) -> None:
    """A trivial compensation, plain-value style."""


def plain_fail(_: int) -> int:
    """The failing last action, plain-value style."""
    raise Boom("boom")


PlainPairs = tuple[tuple[Callable[[int], int], Callable[[int], None]], ...]


def plain_pairs(
    *, fail_last: bool, undo: Callable[[int], None] = plain_undo
) -> PlainPairs:
    """(action, compensation) for each step, plain-value style."""
    last = plain_fail if fail_last else plain_inc
    return tuple((last if i == STEPS - 1 else plain_inc, undo) for i in range(STEPS))


def try_except(steps: PlainPairs, value: int) -> int:
    """The hand-written rollback: try the actions, undo the done ones, re-raise."""
    done: list[tuple[Callable[[int], None], int]] = []
    try:
        for action, compensate in steps:
            value = action(value)
            done.append((compensate, value))
    except Exception:
        for compensate, output in reversed(done):
            try:
                compensate(output)
            except Exception:
                break  # a real handler would log it; never happens here
        raise
    return value


# --------------------------------------------------------------------------
# saga-py 1.1.0
# --------------------------------------------------------------------------


def saga_py_case(
    *, fail_last: bool, undo: Callable[..., None] | None = None
) -> Thunk | str:
    """A built saga-py saga (actions pass ``{"x": ...}`` as kwargs), executed."""
    module = _module("saga")
    if isinstance(module, str):
        return module

    def inc(x: int = 0) -> dict[str, int]:
        return {"x": x + 1}

    def nothing(x: int = 0) -> None:
        return None

    def boom(x: int = 0) -> dict[str, int]:
        raise Boom("boom")

    builder = module.SagaBuilder.create()
    for i in range(STEPS):
        action = boom if fail_last and i == STEPS - 1 else inc
        builder = builder.action(action, undo or nothing)
    saga = builder.build()
    if not fail_last:
        return saga.execute  # type: ignore[no-any-return]
    return _swallow(saga.execute, module.SagaError)


# --------------------------------------------------------------------------
# simple-saga 0.1.6
# --------------------------------------------------------------------------


def simple_saga_case(
    *, fail_last: bool, undo: Callable[[int], None] = plain_undo
) -> Thunk | str:
    """A ``SyncSaga`` block running the ten steps, each output feeding the next."""
    module = _module("simple_saga")
    if isinstance(module, str):
        return module
    # simple-saga logs every step at INFO and a failure at ERROR; give its logger a
    # handler so the ERROR record is handled (as in an app) instead of printed.
    logging.getLogger("simple_saga").addHandler(logging.NullHandler())
    sync_saga: Callable[[], Any] = module.SyncSaga
    actions = [
        plain_fail if fail_last and i == STEPS - 1 else plain_inc for i in range(STEPS)
    ]

    def run() -> int:
        x = 0
        with sync_saga() as saga:
            for action in actions:
                x = saga.step(action, undo, action_args=(x,))
        return x

    return _swallow(run, Boom) if fail_last else run


# --------------------------------------------------------------------------
# sagaz 1.5.0 (async only)
# --------------------------------------------------------------------------


async def _async_bare_loop(
    steps: tuple[
        tuple[Callable[[int], Awaitable[Any]], Callable[[int], Awaitable[Any]]], ...
    ],
) -> object:
    """The async floor: the bare ``Result`` loop with ``await`` on each call."""
    from returns.result import Success

    value = 0
    outputs: list[int] = []
    result: object = None
    for action, _ in steps:
        result = await action(value)
        if not isinstance(result, Success):
            for index in reversed(range(len(outputs))):
                if not isinstance(await steps[index][1](outputs[index]), Success):
                    break
            return result
        value = result.unwrap()
        outputs.append(value)
    return result


def sagaz_cases(*, fail_last: bool, rounds: int) -> list[Measured] | str:
    """sagaz in one asyncio loop, against the async bare loop in the same loop."""
    module = _module("sagaz")
    if isinstance(module, str):
        return module
    from returns.result import Failure, Result, Success

    async def inc(ctx: dict[str, Any]) -> dict[str, int]:
        return {"x": ctx["x"] + 1}

    async def undo(ctx: dict[str, Any]) -> None:
        return None

    async def boom(ctx: dict[str, Any]) -> dict[str, int]:
        raise Boom("boom")

    # Minimal observability, like typed-saga's default (sagaz's default config
    # logs every step at INFO and keeps metrics): no listeners, no storage.
    config = module.SagaConfig(logging=False, metrics=False, tracing=False)
    saga = module.Saga(name="bench", config=config)
    previous: str | None = None
    for i in range(STEPS):
        name = f"step {i}"
        action = boom if fail_last and i == STEPS - 1 else inc
        saga.add_step(name, action, undo, depends_on=[previous] if previous else None)
        previous = name

    async def r_inc(x: int) -> Result[int, str]:
        return Success(x + 1)

    async def r_undo(_: int) -> Result[None, str]:
        return Success(None)

    async def r_fail(_: int) -> Result[int, str]:
        return Failure("boom")

    r_steps = tuple(
        (r_fail if fail_last and i == STEPS - 1 else r_inc, r_undo)
        for i in range(STEPS)
    )

    async def one_sagaz() -> object:
        try:
            return await saga.run({"x": 0})
        except Boom as exc:
            return exc

    loop = asyncio.new_event_loop()
    try:
        got = loop.run_until_complete(one_sagaz())
        expected_ok = {"x": STEPS}
        if not fail_last:
            assert isinstance(got, dict)
            assert {"x": got["x"]} == expected_ok, got
        else:
            assert isinstance(got, Boom), got

        def thunk(make: Callable[[], Coroutine[Any, Any, object]]) -> Thunk:
            return lambda: loop.run_until_complete(make())

        return interleaved(
            [
                (
                    "async bare `Result` loop (asyncio floor)",
                    thunk(partial(_async_bare_loop, r_steps)),
                ),
                ("sagaz 1.5.0 (async, `Saga.run`)", thunk(one_sagaz)),
            ],
            rounds=rounds,
            target=0.01,
        )
    finally:
        loop.close()


# --------------------------------------------------------------------------


def _verify_peers() -> None:
    """Each peer computes the workload: the right result, the right number of
    compensations (counted by a separate, instrumented build of each)."""
    calls: list[object] = []

    def count(*args: object, **kwargs: object) -> None:
        calls.append(args or kwargs)

    for fail_last in (False, True):
        hand = partial(try_except, plain_pairs(fail_last=fail_last, undo=count), 0)
        checks: list[tuple[str, Thunk | str, int]] = [
            ("try/except", _swallow(hand, Boom) if fail_last else hand, STEPS - 1),
            ("saga-py", saga_py_case(fail_last=fail_last, undo=count), STEPS),
            (
                "simple-saga",
                simple_saga_case(fail_last=fail_last, undo=count),
                STEPS - 1,
            ),
        ]
        for name, case, compensations in checks:
            if isinstance(case, str):
                continue
            calls.clear()
            outcome = case()
            if fail_last:
                assert isinstance(outcome, BaseException), (name, outcome)
                assert len(calls) == compensations, (name, calls)
            else:
                assert outcome in (STEPS, None), (name, outcome)  # saga-py returns None
                assert not calls, (name, calls)


def _sync_cases(
    *, fail_last: bool
) -> tuple[list[tuple[str, Thunk]], list[tuple[str, str]]]:
    steps = pairs(STEPS, fail_last=fail_last)
    saga = build_saga(STEPS, fail_last=fail_last)
    plain = plain_pairs(fail_last=fail_last)
    hand: Thunk = partial(try_except, plain, 0)
    cases: list[tuple[str, Thunk]] = [
        ("bare `Result` loop (the limit)", partial(bare_loop, steps, 0)),
        (
            "hand-written try/except, plain values",
            _swallow(hand, Boom) if fail_last else hand,
        ),
        ("**typed-saga** `Saga.run`", partial(saga.run, 0)),
    ]
    missing: list[tuple[str, str]] = []
    for label, case in (
        ("saga-py 1.1.0", saga_py_case(fail_last=fail_last)),
        ("simple-saga 0.1.6 (`SyncSaga`)", simple_saga_case(fail_last=fail_last)),
    ):
        if isinstance(case, str):
            missing.append((label, case))
        else:
            cases.append((label, case))
    return cases, missing


def _with_second_baseline(
    measured: list[Measured], index: int
) -> list[tuple[Measured, float]]:
    """Each row with its ratio to row ``index`` as well (same rounds' medians)."""
    other = measured[index].ratio
    return [(m, m.ratio / other) for m in measured]


def main(rounds: int = 25) -> str:
    """Run the peer comparison; return its markdown section."""
    t0 = time.perf_counter()
    _verify_peers()
    ok_cases, missing = _sync_cases(fail_last=False)
    bad_cases, _ = _sync_cases(fail_last=True)
    ok = interleaved(ok_cases, rounds=rounds)
    bad = interleaved(bad_cases, rounds=rounds)
    header = [
        "runner",
        "success: ratio",
        "per run",
        "vs try/except",
        "fail at last: ratio",
        "per run",
        "vs try/except",
    ]
    rows: list[list[str]] = []
    for (a, a2), (b, b2) in zip(
        _with_second_baseline(ok, 1), _with_second_baseline(bad, 1), strict=True
    ):
        rows.append(
            [
                a.name,
                fmt_ratio(a),
                fmt_time(a.seconds),
                f"{a2:.2f}x",
                fmt_ratio(b),
                fmt_time(b.seconds),
                f"{b2:.2f}x",
            ]
        )
    rows.extend([label, why, "", "", "", "", ""] for label, why in missing)

    sagaz_ok = sagaz_cases(fail_last=False, rounds=max(7, rounds // 3))
    sagaz_bad = sagaz_cases(fail_last=True, rounds=max(7, rounds // 3))
    if isinstance(sagaz_ok, str) or isinstance(sagaz_bad, str):
        why = sagaz_ok if isinstance(sagaz_ok, str) else str(sagaz_bad)
        sagaz_table = markdown_table(["runner", "result"], [["sagaz 1.5.0", why]])
    else:
        sagaz_table = markdown_table(
            [
                "runner (one asyncio loop)",
                "success: ratio",
                "per run",
                "fail at last: ratio",
                "per run",
            ],
            [
                [
                    a.name,
                    fmt_ratio(a),
                    fmt_time(a.seconds),
                    fmt_ratio(b),
                    fmt_time(b.seconds),
                ]
                for a, b in zip(sagaz_ok, sagaz_bad, strict=True)
            ],
        )
    typed = ok[2]
    quicker = [m.name for m in ok[3:] if m.ratio < typed.ratio]
    faster = (
        f"Faster than typed-saga on success: {', '.join(quicker)}, which carry "
        "plain values and signal failure by raising, so they pay no container "
        "cost: compare them with the try/except row, not with the limit."
        if quicker
        else ""
    )
    plain_ratio = ok[1].ratio
    return "\n\n".join(
        [
            "## The peers: same 10-step workload, each in its own idiom",
            prose(
                """
                Ratios are to the bare `Result` loop (first row) of the same
                interleaved rounds; *vs try/except* divides by the hand-written
                rollback over plain values and exceptions instead. Definitions are
                built once, outside the timing, for every library that has one.
                """
            ),
            markdown_table(header, rows),
            prose(
                f"""
                **Where the time goes.** The hand-written try/except loop is
                {1 / plain_ratio:.1f}x faster than the bare `Result` loop on
                success: that gap is the price of `returns` containers (allocating
                a `Success` per step, then `isinstance` + `unwrap()`), which users
                pay by choosing typed results, with or without typed-saga. On the
                fail path the containers win some of it back: returning a `Failure`
                is cheaper than raising and catching an exception. typed-saga's own
                overhead is its ratio to the bare `Result` loop ({typed.ratio:.2f}x
                on success, {bad[2].ratio:.2f}x on failure). {faster}
                """
            ),
            prose(
                """
                Semantics differ: saga-py also compensates the failing action
                itself, and hands each compensation its action's *input* kwargs,
                not its output; simple-saga passes the output, like typed-saga; both
                signal failure only by raising. simple-saga logs each step at INFO
                (an f-string is built per step even when INFO is off) and the
                failure at ERROR (its logger is given a `NullHandler` here, so
                records are built and handled but not printed).
                """
            ),
            prose(
                """
                sagaz 1.5.0 installs and runs here, but it is async only, so it is
                timed in one asyncio loop against the same bare loop written with
                `await` (one `run_until_complete` per run for both, so that cost is
                in both). It runs each step through `asyncio.gather` and
                `asyncio.wait_for` (a task per step) and resolves a dependency graph
                per run; its default config (logging and metrics listeners) is
                turned off here to match typed-saga's silent success path.
                """
            ),
            sagaz_table,
            f"_(peers section: {time.perf_counter() - t0:.0f} s)_",
        ]
    )


if __name__ == "__main__":
    print(main())
