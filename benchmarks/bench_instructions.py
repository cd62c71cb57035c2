"""CPU instructions per run, counted by valgrind: ratios no load can blur.

The machine these figures come from is shared; timings move with whatever
else runs. The number of instructions a run executes does not: valgrind's
callgrind counts them, the same on every try. Each workload of
``workloads.py`` runs ``N`` and ``2 N`` times under callgrind; the difference
divided by ``N`` is one run, start-up excluded. The ratios compare a runner
with the same work done by hand (the tightest loop a ``Result`` runner must
run, a hand-written async loop, an anyio task group, a generator driven by
hand). Where a runner misses its target, the section says where the gap
goes, from more workloads counted the same way (a run of one step, events
built by hand, an unwinding shielded by hand, ...). Instructions are not
time (a cache miss costs more than an add), but for pure-Python code like
this they follow it closely, and they do not lie about a change.

Run alone with ``python benchmarks/bench_instructions.py`` (needs valgrind:
``apt-get install valgrind``); ``make bench`` runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from workloads import STEPS

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected : (\d+)")
LISTENER_TARGET = 3.0


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


Count = Callable[[str, int], float]
"""``per_run`` as ``main`` shares it: each workload counted once."""


def sync_notes(count: Count) -> str:
    """Why the sync rows that miss their target sit where they do, each
    measured against more work done by hand (``workloads.py``)."""
    saga, loop = count("Saga.run", 2000), count("tight loop", 2000)
    saga_1, loop_1 = count("Saga.run, 1 step", 2000), count("tight loop, 1 step", 2000)
    bad, bad_loop = count("Saga.run, fail", 2000), count("tight loop, fail", 2000)
    bad_1 = count("Saga.run, 1 step, fail", 2000)
    bad_loop_1 = count("tight loop, 1 step, fail", 2000)
    heard, events = count("one listener", 500), count("events by hand", 500)
    handler, by_hand = count("run(handler)", 500), count("handler loop", 500)
    kept, kept_by_hand = (
        count("run(handler), actions kept", 500),
        count("handler loop, actions kept", 500),
    )
    kept_1, kept_by_hand_1 = (
        count("run(handler), 1 action kept", 500),
        count("handler loop, 1 action kept", 500),
    )
    body, chain = count("body", 1000), count("chain", 1000)
    plain, calls = (
        count("generator driver", 1000),
        count("generator driver, calls", 1000),
    )
    further = 9  # steps beyond the first, in the ten-step runs
    step, step_loop = (saga - saga_1) / further, (loop - loop_1) / further
    pair, pair_loop = (bad - bad_1) / further, (bad_loop - bad_loop_1) / further
    emitted = 2 + 2 * STEPS  # SagaStarted, StepStarted and StepSucceeded, SagaSucceeded
    made = handler - by_hand - (kept - kept_by_hand)
    action, action_by_hand = (
        (kept - kept_1) / further,
        (kept_by_hand - kept_by_hand_1) / further,
    )
    fixed = kept_1 - action - (kept_by_hand_1 - action_by_hand)
    call = (calls - plain) / STEPS
    more = (body - chain) / STEPS
    return "\n".join(
        [
            "Where the gaps come from, each counted in this same run:",
            "",
            f"- `Saga.run`: {saga_1 - loop_1:,.0f} of its {saga - loop:,.0f} "
            f"instructions more than the loop are there with a single step "
            f"({saga_1:,.0f} vs {loop_1:,.0f}): a fixed cost per run (the run's "
            "trace, the call into the runner, the result checks). Each further "
            f"step costs {step:,.0f} vs {step_loop:,.0f} "
            f"(**{step / step_loop:.2f}x**), so the ratio falls toward that as a "
            "saga grows.",
            f"- `Saga.run`, fail at last: {bad_1 - bad_loop_1:,.0f} of its "
            f"{bad - bad_loop:,.0f} more are there with a single, failing step "
            f"({bad_1:,.0f} vs {bad_loop_1:,.0f}: the same fixed cost, plus "
            "recording the failure and entering the unwinding); each further step "
            f"and its compensation cost {pair:,.0f} vs {pair_loop:,.0f} "
            f"(**{pair / pair_loop:.2f}x**).",
            f"- One no-op listener: the run then emits {emitted} events "
            "(`SagaStarted`, `StepStarted` and `StepSucceeded` per step, "
            f"`SagaSucceeded`), {(heard - saga) / emitted:,.0f} instructions "
            f"each. The tight loop building the same {emitted} events by hand, "
            "with the same clock readings, and handing each to a no-op function "
            f"costs {events:,.0f} (**{events / loop:.2f}x** the loop, "
            f"{(events - loop) / emitted:,.0f} per event): the events alone "
            f"{'exceed' if events / loop > LISTENER_TARGET else 'fit'} the "
            f"{LISTENER_TARGET}x target; the run is **{heard / events:.2f}x** "
            "that loop.",
            f"- `run(handler)`: the handler makes {STEPS} new `Action`s every "
            "run, and the runner makes each one a step of its own the first time "
            f"it runs it: {made:,.0f} of the {handler - by_hand:,.0f} more. With "
            f"the same `Action`s listed every run it costs {kept:,.0f} vs "
            f"{kept_by_hand:,.0f} by hand (**{kept / kept_by_hand:.2f}x**): "
            f"{fixed:,.0f} more per run (checking the handler and its list, the "
            f"run's trace) and {action:,.0f} vs {action_by_hand:,.0f} per action.",
            f"- A body costs {more:,.0f} instructions per step more than the "
            f"chain. {call:,.0f} of them are the body's own `yield from hop(x)` "
            "(the call and the generator it is yielded from): a generator "
            f"yielding the same calls, driven by hand, costs {calls:,.0f}, vs "
            f"{plain:,.0f} yielding plain values. The other {more - call:,.0f} "
            "per step are the runner stepping the generator and running each "
            f"call's steps: the body is **{body / calls:.2f}x** that hand-driven "
            "generator.",
        ]
    )


def async_notes(count: Count) -> str:
    """Why the async fail-at-last rows that miss their target sit where they
    do: the shielded unwinding, done by hand."""
    lines = [
        "On a failure the runner unwinds shielded, so that a cancellation "
        "cannot cut the compensations short: inside "
        "`anyio.CancelScope(shield=True)` and, on asyncio (where "
        "`Task.cancel()` passes through shields), in a task of its own behind "
        "`asyncio.shield`. The async loop with its compensations run the same way "
        "by hand shows what that costs:",
        "",
    ]
    for backend, kind in (
        ("asyncio", "no-op"),
        ("asyncio", "checkpoint"),
        ("trio", "no-op"),
    ):
        mine = count(f"AsyncSaga.run, {kind}, fail, {backend}", 300)
        theirs = count(f"async loop, {kind}, fail, {backend}", 300)
        shielded = count(f"shielded loop, {kind}, fail, {backend}", 300)
        how = (
            "the cancel scope costs" if backend == "trio" else "the scope and task cost"
        )
        lines.append(
            f"- {backend}, {kind} steps, fail at last: {how} "
            f"{shielded - theirs:,.0f} ({shielded:,.0f} vs {theirs:,.0f}), "
            f"{(shielded - theirs) / (mine - theirs):.0%} of the runner's "
            f"{mine - theirs:,.0f} more; against that shielded loop the runner is "
            f"**{mine / shielded:.2f}x**."
        )
    return "\n".join(lines)


def main() -> str:
    """Count every pair; return the markdown section."""
    if shutil.which("valgrind") is None:
        return (
            "## CPU instructions per run\n\nvalgrind is not installed here "
            "(`apt-get install valgrind`): this section was skipped."
        )
    counted: dict[tuple[str, int], float] = {}

    def count(name: str, n: int) -> float:
        """``per_run``, once per workload and ``n``: rows and notes share it."""
        if (name, n) not in counted:
            counted[name, n] = per_run(name, n)
        return counted[name, n]

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
        ("one no-op listener", "one listener", "tight loop", LISTENER_TARGET, 500),
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
        mine, theirs = count(candidate, n), count(baseline, n)
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
            mine = count(f"AsyncSaga.run, {kind}{tail}, {backend}", 300)
            theirs = count(f"async loop, {kind}{tail}, {backend}", 300)
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
        mine = count(f"parallel, {backend}", 300)
        theirs = count(f"task group, {backend}", 300)
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
        mine = count(f"async body, {backend}", 300)
        theirs = count(f"AsyncSaga.run, no-op, {backend}", 300)
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
            sync_notes(count),
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
            async_notes(count),
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
