"""The workloads ``bench_instructions.py`` counts, one per name.

``python benchmarks/workloads.py NAME N`` runs workload ``NAME`` once to warm
up, then ``N`` more times, and exits. Counting the CPU instructions of ``N``
and of ``2 N`` runs and taking the difference gives the instructions of one
run, without the interpreter's start-up.

Every workload pairs with a baseline that does the same work by hand: the
tightest loop a ``Result``-based runner must run (exact ``type(r) is
Success`` test, ``_inner_value``), a hand-written async loop, an anyio task
group, a generator driven by hand.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from typing import Any

import anyio
from returns.result import Failure, Result, Success

from typed_saga import Action, AsyncBody, Body, parallel, run, saga, step

STEPS = 10
BRANCHES = 4


def inc(x: int) -> Result[int, str]:
    return Success(x + 1)


def undo(_: int) -> Result[None, str]:
    return Success(None)


def refuse(_: int) -> Result[int, str]:
    return Failure("no")


def pairs(*, fail_last: bool) -> list[tuple[Callable[[int], Result[Any, str]], Any]]:
    out: list[tuple[Callable[[int], Result[Any, str]], Any]] = [(inc, undo)] * STEPS
    if fail_last:
        out[-1] = (refuse, undo)
    return out


def chain(*, fail_last: bool) -> Any:
    whole: Any = None
    for index, (action, compensate) in enumerate(pairs(fail_last=fail_last)):
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


def handler_loop(handler: Counter) -> object:
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


async_hop = step("hop", noop)


@saga("async body")
def async_body(x: int) -> AsyncBody[int, str]:
    for _ in range(STEPS):
        x = yield from async_hop(x)
    return x


def workloads() -> dict[str, Callable[[int], object]]:
    """Name -> a function running the workload ``n`` times."""
    ok, bad = chain(fail_last=False), chain(fail_last=True)
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
        "tight loop, fail": repeat(lambda: tight_loop(bad_pairs, 1)),
        "Saga.run": repeat(lambda: ok.run(1)),
        "Saga.run, fail": repeat(lambda: bad.run(1)),
        "run_with_report": repeat(lambda: ok.run_with_report(1)),
        "run_with_report, fail": repeat(lambda: bad.run_with_report(1)),
        "one listener": repeat(lambda: ok.run(1, listeners=[lambda _: None])),
        "handler loop": repeat(lambda: handler_loop(Counter(fail_last=False))),
        "run(handler)": repeat(lambda: run(Counter(fail_last=False))),
        "chain": repeat(lambda: ok.run(1)),
        "body": repeat(lambda: body.run(1)),
        "generator driver": repeat(lambda: driver(1)),
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
