"""Typed usage of ``typed_saga.dbos``, checked by ``mypy --strict`` and
basedpyright (nothing here runs): a durable saga keeps its definition's
types through ``run``, ``start``, ``result`` and their async twins.
"""

from __future__ import annotations

from typing import assert_type

from returns.result import Result, Success

from typed_saga import AsyncSaga, Body, Saga, parallel, saga, step
from typed_saga.dbos import (
    DurableRun,
    DurableSaga,
    StaleRun,
    dbos_config,
    durable,
    stale_runs,
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


def sync_app() -> None:
    provision = durable(chain, name="provision")
    assert_type(provision, DurableSaga[str, str, KeyError | OSError])
    assert_type(provision.run("eu-west"), Result[str, KeyError | OSError])
    started = provision.start("eu-west", run_id="order-7")
    assert_type(started, DurableRun[str, KeyError | OSError])
    assert_type(started.run_id, str)
    assert_type(started.result(), Result[str, KeyError | OSError])
    assert_type(provision.result("order-7"), Result[str, KeyError | OSError])
    assert_type(provision.cancel("order-7"), bool)
    assert_type(provision.stale_runs(), tuple[StaleRun, ...])
    assert_type(stale_runs(), tuple[StaleRun, ...])
    body = durable(provision_body, name="provision body")
    assert_type(body, DurableSaga[str, str, KeyError | OSError])
    config = dbos_config("app.sqlite", application_version="2")
    assert_type(config.get("application_version"), str | None)


async def async_app() -> None:
    booked = durable(trip, name="trip")
    assert_type(booked, DurableSaga[str, tuple[int, str], ValueError | LookupError])
    result = await booked.run_async("Oslo")
    assert_type(result, Result[tuple[int, str], ValueError | LookupError])
    started = await booked.start_async("Oslo")
    assert_type(
        await started.result_async(), Result[tuple[int, str], ValueError | LookupError]
    )
    assert_type(await booked.cancel_async(started.run_id), bool)
