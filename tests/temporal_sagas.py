"""The sagas of the Temporal tests, and the "services" their steps call.

Every action and compensation writes what it did to a journal file
(``TYPED_SAGA_JOURNAL``) kept outside the engine, shared by the test process
and its worker processes: the tests count effects there. A step told to be
slow waits for a gate file (``<journal>.<gate>``) that the test creates.

The definitions are plain sagas; :func:`registered` makes them distributed,
so that a worker process registers only the ones it is told to (a worker
deployed with a newer definition does not know the older one).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from returns.result import Failure, Result, Success

from typed_saga import AsyncBody, Body, Retry, current_step, parallel, saga, step
from typed_saga.temporal import ActivityOptions, DistributedSaga, distributed

GATE_TIMEOUT = 60.0


# -- the journal and the gates ---------------------------------------------------------


def journal_path() -> Path:
    return Path(os.environ["TYPED_SAGA_JOURNAL"])


def note(kind: str, key: str) -> None:
    line = f"{os.getpid()} {kind} {key}\n".encode()
    fd = os.open(journal_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def entries() -> list[tuple[str, str]]:
    """``(kind, key)`` for every line of the journal, in order."""
    path = journal_path()
    if not path.exists():
        return []
    return [
        (kind, key)
        for _pid, kind, key in (
            line.split(" ", 2) for line in path.read_text().splitlines()
        )
    ]


def open_gate(name: str) -> None:
    Path(f"{journal_path()}.{name}").touch()


def wait_gate(name: str) -> None:
    gate = Path(f"{journal_path()}.{name}")
    deadline = time.monotonic() + GATE_TIMEOUT
    while not gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {name!r} was never opened")
        time.sleep(0.02)


async def wait_gate_async(name: str) -> None:
    gate = Path(f"{journal_path()}.{name}")
    deadline = time.monotonic() + GATE_TIMEOUT
    while not gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {name!r} was never opened")
        await asyncio.sleep(0.02)


# -- provisioning: a chain ----------------------------------------------------------


@dataclass(frozen=True)
class Request:
    zone: str
    plan: str = "ok"  # what should go wrong, if anything


@dataclass(frozen=True)
class Quota:
    zone: str
    plan: str
    quota_id: str


@dataclass(frozen=True)
class Network:
    zone: str
    plan: str
    network_id: str
    quota_id: str


@dataclass(frozen=True)
class Server:
    server_id: str
    network_id: str


@dataclass(frozen=True)
class QuotaError:
    reason: str


@dataclass(frozen=True)
class NetworkError:  # the same shape as QuotaError: decoded by the step's own type
    reason: str


@dataclass(frozen=True)
class ServerError:
    reason: str
    retry_in: int = 0


def allocate(request: Request) -> Result[Quota, QuotaError]:
    key = current_step().key
    note("do", key)
    if request.plan == "no-quota":
        return Failure(QuotaError(f"zone {request.zone} is out of quota"))
    return Success(Quota(request.zone, request.plan, f"q-{request.zone}"))


def release(quota: Quota) -> Result[None, str]:
    note("undo", current_step().key)
    return Success(None)


def create_network(quota: Quota) -> Result[Network, NetworkError]:
    note("do", current_step().key)
    if quota.plan == "no-network":
        return Failure(NetworkError("no address space left"))
    return Success(Network(quota.zone, quota.plan, f"n-{quota.zone}", quota.quota_id))


def delete_network(network: Network) -> Result[None, str]:
    note("undo", current_step().key)
    if network.plan == "undo-fails":
        return Failure("network is still in use")
    return Success(None)


def check_network(network: Network) -> Result[Network, NetworkError]:
    note("do", current_step().key)
    return Success(network)


def create_server(network: Network) -> Result[Server, ServerError]:
    note("do", current_step().key)
    if network.plan in ("no-server", "undo-fails"):
        return Failure(ServerError(f"no capacity in {network.zone}", retry_in=30))
    if network.plan == "raise-server":
        raise ConnectionError("the compute API is down")
    if network.plan == "bad-server":
        return Server("s-1", network.network_id)  # type: ignore[return-value]
    return Success(Server(f"s-{network.zone}", network.network_id))


provision = (
    step("allocate quota", allocate, compensate=release)
    .then(step("create network", create_network, compensate=delete_network))
    .then(step("check network", check_network))
    .then(step("create server", create_server))
)


# -- a trip: an async body with a step of three parameters and parallel ---------------


@dataclass(frozen=True)
class Trip:
    city: str
    card: str = "4242"
    hotel: str = "ok"  # "full": the hotel step fails
    slow: str = ""  # the name of a step that waits for its gate


@dataclass(frozen=True)
class Flight:
    number: str
    city: str


@dataclass(frozen=True)
class Seat:
    flight: str
    seat: str


@dataclass(frozen=True)
class Hotel:
    room: str
    city: str


@dataclass(frozen=True)
class Receipt:
    total: int
    key: str
    items: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FlightError:
    reason: str


@dataclass(frozen=True)
class HotelError:
    reason: str


@dataclass(frozen=True)
class PaymentError:
    reason: str
    code: int


def book_flight(trip: Trip) -> Result[Flight, FlightError]:  # sync: runs in a thread
    key = current_step().key
    note("start", key)
    if trip.slow == "flight":
        wait_gate("flight")
    note("do", key)
    return Success(Flight(f"FL-{trip.city}", trip.city))


def cancel_flight(flight: Flight) -> Result[None, str]:
    note("undo", current_step().key)
    return Success(None)


def pick_seat(flight: Flight) -> Result[Seat, FlightError]:
    note("do", current_step().key)
    return Success(Seat(flight.number, "12A"))


def free_seat(seat: Seat) -> Result[None, str]:
    note("undo", current_step().key)
    return Success(None)


async def book_hotel(trip: Trip) -> Result[Hotel, HotelError]:
    key = current_step().key
    note("start", key)
    if trip.slow == "hotel":
        try:
            await wait_gate_async("hotel")
        except asyncio.CancelledError:
            note("interrupted", key)
            raise
    if trip.hotel == "full":
        note("fail", key)
        return Failure(HotelError(f"no room in {trip.city}"))
    note("do", key)
    return Success(Hotel("101", trip.city))


async def cancel_hotel(hotel: Hotel) -> Result[None, str]:
    note("undo", current_step().key)
    return Success(None)


def charge_card(
    card: str, flight: Flight, hotel: Hotel
) -> Result[Receipt, PaymentError]:
    key = current_step().key
    note("do", key)
    if card == "declined":
        return Failure(PaymentError("card declined", 402))
    return Success(Receipt(420, key, [flight.number, hotel.room]))


def refund(receipt: Receipt) -> Result[None, str]:
    note("undo", current_step().key)
    return Success(None)


reserve_flight = step("reserve flight", book_flight, compensate=cancel_flight)
reserve_hotel = step("reserve hotel", book_hotel, compensate=cancel_hotel)
charge = step("charge card", charge_card, compensate=refund)


@saga("book trip")
def book_trip(
    trip: Trip,
) -> AsyncBody[Receipt, FlightError | HotelError | PaymentError]:
    flight = yield from reserve_flight(trip)
    hotel = yield from reserve_hotel(trip)
    return (yield from charge(trip.card, flight, hotel))


flight_and_seat = reserve_flight.then(
    step("pick seat", pick_seat, compensate=free_seat)
)
trip_in_parallel = parallel(flight_and_seat, reserve_hotel)


# -- retries ------------------------------------------------------------------------


def flaky(times: int) -> Result[int, str]:
    """Raises ConnectionError until attempt ``times``; ValueError when < 0."""
    ctx = current_step()
    note("attempt", f"{ctx.key}#{ctx.attempt}")
    if times < 0:
        raise ValueError("a negative count is a bug, not a glitch")
    if ctx.attempt < times:
        raise ConnectionError(f"glitch on attempt {ctx.attempt}")
    return Success(ctx.attempt)


retried = step(
    "flaky call",
    flaky,
    retry=Retry(attempts=3, interval=0.01, on=(ConnectionError,)),
)


# -- slow chains: cancellation, a killed worker, a changed definition ----------------


def first(trip: Trip) -> Result[Trip, str]:
    note("do", current_step().key)
    return Success(trip)


def undo_first(trip: Trip) -> Result[None, str]:
    note("undo", current_step().key)
    return Success(None)


def slow(trip: Trip) -> Result[Trip, str]:  # sync: cannot be interrupted
    ctx = current_step()
    note("start", f"{ctx.key}#{ctx.attempt}")
    wait_gate("slow")
    note("do", ctx.key)
    return Success(trip)


def undo_slow(trip: Trip) -> Result[None, str]:
    note("undo", current_step().key)
    return Success(None)


async def slow_async(trip: Trip) -> Result[Trip, str]:  # async: a cancel interrupts it
    key = current_step().key
    note("start", key)
    try:
        await wait_gate_async("slow")
    except asyncio.CancelledError:
        note("interrupted", key)
        raise
    note("do", key)
    return Success(trip)


def last(trip: Trip) -> Result[str, str]:
    note("do", current_step().key)
    return Success(f"done {trip.city}")


def extra(text: str) -> Result[str, str]:
    note("do", current_step().key)
    return Success(text + " and more")


slow_chain = (
    step("first", first, compensate=undo_first)
    .then(step("slow", slow, compensate=undo_slow))
    .then(step("last", last))
)
slow_async_chain = (
    step("first", first, compensate=undo_first)
    .then(step("slow", slow_async, compensate=undo_slow))
    .then(step("last", last))
)
version_1 = slow_chain
version_2 = slow_chain.then(step("extra", extra))

FAST_RECOVERY = ActivityOptions(heartbeat_timeout=timedelta(seconds=1))

DEFINITIONS: dict[str, tuple[str, Any, dict[str, Any]]] = {
    "provision": ("provision", provision, {}),
    "provision-continue": (
        "provision continue",
        provision,
        {"on_compensation_failure": "continue"},
    ),
    "book-trip": ("book trip", book_trip, {}),
    "parallel-trip": ("parallel trip", trip_in_parallel, {}),
    "retried": ("retried", retried, {}),
    "slow": ("slow", slow_chain, {"steps": {"slow": FAST_RECOVERY}}),
    "slow-async": ("slow async", slow_async_chain, {}),
    "v1": ("versioned", version_1, {"steps": {"slow": FAST_RECOVERY}}),
    "v2": ("versioned", version_2, {"steps": {"slow": FAST_RECOVERY}}),
}

_MADE: dict[str, DistributedSaga[Any, Any, Any]] = {}


def registered(key: str) -> DistributedSaga[Any, Any, Any]:
    """The distributed saga ``key`` of :data:`DEFINITIONS` (registered once)."""
    if key not in _MADE:
        name, definition, options = DEFINITIONS[key]
        _MADE[key] = distributed(definition, name=name, **options)
    return _MADE[key]


# -- pydantic models, with Temporal's pydantic data converter -------------------------


class Order(BaseModel):
    sku: str
    quantity: int
    placed: datetime


class Reservation(BaseModel):
    order: Order
    shelf: str


class StockError(BaseModel):
    sku: str
    missing: int


def reserve_stock(order: Order) -> Result[Reservation, StockError]:
    note("do", current_step().key)
    return Success(Reservation(order=order, shelf="B-7"))


def release_stock(reservation: Reservation) -> Result[None, str]:
    note("undo", current_step().key)
    return Success(None)


def ship(reservation: Reservation) -> Result[str, StockError]:
    note("do", current_step().key)
    order = reservation.order
    if order.quantity > 5:
        return Failure(StockError(sku=order.sku, missing=order.quantity - 5))
    return Success(f"shipped {order.quantity} {order.sku} from {reservation.shelf}")


shipping = step("reserve stock", reserve_stock, compensate=release_stock).then(
    step("ship", ship)
)
DEFINITIONS["shipping"] = ("shipping", shipping, {})


# -- a body that builds a step inside itself: not found at registration ----------------


@saga("inline")
def builds_its_step(trip: Trip) -> Body[str, FlightError | str]:
    flight = yield from reserve_flight_sync(trip)
    made_here = step("made here", last)  # invisible to blueprint(): a local name
    return (yield from made_here(trip)) + flight.number


reserve_flight_sync = step("reserve flight", book_flight, compensate=cancel_flight)
DEFINITIONS["inline"] = ("inline", builds_its_step, {})
