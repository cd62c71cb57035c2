"""CPU instructions per run, counted by valgrind: ratios no load can blur.

The machine these figures come from is shared; timings move with whatever
else runs. The number of instructions a run executes does not: valgrind's
callgrind counts them, the same on every try. Each workload of
``workloads.py`` runs ``N`` and ``2 N`` times under callgrind; the difference
divided by ``N`` is one run, start-up excluded. The ratios compare a runner
with the same work done by hand (the tightest loop a ``Result`` runner must
run, a hand-written async loop, an anyio task group, a generator driven by
hand). Instructions are not time (a cache miss costs more than an add), but
for pure-Python code like this they follow it closely, and they do not lie
about a change.

Run alone with ``python benchmarks/bench_instructions.py`` (needs valgrind:
``apt-get install valgrind``); ``make bench`` runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Instructions ``argv`` executes, start to finish, under callgrind."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    found = _COLLECTED.search(done.stderr)
    if found is None:  # pragma: no cover - valgrind's output changed
        raise RuntimeError(f"no instruction count in: {done.stderr[-500:]}")
    return int(found.group(1))


def per_run(name: str, n: int) -> float:
    """Instructions of one run of workload ``name``."""
    script = [sys.executable, str(HERE / "workloads.py"), name]
    once = instructions([*script, str(n)])
    twice = instructions([*script, str(2 * n)])
    return (twice - once) / n


def import_cost(module: str) -> int:
    """Instructions ``import module`` adds to an empty interpreter, from
    bytecode already compiled, as after ``pip install`` (which compiles it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True)
    empty = instructions([sys.executable, "-c", "pass"], env)
    return instructions([sys.executable, "-c", f"import {module}"], env) - empty


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return "meets" if ratio <= target else "misses"


def main() -> str:
    """Count every pair; return the markdown section."""
    if shutil.which("valgrind") is None:
        return (
            "## CPU instructions per run\n\nvalgrind is not installed here "
            "(`apt-get install valgrind`): this section was skipped."
        )
    sync_rows: list[list[str]] = []
    sync_pairs = [
        ("`Saga.run`, success", "Saga.run", "tight loop", 1.05, 2000),
        ("`Saga.run`, fail at last", "Saga.run, fail", "tight loop, fail", 1.10, 2000),
        ("`run_with_report`, success", "run_with_report", "tight loop", 1.5, 2000),
        (
            "`run_with_report`, fail at last",
            "run_with_report, fail",
            "tight loop, fail",
            1.5,
            2000,
        ),
        ("one no-op listener", "one listener", "tight loop", 3.0, 500),
        ("`run(handler)`", "run(handler)", "handler loop", 1.10, 500),
        ("a body, per step, vs the chain", "body", "chain", 1.3, 1000),
        (
            "a body vs a generator driven by hand",
            "body",
            "generator driver",
            None,
            1000,
        ),
    ]
    for label, candidate, baseline, target, n in sync_pairs:
        mine, theirs = per_run(candidate, n), per_run(baseline, n)
        ratio = mine / theirs
        target_text = "" if target is None else f"≤ {target}x"
        sync_rows.append(
            [
                label,
                f"{mine:,.0f}",
                f"{theirs:,.0f}",
                f"**{ratio:.2f}x**",
                target_text,
                _verdict(ratio, target),
            ]
        )
    async_rows: list[list[str]] = []
    for backend in ("asyncio", "trio"):
        for kind, fail, target in (
            ("no-op", False, None),
            ("no-op", True, 2.0),
            ("checkpoint", False, None),
            ("checkpoint", True, 1.3),
        ):
            tail = ", fail" if fail else ""
            mine = per_run(f"AsyncSaga.run, {kind}{tail}, {backend}", 300)
            theirs = per_run(f"async loop, {kind}{tail}, {backend}", 300)
            ratio = mine / theirs
            what = f"{kind} steps, {'fail at last' if fail else 'success'}"
            async_rows.append(
                [
                    backend,
                    what,
                    f"{mine:,.0f}",
                    f"{theirs:,.0f}",
                    f"**{ratio:.2f}x**",
                    "" if target is None else f"≤ {target}x",
                    _verdict(ratio, target),
                ]
            )
        mine = per_run(f"parallel, {backend}", 300)
        theirs = per_run(f"task group, {backend}", 300)
        ratio = mine / theirs
        async_rows.append(
            [
                backend,
                "`parallel` of 4 no-op branches vs a task group",
                f"{mine:,.0f}",
                f"{theirs:,.0f}",
                f"**{ratio:.2f}x**",
                "≤ 2.0x",
                _verdict(ratio, 2.0),
            ]
        )
        mine = per_run(f"async body, {backend}", 300)
        theirs = per_run(f"AsyncSaga.run, no-op, {backend}", 300)
        ratio = mine / theirs
        async_rows.append(
            [
                backend,
                "an async body vs the same async chain",
                f"{mine:,.0f}",
                f"{theirs:,.0f}",
                f"**{ratio:.2f}x**",
                "",
                "",
            ]
        )
    ours, returns_alone = import_cost("typed_saga"), import_cost("returns.result")
    with_logging = import_cost("returns.result, logging")
    step_cost = per_run("step()", 2000) - per_run("nothing", 2000)
    return "\n\n".join(
        [
            "## CPU instructions per run (valgrind)",
            "Counted, not timed: each figure is the instructions one run "
            "executes, from callgrind (N and 2N runs, the difference over N), "
            "so load on the machine cannot move it. Ten trivial steps "
            "(`Success(x + 1)`), as in the timed tables.",
            table(
                ["runner", "instructions", "by hand", "ratio", "target", ""],
                sync_rows,
            ),
            table(
                [
                    "backend",
                    "workload",
                    "instructions",
                    "by hand",
                    "ratio",
                    "target",
                    "",
                ],
                async_rows,
            ),
            f"`import typed_saga` adds {ours:,} instructions to an empty "
            f"interpreter, `import returns.result` alone {returns_alone:,}: "
            f"**{ours / returns_alone:.2f}x** (target ≤ 1.5x); of the "
            f"{ours - returns_alone:,} more, {with_logging - returns_alone:,} "
            "are the standard library's `logging`, which the runner logs to. "
            "Counted from compiled bytecode, as after `pip install`. `step(name, "
            f"action, compensate)` costs {step_cost:,.0f} instructions.",
        ]
    )


if __name__ == "__main__":
    print(main())
