"""One process of a durable-saga scenario (``python -m tests.dbos_worker``).

DBOS is a process-wide singleton and a crash test needs a process to kill, so
``tests/test_dbos.py`` runs every scenario as one or more of these processes
against a real database (a SQLite file or a Postgres database).

The sagas call a "service" that keeps its own journal, outside the engine:
an append-only file (one fsync'd line per effect) that dedupes by idempotency
key (``current_step().key``), as a real service given a key would. The tests
count effects and undos from that journal.

A process dies by ``SIGKILL`` at the point named by the environment variable
``KILL_AT`` (``do:charge:after``: after the effect of the action of
``charge``; ``undo:reserve:before``; ``between:charge``: after ``charge`` is
recorded, before the next step), or is killed by the test from outside while a
step waits (``HANG_AT``). It prints one line of JSON: what the run returned or
raised.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from returns.result import Failure, Result, Success

from typed_saga import (
    AsyncBody,
    AsyncSaga,
    Body,
    Event,
    Retry,
    Saga,
    StepSucceeded,
    current_step,
    parallel,
    saga,
    step,
)
from typed_saga.dbos import (
    DurableSaga,
    ReplayDiverged,
    RunCancelled,
    dbos_config,
    durable,
    stale_runs,
)


@dataclass(frozen=True)
class Order:
    """What every scenario's saga is run on (pickled by DBOS as the input)."""

    id: str
    items: tuple[str, ...] = ("book",)
    ship: bool = True  # False: the last step fails, the saga unwinds


# -- the service and its journal ---------------------------------------------------


