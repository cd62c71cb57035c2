"""The limit: the sync runner against the bare loop any ``Result`` runner must run.

The workload is a 10-step saga of trivial actions (each returns
``Success(x + 1)``; each compensation returns ``Success(None)``), on the success
path and on the fail-at-last path (the 10th action returns ``Failure``, so nine
compensations run). The baseline is the least a correct ``Result``-based runner
can do: call every action, check that the container is a ``Success``, keep the
outputs, and on failure call every compensation in reverse and check that it
succeeded (rule 5 needs to know). Anything the runner does beyond that is
overhead, and the ratio says how much.

This module also holds the timing harness the other benchmark modules share:
:func:`interleaved` runs the candidates in alternating order (ABC, CBA, ABC...)
and reports, per candidate, the median of its per-round ratio to the baseline.

Run alone with ``python benchmarks/bench_sync.py``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial, reduce

from returns.result import Failure, Result, Success

from typed_saga import Action, Saga, run, step

STEPS = 10
"""Steps in the reference workload."""

Thunk = Callable[[], object]
Pairs = tuple[
    tuple[Callable[[int], Result[int, str]], Callable[[int], Result[None, str]]], ...
]


# --------------------------------------------------------------------------
# Timing harness (shared by bench_peers and bench_scaling)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One candidate's figures: median time per call and median ratio to the
    baseline, with the interquartile range of that ratio across rounds."""

    name: str
    seconds: float
    ratio: float
    ratio_low: float
    ratio_high: float


def _batch(fn: Thunk, n: int) -> float:
    """Seconds per call of ``fn`` over one batch of ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _warm_up(fn: Thunk, calls: int = 50, budget: float = 0.05) -> None:
    """Call ``fn`` up to ``calls`` times, or for about ``budget`` seconds."""
    deadline = time.perf_counter() + budget
    for _ in range(calls):
        fn()
        if time.perf_counter() > deadline:
            return


def _calibrate(fn: Thunk, target: float) -> int:
    """Calls per batch so that one batch takes about ``target`` seconds."""
    n = 1
    while True:
        elapsed = _batch(fn, n) * n
        if elapsed >= target / 4 or n >= 1 << 22:
            return max(1, int(n * target / max(elapsed, 1e-9)))
        n *= 4


def interleaved(
    cases: Sequence[tuple[str, Thunk]],
    *,
    rounds: int = 25,
    target: float = 0.004,
) -> list[Measured]:
    """Time every case in alternating order; the first case is the baseline.

    Each round times one batch (about ``target`` seconds) of every case, in
    forward order on even rounds and reverse order on odd rounds, so drift in
    machine load hits all cases alike. A case's ratio in a round is its time
    per call divided by the baseline's in the same round; the reported ratio
    is the median over rounds, with the 25th-75th percentile beside it.
    """
    for _, fn in cases:  # warm up every code path (and the caches in it)
        _warm_up(fn)
    sizes = [_calibrate(fn, target) for _, fn in cases]
    per_call: list[list[float]] = [[] for _ in cases]
    order = list(range(len(cases)))
    for number in range(rounds):
        gc.collect()
        for index in order if number % 2 == 0 else reversed(order):
            per_call[index].append(_batch(cases[index][1], sizes[index]))
    base = per_call[0]
    out: list[Measured] = []
    for (name, _), times in zip(cases, per_call, strict=True):
        ratios = sorted(t / b for t, b in zip(times, base, strict=True))
        quartiles = statistics.quantiles(ratios, n=4)
        out.append(
            Measured(
                name,
                statistics.median(times),
                statistics.median(ratios),
                quartiles[0],
                quartiles[2],
            )
        )
    return out


def fmt_time(seconds: float) -> str:
    """A time per call, in the unit that reads best."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def fmt_ratio(m: Measured) -> str:
    """``1.23x (1.20-1.26)``: median ratio and its interquartile range."""
    return f"**{m.ratio:.2f}x** ({m.ratio_low:.2f}-{m.ratio_high:.2f})"


def prose(text: str) -> str:
    """One markdown paragraph from a wrapped, indented triple-quoted string."""
    return " ".join(text.split())


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


# --------------------------------------------------------------------------
# The workload
# --------------------------------------------------------------------------


def inc(x: int) -> Result[int, str]:
    """A trivial action."""
    return Success(x + 1)


def undo(_: int) -> Result[None, str]:
    """A trivial compensation."""
    return Success(None)


def fail(_: int) -> Result[int, str]:
    """The failing last action."""
    return Failure("boom")


def pairs(steps: int, *, fail_last: bool) -> Pairs:
    """(action, compensation) for each step of the workload."""
    last = fail if fail_last else inc
    return tuple((last if i == steps - 1 else inc, undo) for i in range(steps))


def build_saga(steps: int, *, fail_last: bool) -> Saga[int, int, str]:
    """The workload as a ``Saga`` (flattened once, as the first run would)."""
    parts = [
        step(f"step {i}", action, compensate=comp)
        for i, (action, comp) in enumerate(pairs(steps, fail_last=fail_last))
    ]
    saga = reduce(Saga.then, parts)
    _ = saga.nodes  # flatten now: a definition is built once and run many times
    return saga


def bare_loop(steps: Pairs, value: int) -> Result[int, str]:
    """The limit: what any ``Result``-based runner must do, and nothing else."""
    outputs: list[int] = []
    result: Result[int, str] = Success(value)
    for action, _ in steps:
        result = action(value)
        if not isinstance(result, Success):
            for index in reversed(range(len(outputs))):
                if not isinstance(steps[index][1](outputs[index]), Success):
                    break  # a real runner would log it; never happens here
            return result
        value = result.unwrap()
        outputs.append(value)
    return result


