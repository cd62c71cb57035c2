"""Book a trip with a body: reserve flight -> reserve hotel -> charge card.

The charge needs the flight *and* the hotel *and* the card: three earlier
values. A body keeps them in local variables::

    flight = yield from reserve_flight(trip)
    hotel = yield from reserve_hotel(trip)
    return (yield from charge(trip.card, flight, hotel))

The script books four trips. The first succeeds; each of the others fails at
a later step (no flights to Atlantis, Venice is full, the card is declined),
so you see the rollback grow: nothing to undo, then the flight cancelled,
then the hotel and the flight, newest first. Each failed run must leave the
agency as it found it; ``check_rollback`` then proves it for every step and
both kinds of fault.

Run it: ``python examples/book_trip.py``
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from typed_saga import Body, saga, step
from typed_saga.testing import check_rollback


@dataclass(frozen=True)
class Trip:
    """What the traveller asked for."""

    traveller: str
    city: str
    card: str


@dataclass(frozen=True)
class Flight:
    """A reserved seat."""

    id: str
    price: int


@dataclass(frozen=True)
class Hotel:
    """A reserved room."""

    id: str
    price: int


@dataclass(frozen=True)
class Receipt:
    """What the card was charged."""

    card: str
    total: int


@dataclass(frozen=True)
class FlightError:
    """The airline refused."""

    reason: str


@dataclass(frozen=True)
class HotelError:
    """The hotel refused."""

    reason: str


@dataclass(frozen=True)
class PaymentError:
    """The card was declined."""

    reason: str


booked: set[str] = set()  # what the agency holds for us right now


def book_flight(trip: Trip) -> Result[Flight, FlightError]:
    """Reserve a seat; there are no flights to Atlantis."""
    if trip.city == "Atlantis":
        return Failure(FlightError(f"no flights to {trip.city}"))
    flight = Flight(f"flight to {trip.city} for {trip.traveller}", price=300)
    booked.add(flight.id)
    print(f"  + {flight.id}")
    return Success(flight)


def cancel_flight(flight: Flight) -> Result[None, FlightError]:
    """Undo book_flight: it is given the Flight that step returned."""
    booked.remove(flight.id)
    print(f"  - {flight.id}")
    return Success(None)


def book_hotel(trip: Trip) -> Result[Hotel, HotelError]:
    """Reserve a room; Venice is full."""
    if trip.city == "Venice":
        return Failure(HotelError(f"every hotel in {trip.city} is full"))
    hotel = Hotel(f"hotel in {trip.city} for {trip.traveller}", price=500)
    booked.add(hotel.id)
    print(f"  + {hotel.id}")
    return Success(hotel)


def cancel_hotel(hotel: Hotel) -> Result[None, HotelError]:
    """Undo book_hotel."""
    booked.remove(hotel.id)
    print(f"  - {hotel.id}")
    return Success(None)


def charge_card(
    card: str, flight: Flight, hotel: Hotel
) -> Result[Receipt, PaymentError]:
    """Charge the card for both; an expired card is declined."""
    if card == "expired":
        return Failure(PaymentError(f"card {card!r} declined"))
    return Success(Receipt(card, flight.price + hotel.price))


reserve_flight = step("reserve flight", book_flight, compensate=cancel_flight)
reserve_hotel = step("reserve hotel", book_hotel, compensate=cancel_hotel)
charge = step("charge card", charge_card)  # three parameters: a MultiStep


# Saga[Trip, Receipt, FlightError | HotelError | PaymentError], inferred by mypy.
@saga("book trip")
def book_trip(trip: Trip) -> Body[Receipt, FlightError | HotelError | PaymentError]:
    """Any later step can use any earlier value: the locals are the state."""
    flight = yield from reserve_flight(trip)
    hotel = yield from reserve_hotel(trip)
    return (yield from charge(trip.card, flight, hotel))


def describe(result: Result[Receipt, FlightError | HotelError | PaymentError]) -> str:
    """What the caller makes of the result: the failing step's own error."""
    match result:
        case Success(Receipt(card, total)):
            return f"booked, {total} charged to card {card}"
        case Failure(FlightError(reason) | HotelError(reason)):
            return f"not booked: {reason}"
        case Failure(PaymentError(reason)):
            return f"not paid: {reason}"
    return "unreachable"


def main() -> int:
    """Book four trips, each failing one step later than the one before."""
    trips = [
        ("everything works", Trip("Ada", "Oslo", card="4242")),
        ("no flights", Trip("Bob", "Atlantis", card="4242")),
        ("the hotels are full", Trip("Cy", "Venice", card="4242")),
        ("the card is declined", Trip("Di", "Rome", card="expired")),
    ]
    leaked = False
    for number, (title, trip) in enumerate(trips, start=1):
        print(f"{number}) {trip.traveller} to {trip.city}: {title}")
        before = set(booked)
        report = book_trip.run_with_report(trip)
        print(report)
        print(describe(report.result))
        if isinstance(report.result, Failure):
            left = booked - before
            print(f"left behind by the failed run: {sorted(left) or 'nothing'}")
            leaked |= bool(left)
        print()

    print("check_rollback: a fault at every step, returned and raised:")
    with contextlib.redirect_stdout(io.StringIO()):  # its runs print too
        checked = check_rollback(
            book_trip,
            Trip("Eve", "Oslo", card="4242"),
            reset=booked.clear,
            is_restored=lambda: not booked,
        )
    print(checked)
    return 1 if leaked else 0


if __name__ == "__main__":
    raise SystemExit(main())
