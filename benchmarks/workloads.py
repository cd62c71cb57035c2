"""The workloads ``bench_instructions.py`` counts, one per name.

``python benchmarks/workloads.py NAME N`` runs workload ``NAME`` once to warm
up, then ``N`` more times, and exits. Counting the CPU instructions of ``N``
and of ``2 N`` runs and taking the difference gives the instructions of one
run, without the interpreter's start-up.

Every workload pairs with a baseline that does the same work by hand: the
tightest loop a ``Result``-based runner must run (exact ``type(r) is
Success`` test, ``_inner_value``), a hand-written async loop, an anyio task
group, a generator driven by hand. Others do by hand a part of what a
runner does (one step, the events a listener is given, a shielded unwinding),
to tell where a gap goes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from time import perf_counter
from typing import Any

import anyio
from returns.result import Failure, Result, Success

from typed_saga import (
    Action,
    AsyncBody,
    Body,
    SagaStarted,
    SagaSucceeded,
    StepStarted,
    StepSucceeded,
    parallel,
    run,
    saga,
    step,
)

STEPS = 10
BRANCHES = 4


def inc(x: int) -> Result[int, str]:
    return Success(x + 1)


def undo(_: int) -> Result[None, str]:
    return Success(None)


def refuse(_: int) -> Result[int, str]:
    return Failure("no")


def pairs(
    *, fail_last: bool, steps: int = STEPS
) -> list[tuple[Callable[[int], Result[Any, str]], Any]]:
    out: list[tuple[Callable[[int], Result[Any, str]], Any]] = [(inc, undo)] * steps
    if fail_last:
        out[-1] = (refuse, undo)
    return out


def chain(*, fail_last: bool, steps: int = STEPS) -> Any:
    whole: Any = None
    for index, (action, compensate) in enumerate(
        pairs(fail_last=fail_last, steps=steps)
    ):
        one = step(f"s{index}", action, compensate)
        whole = one if whole is None else whole.then(one)
    return whole


def tight_loop(steps: list[tuple[Any, Any]], value: int) -> object:
    outputs: list[object] = []
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


def ignore(_: object) -> None:
    """A no-op listener."""


def events_by_hand(steps: list[tuple[Any, Any]], value: int) -> object:
    """The tight loop, emitting by hand the events a listened-to run emits
    (``SagaStarted``, ``StepStarted`` and ``StepSucceeded`` per step,
    ``SagaSucceeded``) to a no-op listener, with the same clock readings."""
    run_id = os.urandom(16).hex()
    started = perf_counter()
    ignore(SagaStarted(run_id=run_id, saga=None))
    outputs: list[object] = []
    for index, (action, _) in enumerate(steps):
        name = f"s{index}"
        step_started = perf_counter()
        ignore(StepStarted(run_id=run_id, saga=None, step=name))
        result = action(value)
        if type(result) is not Success:
            return result
        value = result._inner_value
        outputs.append(value)
        duration = perf_counter() - step_started
        ignore(StepSucceeded(run_id=run_id, saga=None, step=name, duration=duration))
    ignore(SagaSucceeded(run_id=run_id, saga=None, duration=perf_counter() - started))
    return result


class Counter:
    """A Go-style handler: its actions are made anew each run."""

    def __init__(self, *, fail_last: bool) -> None:
        self.x = 0
        self.fail_last = fail_last

    def inc(self) -> Result[None, str]:
        self.x += 1
        return Success(None)

    def undo(self) -> Result[None, str]:
        return Success(None)

    def refuse(self) -> Result[None, str]:
        return Failure("no")

    def actions(self) -> list[Action[str]]:
        last = self.refuse if self.fail_last else self.inc
        return [
            Action(f"a{i}", last if i == STEPS - 1 else self.inc, self.undo)
            for i in range(STEPS)
        ]


class KeptCounter:
    """A handler whose actions are made once and listed again every run."""

    def __init__(self, actions: int = STEPS) -> None:
        self.listed = Counter(fail_last=False).actions()[:actions]

    def actions(self) -> list[Action[str]]:
        return self.listed


def handler_loop(handler: Counter | KeptCounter) -> object:
    done: list[Action[str]] = []
    for action in handler.actions():
        result = action.action()
        if type(result) is not Success:
            for finished in reversed(done):
                if finished.compensate is not None:
                    finished.compensate()
            return result
        done.append(action)
    return Success(None)


# -- async ---------------------------------------------------------------------------


def async_pairs(*, checkpoint: bool, fail_last: bool) -> list[tuple[Any, Any]]:
    async def act(x: int) -> Result[int, str]:
        if checkpoint:
            await anyio.sleep(0)
        return Success(x + 1)

    async def comp(_: int) -> Result[None, str]:
        if checkpoint:
            await anyio.sleep(0)
        return Success(None)

    async def no(_: int) -> Result[int, str]:
        if checkpoint:
            await anyio.sleep(0)
        return Failure("no")

    out: list[tuple[Any, Any]] = [(act, comp)] * STEPS
    if fail_last:
        out[-1] = (no, comp)
    return out


async def async_loop(steps: list[tuple[Any, Any]], value: int) -> object:
    outputs: list[object] = []
    for action, _ in steps:
        result = await action(value)
        if type(result) is not Success:
            for index in reversed(range(len(outputs))):
                await steps[index][1](outputs[index])
            return result
        value = result._inner_value
        outputs.append(value)
    return result


async def shielded_loop(
    steps: list[tuple[Any, Any]], value: int, *, own_task: bool
) -> object:
    """``async_loop``, unwinding as the runner does: in a shielded cancel
    scope and, on asyncio (``own_task``), in a task of its own behind
    ``asyncio.shield``, so that a cancellation cannot cut it short."""
    outputs: list[object] = []
    for action, _ in steps:
        result = await action(value)
        if type(result) is not Success:
            unwinding = unwind_by_hand(steps, outputs)
            with anyio.CancelScope(shield=True):
                if own_task:
                    await asyncio.shield(asyncio.ensure_future(unwinding))
                else:
                    await unwinding
            return result
        value = result._inner_value
        outputs.append(value)
    return result


async def unwind_by_hand(steps: list[tuple[Any, Any]], outputs: list[object]) -> None:
    for index in reversed(range(len(outputs))):
        await steps[index][1](outputs[index])


async def noop(x: int) -> Result[int, str]:
    return Success(x + 1)


async def task_group(value: int) -> object:
    outputs: list[object] = [None] * BRANCHES

    async def one(index: int) -> None:
        outputs[index] = (await noop(value))._inner_value

    async with anyio.create_task_group() as tasks:
        for index in range(BRANCHES):
            tasks.start_soon(one, index)
    return Success(tuple(outputs))


# -- bodies --------------------------------------------------------------------------


hop = step("hop", inc, undo)


@saga("body")
def body(x: int) -> Body[int, str]:
    for _ in range(STEPS):
        x = yield from hop(x)
    return x


def by_hand(x: int) -> Generator[int, int, int]:
    for _ in range(STEPS):
        x = yield x
    return x


def driver(value: int) -> object:
    """A generator driven by hand: the body protocol without the runner."""
    generator = by_hand(value)
    outputs: list[object] = []
    sent: int | None = None
    try:
        while True:
            asked = generator.send(sent)  # type: ignore[arg-type]
            result = inc(asked)
            if type(result) is not Success:
                return result
            sent = result._inner_value
            outputs.append(sent)
    except StopIteration as stop:
        return Success(stop.value)


def by_hand_calls(x: int) -> Body[int, str]:
    """The body's generator, undecorated: it yields the same calls."""
    for _ in range(STEPS):
        x = yield from hop(x)
    return x


