"""Typed usage of ``typed_saga.temporal``, checked by ``mypy --strict`` and
basedpyright (nothing here runs): a distributed saga keeps its definition's
types through ``run``, ``start``, ``handle``, ``result``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import assert_type

from returns.result import Result, Success
from temporalio.client import Client
from temporalio.worker import Worker

from typed_saga import AsyncBody, AsyncSaga, Body, Saga, parallel, saga, step
from typed_saga.temporal import (
    ActivityOptions,
    DistributedRun,
    DistributedSaga,
    SagaWorkflow,
    distributed,
    saga_worker,
)


def allocate(region: str) -> Result[int, KeyError]:
    return Success(1)


def create_network(quota_id: int) -> Result[str, OSError]:
    return Success(f"net-{quota_id}")


async def book_flight(city: str) -> Result[int, ValueError]:
    return Success(1)


async def book_hotel(city: str) -> Result[str, LookupError]:
    return Success(city)


chain = step("allocate", allocate).then(step("network", create_network))
assert_type(chain, Saga[str, str, KeyError | OSError])


@saga("provision")
def provision_body(region: str) -> Body[str, KeyError | OSError]:
    quota = yield from step("allocate", allocate)(region)
    return (yield from step("network", create_network)(quota))


trip = parallel(step("flight", book_flight), step("hotel", book_hotel))
assert_type(trip, AsyncSaga[str, tuple[int, str], ValueError | LookupError])


@saga("trip body")
def trip_body(city: str) -> AsyncBody[int, ValueError | LookupError]:
    flight, _ = yield from trip(city)
    return flight


async def client_side(client: Client) -> None:
    provision = distributed(
        chain,
        name="provision",
        options=ActivityOptions(start_to_close_timeout=timedelta(minutes=1)),
        steps={"network": ActivityOptions(heartbeat_timeout=None)},
        on_compensation_failure="continue",
    )
    assert_type(provision, DistributedSaga[str, str, KeyError | OSError])
    assert_type(
        await provision.run(client, "eu-west", task_queue="q"),
        Result[str, KeyError | OSError],
    )
    started = await provision.start(client, "eu-west", task_queue="q", run_id="r1")
    assert_type(started, DistributedRun[str, KeyError | OSError])
    assert_type(started.run_id, str)
    assert_type(await started.result(), Result[str, KeyError | OSError])
    await started.cancel()
    assert_type(await provision.result(client, "r1"), Result[str, KeyError | OSError])
    assert_type(provision.handle(client, "r1"), DistributedRun[str, KeyError | OSError])
    await provision.cancel(client, "r1")
    body = distributed(provision_body, name="provision body")
    assert_type(body, DistributedSaga[str, str, KeyError | OSError])
    booked = distributed(trip, name="trip")
    assert_type(booked, DistributedSaga[str, tuple[int, str], ValueError | LookupError])
    assert_type(
        distributed(trip_body, name="trip body"),
        DistributedSaga[str, int, ValueError | LookupError],
    )


def worker_side(client: Client) -> Worker:
    provision = distributed(chain, name="provision")
    custom = Worker(
        client,
        task_queue="q",
        workflows=[SagaWorkflow],
        activities=provision.activities(),
    )
    assert_type(custom, Worker)
    return saga_worker(client, task_queue="q", sagas=[provision], identity="w1")