class Journal:
    """An append-only file of ``pid kind key`` lines, each fsync'd."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[tuple[str, str]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            _pid, kind, key = line.split(" ", 2)
            out.append((kind, key))
        return out

    def write(self, kind: str, key: str) -> None:
        with self.path.open("a") as file:
            file.write(f"{os.getpid()} {kind} {key}\n")
            file.flush()
            os.fsync(file.fileno())

    def apply(self, kind: str, key: str) -> None:
        """Do the effect once per key: a repeat is journalled as a dedup."""
        if (kind, key) in self.lines():
            self.write(f"{kind}-dedup", key)
        else:
            self.write(kind, key)


JOURNAL = Journal(Path(os.environ.get("JOURNAL", "journal.txt")))


def kill_point(point: str) -> None:
    if point in os.environ.get("KILL_AT", "").split(","):
        JOURNAL.write("killed", point)
        os.kill(os.getpid(), signal.SIGKILL)
    if point == os.environ.get("HANG_AT"):
        JOURNAL.write("hanging", point)
        time.sleep(120)  # the test kills us from outside meanwhile
    if point == os.environ.get("PAUSE_AT"):
        JOURNAL.write("paused", point)
        deadline = time.monotonic() + 60
        while ("go", "-") not in JOURNAL.lines():  # another process says go
            if time.monotonic() > deadline:
                raise SystemExit("paused for a minute: nobody said go")
            time.sleep(0.02)
        # a cancel from another process is seen by the first action that
        # finishes at least 0.1 s after it (docs/durable.md, Cancellation)
        time.sleep(0.3)


def action(name: str) -> Callable[[Order], Result[Order, str]]:
    def act(order: Order) -> Result[Order, str]:
        ctx = current_step()
        kill_point(f"do:{name}:before")
        JOURNAL.apply("do", ctx.key)
        kill_point(f"do:{name}:after")
        return Success(order)

    return act


def compensation(name: str) -> Callable[[Order], Result[None, str]]:
    def undo(order: Order) -> Result[None, str]:
        ctx = current_step()
        kill_point(f"undo:{name}:before")
        JOURNAL.apply("undo", ctx.key)
        kill_point(f"undo:{name}:after")
        return Success(None)

    return undo


def ship(order: Order) -> Result[str, str]:
    kill_point("do:ship:before")
    if not order.ship:
        JOURNAL.write("refused", current_step().key)
        return Failure("no courier")
    JOURNAL.apply("do", current_step().key)
    return Success(f"shipped {order.id}")


def between(event: Event) -> None:
    """A listener: dies after a step is recorded, before the next starts."""
    if isinstance(event, StepSucceeded):
        kill_point(f"between:{event.step}")


def _step(name: str) -> Saga[Order, Order, str]:
    return step(name, action(name), compensate=compensation(name))


# -- the definitions -----------------------------------------------------------------


def chain() -> Saga[Order, str, str]:
    """reserve -> charge -> ship (ship fails when ``order.ship`` is false)."""
    return (
        _step("reserve")
        .then(_step("charge"))
        .then(step("ship", ship, retry=Retry(attempts=3, interval=0.01)))
        .with_listeners(between)
    )


def chain_v2() -> Saga[Order, str, str]:
    """``chain`` with a step added: another definition under the same name."""
    return (
        _step("reserve")
        .then(_step("insure"))
        .then(_step("charge"))
        .then(step("ship", ship))
    )


_reserve_item = _step("reserve item")
_charge = _step("charge")
_ship = step("ship", ship)


@saga("order body")
def order_body(order: Order) -> Body[str, str]:
    """A body: one step per item (``reserve item``, ``reserve item #2``...)."""
    for item in order.items:
        yield from _reserve_item(Order(f"{order.id}:{item}", order.items, order.ship))
    yield from _charge(order)
    return (yield from _ship(order))


_express = _step("express")
_standard = _step("standard")


@saga("flavoured body")
def flavoured_body(order: Order) -> Body[str, str]:
    """A body that is not deterministic glue: it reads the environment."""
    yield from _charge(order)
    if os.environ.get("FLAVOUR") == "express":
        yield from _express(order)
    else:
        yield from _standard(order)
    return (yield from _ship(order))


def async_action(
    name: str,
) -> Callable[[Order], Coroutine[Any, Any, Result[Order, str]]]:
    async def act(order: Order) -> Result[Order, str]:
        ctx = current_step()
        await asyncio.sleep(0.01)
        kill_point(f"do:{name}:before")
        JOURNAL.apply("do", ctx.key)
        kill_point(f"do:{name}:after")
        return Success(order)

    return act


def async_compensation(
    name: str,
) -> Callable[[Order], Coroutine[Any, Any, Result[None, str]]]:
    async def undo(order: Order) -> Result[None, str]:
        ctx = current_step()
        await asyncio.sleep(0.01)
        kill_point(f"undo:{name}:before")
        JOURNAL.apply("undo", ctx.key)
        kill_point(f"undo:{name}:after")
        return Success(None)

    return undo


def _async_step(name: str) -> AsyncSaga[Order, Order, str]:
    return step(name, async_action(name), compensate=async_compensation(name))


def car(order: Order) -> Result[Order, str]:
    """Fails (a branch of a ``parallel`` group) when the order cannot ship."""
    kill_point("do:car:before")
    if not order.ship:
        JOURNAL.write("refused", current_step().key)
        return Failure("no car")
    JOURNAL.apply("do", current_step().key)
    return Success(order)


def trip() -> AsyncSaga[Order, str, str]:
    """reserve, then flight | hotel -> spa | car in parallel, then ship."""
    group = parallel(
        _async_step("flight"),
        _async_step("hotel").then(_async_step("spa")),
        step("car", car),
        name="book",
    )
    return (
        _step("reserve")
        .then(group)
        .map(lambda booked: booked[0])
        .then(step("ship", ship))
    )


@saga("trip body")
def trip_body(order: Order) -> AsyncBody[str, str]:
    """An async body that fans out over the items with ``parallel([...])``."""
    yield from _step("reserve")(order)
    yield from parallel(
        [_async_step("room")(Order(i, order.items)) for i in order.items]
    )
    return (yield from step("ship", ship)(order))


def flaky(order: Order) -> Result[str, str]:
    """Raises ConnectionError on its first two attempts ("flaky"), or on every
    attempt (order id "broken")."""
    ctx = current_step()
    JOURNAL.write(f"attempt-{ctx.attempt}", ctx.key)
    if ctx.attempt < 3 or order.id == "broken":
        raise ConnectionError(f"service down (attempt {ctx.attempt})")
    return Success("paid")


def retried() -> Saga[Order, str, str]:
    policy = Retry(attempts=3, interval=0.01, on=(ConnectionError,))
    return _step("reserve").then(step("pay", flaky, retry=policy))


async def jitter(order: Order) -> Result[Order, str]:
    await asyncio.sleep(random.uniform(0, 0.01))
    return Success(order)


def jittery() -> AsyncSaga[Order, str, str]:
    """Two branches of two steps each, whose steps take random times."""
    return parallel(
        step("L1", jitter).then(step("L2", jitter)),
        step("R1", jitter).then(step("R2", jitter)),
    ).map(lambda _: "done")


DEFINITIONS: dict[
    str, Callable[[], Saga[Order, str, str] | AsyncSaga[Order, str, str]]
] = {
    "retried": retried,
    "jittery": jittery,
    "chain": chain,
    "chain_v2": chain_v2,
    "body": lambda: order_body.with_listeners(between),
    "flavoured": lambda: flavoured_body.with_listeners(between),
    "trip": trip,
    "trip_body": lambda: trip_body,
}


# -- the process -----------------------------------------------------------------------


def launch(database: str, executor: str | None) -> None:
    from dbos import DBOS

    try:  # recovery polls DBOS's internal queue once a second; tests need less
        from dbos._dbos import _get_or_create_dbos_registry

        queue = _get_or_create_dbos_registry().get_internal_queue()
        queue._polling_interval_sec = 0.05
    except Exception:  # pragma: no cover - a later DBOS: recovery is just slower
        pass
    config = dbos_config(database)
    config["log_level"] = "CRITICAL"
    config["notification_listener_polling_interval_sec"] = 0.05
    if executor is not None:
        config["executor_id"] = executor
    DBOS(config=config)
    DBOS.launch()


def outcome(call: object) -> dict[str, object]:
    try:
        result = call() if callable(call) else call
    except (RunCancelled, ReplayDiverged, ConnectionError, ValueError) as exc:
        return {
            "raised": type(exc).__name__,
            "message": str(exc),
            "notes": getattr(exc, "__notes__", []),
        }
    if isinstance(result, Success):
        return {"success": result.unwrap()}
    assert isinstance(result, Failure), result
    return {"failure": result.failure()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "resume", "cancel", "stale", "orders"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--saga", default="chain")
    parser.add_argument("--name", default=None)
    parser.add_argument("--run-id", default="run-1")
    parser.add_argument("--items", default="book")
    parser.add_argument("--fail", action="store_true")
    parser.add_argument("--executor", default=None)
    parser.add_argument("--wait-for", default=None)
    args = parser.parse_args(argv)

    from dbos import DBOS

    if args.wait_for:  # until the run's process has reached that point
        deadline = time.monotonic() + 60
        while (
            not JOURNAL.path.exists() or args.wait_for not in JOURNAL.path.read_text()
        ):
            if time.monotonic() > deadline:
                raise SystemExit(f"waited a minute for {args.wait_for!r}")
            time.sleep(0.02)
    definition = DEFINITIONS[args.saga]()
    saga_: DurableSaga[Order, str, str] = durable(
        definition, name=args.name or args.saga
    )
    launch(args.database, args.executor)
    order = Order(args.run_id, tuple(args.items.split(",")), ship=not args.fail)
    report: dict[str, object]
    if args.mode == "run":
        if definition.is_async:
            report = outcome(
                lambda: asyncio.run(saga_.run_async(order, run_id=args.run_id))
            )
        else:
            report = outcome(lambda: saga_.run(order, run_id=args.run_id))
    elif args.mode == "resume":  # DBOS.launch() resumed it: wait for it
        report = outcome(lambda: saga_.result(args.run_id))
    elif args.mode == "cancel":
        report = {"was_running": saga_.cancel(args.run_id)}
        JOURNAL.write("go", "-")
    elif args.mode == "stale":
        report = {"stale": [s.advice() for s in stale_runs()]}
    else:  # orders: the order in which ten runs started their steps
        orders = set()
        for number in range(10):
            run_id = f"{args.run_id}-{number}"
            saga_.run(order, run_id=run_id)
            steps = DBOS.list_workflow_steps(run_id)
            orders.add(" ".join(s["function_name"].rsplit("/")[-1] for s in steps))
        report = {"orders": sorted(orders)}
    report["steps"] = [
        s["function_name"] for s in DBOS.list_workflow_steps(args.run_id)
    ]
    status = DBOS.get_workflow_status(args.run_id)
    report["status"] = status.status if status is not None else None
    print(json.dumps(report), flush=True)
    DBOS.destroy(workflow_completion_timeout_sec=0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
