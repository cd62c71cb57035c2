"""Async benchmarks: runner overhead, 10,000 concurrent sagas, parallel fan-out.

Three measurements, each a ratio taken within one run (the machine is shared
and noisy; absolute times are printed only beside their ratio):

(a) **Overhead.** A 10-step ``AsyncSaga`` against a hand-written async loop
    doing the same awaits: await every action, check for ``Success``, keep the
    outputs, and on failure await every compensation in reverse. Success path
    and fail-at-last path (nine compensations), with no-op coroutines (the
    worst case: nothing but the runner to measure) and with one real
    checkpoint (``anyio.sleep(0)``) per action and compensation. Target: 1.3
    or less. Both backends.
(b) **Throughput.** 10,000 runs of one 3-step definition started at once in
    one task group (half of them fail at the last step and unwind), against
    the same 10,000 hand-written loops: runs per second and the ratio (target
    1.5 or less). Also against those loops unwinding shielded, as the runner
    does, to show what its cancellation safety costs.
(c) **Fan-out.** ``parallel`` of k = 2, 4, 8 branches whose step sleeps 50 ms,
    as a ratio to a single such branch run alone (target 1.2 or less); and the
    group's rollback: the same branches, each compensation sleeping 50 ms,
    followed by a failing step, against one branch doing the same.

Timing: ``time.perf_counter``; candidates alternate within each round (A B,
then B A, ...), a round's ratio compares the two batches of that round, and
the tables give the median ratio over the rounds with its 25th-75th
percentile range. Run alone with ``python benchmarks/bench_async.py``;
``main()`` returns the markdown for ``benchmarks/run.py``.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial, reduce
from typing import Any

import anyio
from returns.result import Failure, Result, Success

from typed_saga import AsyncSaga, parallel, step

STEPS = 10
"""Steps in the overhead workload."""
CONCURRENT = 10_000
"""Runs started at once in the throughput benchmark."""
THROUGHPUT_TARGET = 1.5
"""Its target: typed-saga's time over the hand-written runs'."""
IO_DELAY = 0.05
"""The simulated I/O of a fan-out branch, in seconds."""
BACKENDS = ("asyncio", "trio")

AsyncThunk = Callable[[], Awaitable[object]]
Pair = tuple[
    Callable[[int], Coroutine[Any, Any, Result[int, str]]],
    Callable[[int], Awaitable[Result[None, str]]],
]


# -- formatting ----------------------------------------


@dataclass(frozen=True)
class Ratio:
    """Median seconds of the candidate and the baseline, and the median ratio
    over rounds with its interquartile range."""

    candidate: float
    baseline: float
    ratio: float
    low: float
    high: float


def _ratio(candidate: Sequence[float], baseline: Sequence[float]) -> Ratio:
    ratios = sorted(c / b for c, b in zip(candidate, baseline, strict=True))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return Ratio(
        statistics.median(candidate),
        statistics.median(baseline),
        statistics.median(ratios),
        quartiles[0],
        quartiles[-1],
    )


def fmt_time(seconds: float) -> str:
    """A duration in the unit that reads best."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(r: Ratio, target: float | None = None) -> str:
    """``**1.12x** (1.10-1.15)``, with a check mark against ``target``."""
    text = f"**{r.ratio:.2f}x** ({r.low:.2f}-{r.high:.2f})"
    if target is not None:
        text += " ✓" if r.ratio <= target else " ✗"
    return text


def _versus(r: Ratio, target: float) -> str:
    return f"{fmt_ratio(r, target)} {fmt_time(r.candidate)} vs {fmt_time(r.baseline)}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _progress(message: str) -> None:
    print(f"[bench_async] {message}", file=sys.stderr, flush=True)


# -- (a) overhead ----------------------------------------


def _workload(*, checkpoint: bool, fail_last: bool) -> tuple[Pair, ...]:
    """(action, compensation) pairs: no-op coroutines, or one checkpoint each."""

    if checkpoint:

        async def inc(x: int) -> Result[int, str]:
            await anyio.sleep(0)
            return Success(x + 1)

        async def undo(_: int) -> Result[None, str]:
            await anyio.sleep(0)
            return Success(None)

        async def fail(_: int) -> Result[int, str]:
            await anyio.sleep(0)
            return Failure("boom")

    else:

        async def inc(x: int) -> Result[int, str]:
            return Success(x + 1)

        async def undo(_: int) -> Result[None, str]:
            return Success(None)

        async def fail(_: int) -> Result[int, str]:
            return Failure("boom")

    last = fail if fail_last else inc
    return tuple((last if i == STEPS - 1 else inc, undo) for i in range(STEPS))


