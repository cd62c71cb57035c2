"""Scaling: 1,000, 10,000 and 100,000 steps, forward and unwound.

For each size, ``Saga.run`` and the bare ``Result`` loop are timed interleaved
(forward: every step succeeds; unwound: the last step fails, so every other
step is compensated). Time per step is shown as a ratio to the same runner's
per-step time at 1,000 steps: flat means linear, and ``Saga.run``'s growth is
compared with the bare loop's. Peak memory per step is
measured with ``tracemalloc`` in separate runs (tracing slows everything, so it
never overlaps the timing).

Run alone with ``python benchmarks/bench_scaling.py``.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from functools import partial

from bench_sync import (
    Measured,
    bare_loop,
    build_saga,
    fmt_time,
    interleaved,
    markdown_table,
    pairs,
    prose,
)
from typed_saga import Saga

SIZES = (1_000, 10_000, 100_000)
LINEAR_TOLERANCE = 1.5
"""``Saga.run`` counts as linear while the growth of its per-step figures (from
the smallest to the largest size) stays within this factor of the bare loop's
growth. The bare loop is linear by construction, so its own growth is the
machine's (caches, allocator); a quadratic runner would grow ~100x more."""


def _peak_bytes(fn: Callable[[], object]) -> int:
    """Peak memory allocated while ``fn`` runs, above what was live before."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def _fmt_bytes(n: float) -> str:
    return f"{n:.0f} B"


def _path(path: str, fail_last: bool, rounds: int) -> _PathResult:
    """Time both runners at every size in the same interleaved rounds."""
    sagas: list[Saga[int, int, str]] = []
    build: list[float] = []
    cases: list[tuple[str, Callable[[], object]]] = []
    memory: list[tuple[float, float]] = []
    for size in SIZES:
        started = time.perf_counter()
        saga = build_saga(size, fail_last=fail_last)
        build.append((time.perf_counter() - started) / size)
        steps = pairs(size, fail_last=fail_last)
        assert saga.run(0) == bare_loop(steps, 0)
        sagas.append(saga)
        memory.append(
            (
                _peak_bytes(partial(saga.run, 0)) / size,
                _peak_bytes(partial(bare_loop, steps, 0)) / size,
            )
        )
        cases.append((f"bare loop {size}", partial(bare_loop, steps, 0)))
        cases.append((f"Saga.run {size}", partial(saga.run, 0)))
    # Baseline: the bare loop at the smallest size. Every other case's ratio to
    # it, scaled by size, is a per-step ratio measured within the same rounds.
    measured = interleaved(cases, rounds=rounds, target=0.02)
    return _PathResult(path, measured, memory, build)


class _PathResult:
    """The figures of one path (forward or unwound) at every size."""

    def __init__(
        self,
        path: str,
        measured: list[Measured],
        memory: list[tuple[float, float]],
        build: list[float],
    ) -> None:
        self.path = path
        self.bare = measured[0::2]
        self.ours = measured[1::2]
        self.memory = memory
        self.build = build

    def per_step_growth(self, runner: list[Measured]) -> list[float]:
        """Per-step time at each size over per-step time at the smallest size."""
        first = runner[0].ratio / SIZES[0]
        return [m.ratio / size / first for m, size in zip(runner, SIZES, strict=True)]

    def memory_growth(self, column: int) -> list[float]:
        """Peak memory per step at each size over that at the smallest size."""
        first = self.memory[0][column]
        return [pair[column] / first for pair in self.memory]


def main(rounds: int = 9) -> str:
    """Run the scaling benchmark; return its markdown section."""
    t0 = time.perf_counter()
    results = [_path("forward", False, rounds), _path("unwound", True, rounds)]
    rows: list[list[str]] = []
    growth_rows: list[list[str]] = []
    verdicts: list[str] = []
    failures: list[str] = []
    for result in results:
        for index, size in enumerate(SIZES):
            ours, bare = result.ours[index], result.bare[index]
            saga_mem, bare_mem = result.memory[index]
            rows.append(
                [
                    f"{size:,}",
                    result.path,
                    f"**{ours.ratio / bare.ratio:.2f}x**",
                    fmt_time(ours.seconds / size),
                    fmt_time(bare.seconds / size),
                    _fmt_bytes(saga_mem),
                    _fmt_bytes(bare_mem),
                ]
            )
        for what, ours_growth, bare_growth in (
            (
                "time",
                result.per_step_growth(result.ours),
                result.per_step_growth(result.bare),
            ),
            ("peak memory", result.memory_growth(0), result.memory_growth(1)),
        ):
            growth_rows.append(
                [f"`Saga.run` {what}", result.path, *(f"{g:.2f}x" for g in ours_growth)]
            )
            growth_rows.append(
                [f"bare loop {what}", result.path, *(f"{g:.2f}x" for g in bare_growth)]
            )
            summary = (
                f"{what} {result.path} {ours_growth[-1]:.2f}x "
                f"(bare loop {bare_growth[-1]:.2f}x)"
            )
            verdicts.append(summary)
            if max(ours_growth) > LINEAR_TOLERANCE * max(bare_growth):
                failures.append(summary)
    first, last = f"{SIZES[0]:,}", f"{SIZES[-1]:,}"
    statement = prose(
        f"""
        **Growth is linear.** From {first} to {last} steps, `Saga.run`'s per-step
        figures grow by: {"; ".join(verdicts)}. Each stays within
        {LINEAR_TOLERANCE}x of the bare loop's, which is linear by construction
        (its own drift is the machine's caches and allocator); a quadratic
        runner would grow ~100x.
        """
        if not failures
        else f"""
        **Growth is NOT linear**: from {first} to {last} steps these per-step
        figures of `Saga.run` grew more than {LINEAR_TOLERANCE}x faster than the
        bare loop's: {"; ".join(failures)}.
        """
    )
    build_rows = [
        [f"{size:,}", fmt_time(per_step)]
        for size, per_step in zip(SIZES, results[0].build, strict=True)
    ]
    return "\n\n".join(
        [
            "## Scaling: 1k, 10k, 100k steps",
            prose(
                """
                Both runners at all three sizes are timed in the same interleaved
                rounds (one path at a time). Per size: `Saga.run` / bare loop,
                time per step (median), and peak traced memory per step during one
                run (`tracemalloc`, in separate runs so tracing never overlaps the
                timing). Memory per step includes the workload's own output
                `int`s, which both runners must keep for the compensations.
                """
            ),
            markdown_table(
                [
                    "steps",
                    "path",
                    "`Saga.run` / bare",
                    "`Saga.run` per step",
                    "bare loop per step",
                    "`Saga.run` peak mem / step",
                    "bare loop peak mem / step",
                ],
                rows,
            ),
            prose(
                """
                Growth: each per-step figure over the same figure at 1,000 steps
                (time ratios from the same rounds; 1.00x throughout is linear):
                """
            ),
            markdown_table(["figure", "path", *(f"{s:,}" for s in SIZES)], growth_rows),
            statement,
            prose(
                """
                Building the definition (`step(...)` per step, chained with
                `then`, flattened once), per step:
                """
            ),
            markdown_table(["steps", "build time per step"], build_rows),
            f"_(scaling section: {time.perf_counter() - t0:.0f} s)_",
        ]
    )


if __name__ == "__main__":
    print(main())
