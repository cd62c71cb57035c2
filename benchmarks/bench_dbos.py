"""Durable runs (``typed_saga.dbos``) against the same steps written by hand as
a DBOS workflow, on the same database: SQLite (DBOS's default rollback
journal, and WAL) and Postgres.

Usage (from the repository root, with the ``dbos`` extra installed; the
Postgres row needs Debian's ``postgresql`` binaries, as the tests do)::

    python benchmarks/bench_dbos.py            # prints, and updates BENCHMARKS.md
    python benchmarks/bench_dbos.py --quick --output -

Each database runs in a process of its own (DBOS is a process-wide
singleton). There, both workflows are registered, DBOS is launched once, and
the two candidates run one after the other, round after round, in
alternating order; a round's ratio is the durable run's time over the
hand-written one's, and the table gives the median ratio with its
interquartile range, and the median time per step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sections
from sections import engine_row, replace_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUTPUT = ROOT / "BENCHMARKS.md"
SECTION = sections.DBOS
STEPS = 20


def _worker(database: str, wal: bool, rounds: int) -> dict[str, list[float]]:
    """In a fresh process: time both candidates on ``database``."""
    from dbos import DBOS, SetWorkflowID
    from returns.result import Failure, Result, Success

    from typed_saga import Saga, step
    from typed_saga.dbos import dbos_config, durable

    def action(value: int) -> Result[int, str]:
        return Success(value + 1)

    def undo(value: int) -> Result[None, str]:
        return Success(None)

    def refuse(value: int) -> Result[int, str]:
        return Failure("no")

    def chain(fail: bool) -> Saga[int, int, str]:
        saga: Saga[int, int, str] = step("s0", action, compensate=undo)
        for i in range(1, STEPS):
            last = fail and i == STEPS - 1
            saga = saga.then(step(f"s{i}", refuse if last else action, compensate=undo))
        return saga

    ok = durable(chain(False), name="bench ok")
    failing = durable(chain(True), name="bench fail")

    def by_hand(value: int) -> Result[int, str]:
        """The same steps as a plain DBOS workflow: a step per action, and
        on a Failure a step per compensation, in reverse."""
        outputs: list[int] = []
        for i in range(STEPS):
            result = DBOS.run_step({"name": f"s{i}"}, action, value)
            if not isinstance(result, Success):
                break
            value = result.unwrap()
            outputs.append(value)
        return Success(value)

    def by_hand_failing(value: int) -> Result[int, str]:
        outputs: list[int] = []
        for i in range(STEPS):
            function = refuse if i == STEPS - 1 else action
            result = DBOS.run_step({"name": f"s{i}"}, function, value)
            if not isinstance(result, Success):
                for index in reversed(range(len(outputs))):
                    DBOS.run_step(
                        {"name": f"s{index}/compensate"}, undo, outputs[index]
                    )
                return result
            value = result.unwrap()
            outputs.append(value)
        return Success(value)

    hand = DBOS.workflow(name="bench by hand")(by_hand)
    hand_failing = DBOS.workflow(name="bench by hand failing")(by_hand_failing)
    config = dbos_config(database, wal=wal) if wal else dbos_config(database, wal=False)
    config["log_level"] = "CRITICAL"
    config["notification_listener_polling_interval_sec"] = 0.05
    DBOS(config=config)
    DBOS.launch()
    counter = iter(range(10**9))

    def timed_hand(function: object) -> float:
        with SetWorkflowID(f"h{next(counter)}"):
            started = time.perf_counter()
            function(1)  # type: ignore[operator]
            return time.perf_counter() - started

    def timed_durable(saga: object) -> float:
        started = time.perf_counter()
        saga.run(1, run_id=f"d{next(counter)}")  # type: ignore[attr-defined]
        return time.perf_counter() - started

    assert ok.run(1, run_id="check-ok") == Success(STEPS + 1)
    with SetWorkflowID("check-hand"):
        assert hand(1) == Success(STEPS + 1)
    times: dict[str, list[float]] = {k: [] for k in ("h", "d", "hf", "df")}
    for round_ in range(rounds + 2):  # two warm-up rounds, not kept
        pairs: list[tuple[str, Callable[[], float]]] = [
            ("h", lambda: timed_hand(hand)),
            ("d", lambda: timed_durable(ok)),
            ("hf", lambda: timed_hand(hand_failing)),
            ("df", lambda: timed_durable(failing)),
        ]
        if round_ % 2:
            pairs.reverse()
        for key, measure in pairs:
            elapsed = measure()
            if round_ >= 2:
                times[key].append(elapsed)
    DBOS.destroy()
    return times


def _measure(database: str, wal: bool, rounds: int) -> dict[str, list[float]]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", database, "--rounds", str(rounds)]
        + ["--wal"] * wal,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(proc.stdout + proc.stderr)
    result: dict[str, list[float]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--wal", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 25)
    if args.worker is not None:
        print(json.dumps(_worker(args.worker, args.wal, rounds)))
        return 0

    sys.path.insert(0, str(ROOT))
    from tests.postgres import start_postgres

    started = time.perf_counter()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        for label, wal in (
            ("SQLite, rollback journal (DBOS's default)", False),
            ("SQLite, WAL (`dbos_config`'s default)", True),
        ):
            print(f"[bench] {label} ...", file=sys.stderr, flush=True)
            path = str(Path(scratch) / f"bench-{int(wal)}.sqlite")
            rows.append(engine_row(label, _measure(path, wal, rounds), STEPS, digits=2))
        print("[bench] Postgres ...", file=sys.stderr, flush=True)
        server = start_postgres()
        try:
            rows.append(
                engine_row(
                    "Postgres 15, local",
                    _measure(server.new_database(), False, rounds),
                    STEPS,
                    digits=2,
                )
            )
        finally:
            server.stop()
    section = "\n\n".join(
        [
            SECTION,
            (
                f"_Generated by `python benchmarks/bench_dbos.py` (`make bench`), "
                f"{rounds} rounds per database, in "
                f"{time.perf_counter() - started:.0f} s._"
            ),
            (
                f"One run of {STEPS} trivial steps (each a `Success(x + 1)` with a "
                "compensation), made durable with `typed_saga.dbos.durable`, against "
                "the same steps written by hand as a DBOS workflow (one "
                "`DBOS.run_step` per action and, on a failure, per compensation), on "
                "the same database in the same process. *Fail at last*: the last "
                f"action returns a `Failure`, so {STEPS - 1} compensations run. "
                "Ratios are durable over by-hand, per round (median, interquartile "
                "range); times are per action (the run's median time over its "
                f"{STEPS} actions). The durable run also checks, "
                "inside each action's step, for a cancel request (one read)."
            ),
            "| database | success: by hand | success: durable | success: ratio "
            "| fail at last: by hand | fail at last: durable | fail at last: ratio |\n"
            "|---|---|---|---|---|---|---|",
        ]
    )
    section += "\n" + "\n".join(rows) + "\n"
    print(section)
    if args.output != "-":
        replace_section(Path(args.output), SECTION, section)
        print(f"[bench] wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