def _saga(pairs: Sequence[Pair]) -> AsyncSaga[int, int, str]:
    parts = [step(f"step {i}", a, compensate=c) for i, (a, c) in enumerate(pairs)]
    saga: AsyncSaga[int, int, str] = reduce(AsyncSaga.then, parts)
    _ = saga.nodes  # flatten once, as the first run would
    return saga


async def hand_loop(pairs: Sequence[Pair], value: int) -> Result[int, str]:
    """The baseline: the awaits any async ``Result`` runner must make."""
    outputs: list[int] = []
    result: Result[int, str] = Success(value)
    for action, _ in pairs:
        result = await action(value)
        if not isinstance(result, Success):
            for index in reversed(range(len(outputs))):
                if not isinstance(await pairs[index][1](outputs[index]), Success):
                    break
            return result
        value = result.unwrap()
        outputs.append(value)
    return result


async def _batch(fn: AsyncThunk, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - start) / n


async def _calibrate(fn: AsyncThunk, target: float) -> int:
    n = 1
    while True:
        elapsed = await _batch(fn, n) * n
        if elapsed >= target / 4 or n >= 1 << 20:
            return max(1, int(n * target / max(elapsed, 1e-9)))
        n *= 4


async def _interleaved(
    candidate: AsyncThunk, baseline: AsyncThunk, rounds: int, target: float = 0.005
) -> Ratio:
    """Per-call times of both, batch by batch, alternating which goes first."""
    for fn in (candidate, baseline):
        for _ in range(20):
            await fn()
    sizes = [await _calibrate(candidate, target), await _calibrate(baseline, target)]
    times: list[list[float]] = [[], []]
    fns = (candidate, baseline)
    for number in range(rounds):
        gc.collect()
        order = (0, 1) if number % 2 == 0 else (1, 0)
        for index in order:
            times[index].append(await _batch(fns[index], sizes[index]))
    return _ratio(times[0], times[1])


def overhead(rounds: int) -> list[list[str]]:
    """Table rows for (a), both backends."""
    rows: list[list[str]] = []
    for backend in BACKENDS:
        for checkpoint in (False, True):
            for fail_last in (False, True):
                pairs = _workload(checkpoint=checkpoint, fail_last=fail_last)
                saga = _saga(pairs)
                expected = Failure("boom") if fail_last else Success(STEPS)

                async def main(
                    pairs: Sequence[Pair] = pairs, saga: AsyncSaga[int, int, str] = saga
                ) -> tuple[Ratio, Ratio]:
                    assert await saga.run(0) == await hand_loop(pairs, 0)
                    run = await _interleaved(
                        lambda: saga.run(0), lambda: hand_loop(pairs, 0), rounds
                    )
                    report = await _interleaved(
                        lambda: saga.run_with_report(0),
                        lambda: hand_loop(pairs, 0),
                        rounds,
                    )
                    return run, report

                assert anyio.run(hand_loop, pairs, 0, backend=backend) == expected
                run, report = anyio.run(main, backend=backend)
                rows.append(
                    [
                        backend,
                        "one checkpoint each" if checkpoint else "no-op coroutines",
                        "fail at last" if fail_last else "success",
                        f"{fmt_time(run.baseline)}",
                        f"{fmt_ratio(run, 1.3)} {fmt_time(run.candidate)}",
                        f"{fmt_ratio(report)} {fmt_time(report.candidate)}",
                    ]
                )
                _progress(f"overhead {rows[-1][:3]}: {run.ratio:.2f}x")
    return rows


# -- (b) throughput ----------------------------------------


async def _reserve(n: int) -> Result[int, str]:
    await anyio.sleep(0)
    return Success(n)


def _label(n: int) -> Result[int, str]:
    return Success(n + 1)


async def _create(n: int) -> Result[int, str]:
    await anyio.sleep(0)
    return Failure("odd") if n % 2 == 0 else Success(n)


async def _release(_: int) -> Result[None, str]:
    await anyio.sleep(0)
    return Success(None)