def bare_loop_inner(steps: Pairs, value: int) -> Result[int, str]:
    """:func:`bare_loop` with the fold's own tricks (exact type test, private
    ``_inner_value`` instead of ``unwrap()``): the tightest floor there is."""
    outputs: list[int] = []
    result: Result[int, str] = Success(value)
    for action, _ in steps:
        result = action(value)
        if type(result) is not Success:
            for index in reversed(range(len(outputs))):
                if type(steps[index][1](outputs[index])) is not Success:
                    break
            return result
        value = result._inner_value
        outputs.append(value)
    return result


class Counter:
    """A Go-style handler: shared state on ``self``, zero-argument actions."""

    def __init__(self, steps: int, *, fail_last: bool) -> None:
        self.x = 0
        self.steps = steps
        self.fail_last = fail_last

    def inc(self) -> Result[None, str]:
        """A trivial action on shared state."""
        self.x += 1
        return Success(None)

    def undo(self) -> Result[None, str]:
        """A trivial compensation."""
        return Success(None)

    def fail(self) -> Result[None, str]:
        """The failing last action."""
        return Failure("boom")

    def actions(self) -> list[Action[str]]:
        """The handler's actions, built per call as in the Go reference."""
        last = self.fail if self.fail_last else self.inc
        return [
            Action(f"step {i}", last if i == self.steps - 1 else self.inc, self.undo)
            for i in range(self.steps)
        ]


def bare_handler_loop(handler: Counter) -> Result[object, str]:
    """The limit for ``run(handler)``: the same loop over zero-argument actions."""
    done: list[Action[str]] = []
    for action in handler.actions():
        result = action.action()
        if not isinstance(result, Success):
            for finished in reversed(done):
                if finished.compensate is not None and not isinstance(
                    finished.compensate(), Success
                ):
                    break
            return result
        done.append(action)
    return Success(None)


def _check_equivalent() -> None:
    """Every candidate must compute the same thing, or the ratios mean nothing."""
    for fail_last in (False, True):
        steps = pairs(STEPS, fail_last=fail_last)
        expected = bare_loop(steps, 0)
        got = build_saga(STEPS, fail_last=fail_last).run(0)
        assert got == expected == bare_loop_inner(steps, 0), (got, expected)
        handler = Counter(STEPS, fail_last=fail_last)
        assert run(handler) == bare_handler_loop(handler)


def _path(fail_last: bool, rounds: int) -> tuple[list[Measured], list[Measured]]:
    steps = pairs(STEPS, fail_last=fail_last)
    saga = build_saga(STEPS, fail_last=fail_last)
    handler = Counter(STEPS, fail_last=fail_last)
    sagas = interleaved(
        [
            ("bare loop (the limit)", partial(bare_loop, steps, 0)),
            (
                "bare loop, `_inner_value` (tighter floor)",
                partial(bare_loop_inner, steps, 0),
            ),
            ("`Saga.run`", partial(saga.run, 0)),
            ("`Saga.run_with_report`", partial(saga.run_with_report, 0)),
            (
                "`Saga.run`, one no-op listener",
                partial(saga.run, 0, listeners=[_ignore]),
            ),
        ],
        rounds=rounds,
    )
    handlers = interleaved(
        [
            ("bare loop over `handler.actions()`", partial(bare_handler_loop, handler)),
            ("`run(handler)`", partial(run, handler)),
        ],
        rounds=rounds,
    )
    return sagas, handlers


def _ignore(_: object) -> None:
    """A listener that does nothing: the cost of turning events on."""


def main(rounds: int = 25) -> str:
    """Run the limit benchmark; return its markdown section."""
    _check_equivalent()
    ok_saga, ok_handler = _path(False, rounds)
    bad_saga, bad_handler = _path(True, rounds)
    header = [
        "runner",
        "success: ratio",
        "success: per run",
        "fail at last: ratio",
        "fail at last: per run",
    ]

    def rows(ok: list[Measured], bad: list[Measured]) -> list[list[str]]:
        return [
            [
                a.name,
                fmt_ratio(a),
                fmt_time(a.seconds),
                fmt_ratio(b),
                fmt_time(b.seconds),
            ]
            for a, b in zip(ok, bad, strict=True)
        ]

    target = 1.3
    verdicts = []
    for label, m in (("success", ok_saga[2]), ("fail at last", bad_saga[2])):
        verdict = "meets" if m.ratio <= target else "MISSES"
        verdicts.append(
            f"`Saga.run` {label}: {m.ratio:.2f}x — {verdict} the ≤ {target}x target."
        )
    return "\n\n".join(
        [
            "## The limit: 10 trivial steps against the bare loop",
            prose(
                """
                Each action returns `Success(x + 1)`, each compensation
                `Success(None)`; fail-at-last makes the 10th action return `Failure`,
                so nine compensations run. The bare loop calls every action, checks
                the container is a `Success` (`isinstance` + `unwrap()`, the public
                API), keeps the outputs, and on failure calls every compensation in
                reverse and checks it succeeded. Ratios are to that loop (first row);
                the range is the interquartile range over rounds.
                """
            ),
            markdown_table(header, rows(ok_saga, bad_saga)),
            " ".join(verdicts),
            prose(
                """
                Go-style `run(handler)` against the same loop written over
                `handler.actions()` (ten zero-argument actions that bump `self.x`);
                both call `actions()` once per run:
                """
            ),
            markdown_table(header, rows(ok_handler, bad_handler)),
        ]
    )


if __name__ == "__main__":
    print(main())