def calls_driver(value: int) -> object:
    """``driver``, stepping a generator that yields step calls (``hop(x)``)."""
    generator = by_hand_calls(value)
    outputs: list[object] = []
    sent: int | None = None
    try:
        while True:
            asked = generator.send(sent)
            result = inc(asked.value)  # type: ignore[arg-type]
            if type(result) is not Success:
                return result
            sent = result._inner_value
            outputs.append(sent)
    except StopIteration as stop:
        return Success(stop.value)


async_hop = step("hop", noop)


@saga("async body")
def async_body(x: int) -> AsyncBody[int, str]:
    for _ in range(STEPS):
        x = yield from async_hop(x)
    return x


def workloads() -> dict[str, Callable[[int], object]]:
    """Name -> a function running the workload ``n`` times."""
    ok, bad = chain(fail_last=False), chain(fail_last=True)
    ok_1, bad_1 = chain(fail_last=False, steps=1), chain(fail_last=True, steps=1)
    kept, kept_1 = KeptCounter(), KeptCounter(1)
    ok_pairs, bad_pairs = pairs(fail_last=False), pairs(fail_last=True)
    group = parallel(*(step(f"b{i}", noop) for i in range(BRANCHES)))

    def repeat(fn: Callable[[], object]) -> Callable[[int], object]:
        def go(n: int) -> None:
            for _ in range(n):
                fn()

        return go

    def repeat_async(
        fn: Callable[[], Coroutine[Any, Any, object]], backend: str
    ) -> Callable[[int], object]:
        def go(n: int) -> None:
            async def main() -> None:
                for _ in range(n):
                    await fn()

            anyio.run(main, backend=backend)

        return go

    found: dict[str, Callable[[int], object]] = {
        "tight loop": repeat(lambda: tight_loop(ok_pairs, 1)),
        "tight loop, 1 step": repeat(lambda: tight_loop(ok_pairs[:1], 1)),
        "tight loop, 1 step, fail": repeat(lambda: tight_loop(bad_pairs[-1:], 1)),
        "Saga.run, 1 step": repeat(lambda: ok_1.run(1)),
        "Saga.run, 1 step, fail": repeat(lambda: bad_1.run(1)),
        "events by hand": repeat(lambda: events_by_hand(ok_pairs, 1)),
        "tight loop, fail": repeat(lambda: tight_loop(bad_pairs, 1)),
        "Saga.run": repeat(lambda: ok.run(1)),
        "Saga.run, fail": repeat(lambda: bad.run(1)),
        "run_with_report": repeat(lambda: ok.run_with_report(1)),
        "run_with_report, fail": repeat(lambda: bad.run_with_report(1)),
        "one listener": repeat(lambda: ok.run(1, listeners=[lambda _: None])),
        "handler loop": repeat(lambda: handler_loop(Counter(fail_last=False))),
        "run(handler)": repeat(lambda: run(Counter(fail_last=False))),
        "handler loop, actions kept": repeat(lambda: handler_loop(kept)),
        "run(handler), actions kept": repeat(lambda: run(kept)),
        "handler loop, 1 action kept": repeat(lambda: handler_loop(kept_1)),
        "run(handler), 1 action kept": repeat(lambda: run(kept_1)),
        "chain": repeat(lambda: ok.run(1)),
        "body": repeat(lambda: body.run(1)),
        "generator driver": repeat(lambda: driver(1)),
        "generator driver, calls": repeat(lambda: calls_driver(1)),
        "step()": repeat(lambda: step("s", inc, undo)),
        "nothing": repeat(lambda: None),
    }
    for backend in ("asyncio", "trio"):
        for checkpoint in (False, True):
            kind = "checkpoint" if checkpoint else "no-op"
            for fail in (False, True):
                steps = async_pairs(checkpoint=checkpoint, fail_last=fail)
                saga_ = chain_async(steps)
                tail = ", fail" if fail else ""
                found[f"async loop, {kind}{tail}, {backend}"] = repeat_async(
                    partial(async_loop, steps, 1), backend
                )
                found[f"AsyncSaga.run, {kind}{tail}, {backend}"] = repeat_async(
                    partial(saga_.run, 1), backend
                )
            steps = async_pairs(checkpoint=checkpoint, fail_last=True)
            found[f"shielded loop, {kind}, fail, {backend}"] = repeat_async(
                partial(shielded_loop, steps, 1, own_task=backend == "asyncio"),
                backend,
            )
        found[f"task group, {backend}"] = repeat_async(lambda: task_group(1), backend)
        found[f"parallel, {backend}"] = repeat_async(lambda: group.run(1), backend)
        found[f"async body, {backend}"] = repeat_async(
            lambda: async_body.run(1), backend
        )
    return found


def chain_async(steps: list[tuple[Any, Any]]) -> Any:
    whole: Any = None
    for index, (action, compensate) in enumerate(steps):
        one = step(f"s{index}", action, compensate)
        whole = one if whole is None else whole.then(one)
    return whole


if __name__ == "__main__":
    name, count = sys.argv[1], int(sys.argv[2])
    chosen = workloads()[name]
    chosen(1)  # warm up: caches, first flattening, imports
    chosen(count)