def _delete(_: int) -> Result[None, str]:
    return Success(None)


THROUGHPUT_SAGA = (
    step("reserve", _reserve, compensate=_release)
    .then(step("label", _label, compensate=_delete))
    .then(step("create", _create))
)


async def _hand_three(n: int) -> Result[int, str]:
    """The throughput workload written by hand: the same awaits."""
    first = await _reserve(n)
    if not isinstance(first, Success):
        return first
    second = _label(first.unwrap())
    if not isinstance(second, Success):
        await _release(first.unwrap())
        return second
    third = await _create(second.unwrap())
    if not isinstance(third, Success) and isinstance(_delete(second.unwrap()), Success):
        await _release(first.unwrap())
    return third


async def _hand_three_shielded(n: int, *, own_task: bool) -> Result[int, str]:
    """``_hand_three``, unwinding as the runner does: in a shielded cancel
    scope and, on asyncio (``own_task``), in a task of its own behind
    ``asyncio.shield`` (a native ``Task.cancel()`` passes through shields)."""
    first = await _reserve(n)
    if not isinstance(first, Success):
        return first
    second = _label(first.unwrap())
    if not isinstance(second, Success):
        await _shielded(_release(first.unwrap()), own_task=own_task)
        return second
    third = await _create(second.unwrap())
    if not isinstance(third, Success):
        await _shielded(_undo_two(first, second), own_task=own_task)
    return third


async def _undo_two(first: Success[int], second: Success[int]) -> None:
    if isinstance(_delete(second.unwrap()), Success):
        await _release(first.unwrap())


async def _shielded(unwinding: Coroutine[Any, Any, object], *, own_task: bool) -> None:
    with anyio.CancelScope(shield=True):
        if own_task:
            await asyncio.shield(asyncio.ensure_future(unwinding))
        else:
            await unwinding


async def _concurrent(run_one: Callable[[int], Awaitable[object]]) -> float:
    async def one(n: int) -> None:
        await run_one(n)

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for n in range(CONCURRENT):
            group.start_soon(one, n)
    return time.perf_counter() - start


def throughput(rounds: int) -> list[list[str]]:
    """Table rows for (b), both backends."""
    rows: list[list[str]] = []
    for backend in BACKENDS:
        shielded = partial(_hand_three_shielded, own_task=backend == "asyncio")

        async def main(
            shielded: Callable[[int], Awaitable[object]],
        ) -> tuple[Ratio, Ratio]:
            candidates = [
                lambda: _concurrent(THROUGHPUT_SAGA.run),
                lambda: _concurrent(_hand_three),
                lambda: _concurrent(shielded),
            ]
            times: list[list[float]] = [[], [], []]
            for number in range(rounds):
                gc.collect()
                order = [0, 1, 2] if number % 2 else [2, 1, 0]
                for index in order:
                    times[index].append(await candidates[index]())
            return _ratio(times[0], times[1]), _ratio(times[0], times[2])

        r, against_shielded = anyio.run(main, shielded, backend=backend)
        rows.append(
            [
                backend,
                f"{CONCURRENT / r.baseline:,.0f} runs/s ({fmt_time(r.baseline)})",
                f"{CONCURRENT / r.candidate:,.0f} runs/s ({fmt_time(r.candidate)})",
                fmt_ratio(r, THROUGHPUT_TARGET),
                f"{CONCURRENT / against_shielded.baseline:,.0f} runs/s "
                f"({fmt_time(against_shielded.baseline)})",
                fmt_ratio(against_shielded),
            ]
        )
        _progress(
            f"throughput {backend}: {r.ratio:.2f}x, "
            f"{against_shielded.ratio:.2f}x against the shielded loops"
        )
    return rows


# -- (c) parallel fan-out ----------------------------------------


async def _io(value: int) -> Result[int, str]:
    await anyio.sleep(IO_DELAY)
    return Success(value)


async def _io_undo(_: int) -> Result[None, str]:
    await anyio.sleep(IO_DELAY)
    return Success(None)


def _refuse(_: Any) -> Result[int, str]:
    return Failure("refused")


def _branch() -> AsyncSaga[int, int, str]:
    return step("io", _io, compensate=_io_undo)


async def _timed(fn: AsyncThunk) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


def fan_out(rounds: int) -> list[list[str]]:
    """Table rows for (c), both backends."""
    rows: list[list[str]] = []
    for backend in BACKENDS:
        for k in (2, 4, 8):
            group = parallel(*(_branch() for _ in range(k)))
            single = _branch()
            rollback_group = group.then(step("refuse", _refuse))
            rollback_single = single.then(step("refuse", _refuse))

            async def main(
                group: AsyncSaga[int, Any, str] = group,
                single: AsyncSaga[int, int, str] = single,
                rollback_group: AsyncSaga[int, Any, str] = rollback_group,
                rollback_single: AsyncSaga[int, Any, str] = rollback_single,
            ) -> tuple[Ratio, Ratio]:
                forward: list[list[float]] = [[], []]
                back: list[list[float]] = [[], []]
                for number in range(rounds):
                    order = (0, 1) if number % 2 == 0 else (1, 0)
                    for index in order:
                        saga = (group, single)[index]
                        forward[index].append(await _timed(partial(saga.run, 1)))
                    for index in order:
                        saga = (rollback_group, rollback_single)[index]
                        back[index].append(await _timed(partial(saga.run, 1)))
                return _ratio(*forward), _ratio(*back)

            fwd, back = anyio.run(main, backend=backend)
            rows.append(
                [
                    backend,
                    str(k),
                    _versus(fwd, 1.2),
                    _versus(back, 1.2),
                ]
            )
            _progress(f"fan-out {backend} k={k}: {fwd.ratio:.2f}x / {back.ratio:.2f}x")
    return rows


# -- the report ----------------------------------------


def main(rounds: int = 21, concurrent_rounds: int = 5, fan_out_rounds: int = 9) -> str:
    """Run (a), (b) and (c) and return them as one markdown section."""
    started = time.perf_counter()
    a = overhead(rounds)
    b = throughput(concurrent_rounds)
    c = fan_out(fan_out_rounds)
    parts = [
        "## Async",
        "### Runner overhead against a hand-written async loop (10 steps)",
        " ".join(
            f"""`await saga.run(0)` and `await saga.run_with_report(0)` against a
            hand-written loop making the same awaits (every action; on failure
            every compensation, in reverse), in batches of about 5 ms timed
            alternately inside one event loop. Median ratio over {rounds}
            rounds (25th-75th percentile); time per run beside it. Target for
            `run`: 1.3x or less. "No-op coroutines" return at once, so the
            runner is all there is to measure; "one checkpoint each" awaits
            `anyio.sleep(0)` in every action and compensation, closer to real
            I/O.""".split()
        ),
        table(
            ["backend", "actions", "path", "hand loop", "`run`", "`run_with_report`"], a
        ),
        f"### {CONCURRENT:,} concurrent sagas in one event loop",
        " ".join(
            f"""One 3-step definition (async, sync, async; the even inputs fail at
            the last step and unwind two compensations) started {CONCURRENT:,}
            times at once in one task group, against the same work written by
            hand; wall time until the group finishes, median of
            {concurrent_rounds} alternating rounds. Target: 1.5x or less. The
            runner unwinds each failed run shielded, so that a cancellation
            cannot cut its compensations short: in
            `anyio.CancelScope(shield=True)` and, on asyncio (where
            `Task.cancel()` passes through shields), in a task of its own
            behind `asyncio.shield`; the last columns time the hand-written
            runs unwinding the same way.""".split()
        ),
        table(
            [
                "backend",
                "hand-written",
                "typed-saga",
                "ratio",
                "hand-written, unwinding shielded",
                "ratio to that",
            ],
            b,
        ),
        "### Parallel fan-out latency",
        " ".join(
            f"""`parallel` of k branches whose one step sleeps {IO_DELAY * 1000:.0f}
            ms, against one such branch run alone (forward: target 1.2x or
            less). Rollback: the same group followed by a failing step, each
            branch's compensation sleeping {IO_DELAY * 1000:.0f} ms, against
            one branch doing the same (the whole failed run: forward plus
            unwinding). Median of {fan_out_rounds} alternating rounds.""".split()
        ),
        table(["backend", "k", "forward (group vs one)", "rollback (group vs one)"], c),
        f"_Async benchmarks took {time.perf_counter() - started:.0f} s._",
    ]
    return "\n\n".join(parts)


if __name__ == "__main__":
    print(main())
