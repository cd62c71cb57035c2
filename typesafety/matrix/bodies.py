"""Bodies: a saga written as a generator function, every value typed.

`x = yield from some_step(value)` gives the step's output; the body's
`Body[Out, Err]` declares what it returns and every error its steps may fail
with. The mistakes: an undeclared error, a wrong argument, an async step in a
sync body, the wrong return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_type

from returns.result import Result, Success

from typed_saga import AsyncBody, AsyncSaga, Body, Call, Saga, parallel, saga, step


@dataclass(frozen=True)
class Trip:
    card: str


@dataclass(frozen=True)
class Flight:
    flight_id: str


@dataclass(frozen=True)
class Hotel:
    hotel_id: str


@dataclass(frozen=True)
class Receipt:
    total: int


class FlightError(Exception): ...


class HotelError(Exception): ...


class PaymentError(Exception): ...


def book_flight(trip: Trip) -> Result[Flight, FlightError]:
    return Success(Flight("f-1"))


def cancel_flight(flight: Flight) -> Result[None, FlightError]:
    return Success(None)


def book_hotel(trip: Trip) -> Result[Hotel, HotelError]:
    return Success(Hotel("h-1"))


async def book_hotel_async(trip: Trip) -> Result[Hotel, HotelError]:
    return Success(Hotel("h-1"))


def cancel_hotel(hotel: Hotel) -> Result[None, HotelError]:
    return Success(None)


def charge_card(card: str, flight: Flight, hotel: Hotel) -> Result[Receipt, PaymentError]:
    return Success(Receipt(100))


reserve_flight = step("reserve flight", book_flight, compensate=cancel_flight)
reserve_hotel = step("reserve hotel", book_hotel, compensate=cancel_hotel)
reserve_hotel_async = step("reserve hotel", book_hotel_async, compensate=cancel_hotel)
charge = step("charge card", charge_card)


@saga("book trip")
def book_trip(trip: Trip) -> Body[Receipt, FlightError | HotelError | PaymentError]:
    flight = yield from reserve_flight(trip)
    hotel = yield from reserve_hotel(trip)
    return (yield from charge(trip.card, flight, hotel))


@saga("book trip async")
def book_trip_async(trip: Trip) -> AsyncBody[Receipt, FlightError | HotelError | PaymentError]:
    flight, hotel = yield from parallel(reserve_flight(trip), reserve_hotel_async(trip))
    return (yield from charge(trip.card, flight, hotel))


# case: a_body_is_a_saga_of_its_input_output_and_errors
assert_type(book_trip, Saga[Trip, Receipt, FlightError | HotelError | PaymentError])

# case: an_async_body_is_an_async_saga
assert_type(book_trip_async, AsyncSaga[Trip, Receipt, FlightError | HotelError | PaymentError])

# case: a_body_run_gives_a_typed_result
assert_type(book_trip.run(Trip("visa")), Result[Receipt, FlightError | HotelError | PaymentError])

# case: calling_a_saga_gives_a_typed_call
assert_type(reserve_flight(Trip("visa")), Call[Flight, FlightError])

# case: calling_a_several_parameter_step_gives_a_typed_call
assert_type(charge("visa", Flight("f"), Hotel("h")), Call[Receipt, PaymentError])

# case: a_body_chains_like_any_saga
def receipt_total(receipt: Receipt) -> Result[int, PaymentError]:
    return Success(receipt.total)
assert_type(book_trip.then(step("total", receipt_total)), Saga[Trip, int, FlightError | HotelError | PaymentError])

# case: a_step_error_the_body_does_not_declare
@saga("flight only")
def flight_only(trip: Trip) -> Body[Flight, FlightError]:
    yield from reserve_hotel(trip)  # expect-error: reserve hotel fails with HotelError, the body declares FlightError
    return (yield from reserve_flight(trip))

# case: swapped_arguments_of_a_several_parameter_step
@saga("swapped")
def swapped(trip: Trip) -> Body[Receipt, FlightError | HotelError | PaymentError]:
    flight = yield from reserve_flight(trip)
    hotel = yield from reserve_hotel(trip)
    return (yield from charge(trip.card, hotel, flight))  # expect-error: charge takes the flight, then the hotel

# case: a_step_called_with_the_wrong_input
@saga("wrong input")
def wrong_input(trip: Trip) -> Body[Flight, FlightError]:
    return (yield from reserve_flight(trip.card))  # expect-error: reserve flight takes a Trip, not a str

# case: an_async_step_in_a_sync_body
@saga("async in sync")
def async_in_sync(trip: Trip) -> Body[Hotel, HotelError]:
    return (yield from reserve_hotel_async(trip))  # expect-error: an async step needs an AsyncBody

# case: parallel_in_a_sync_body
@saga("parallel in sync")
def parallel_in_sync(trip: Trip) -> Body[tuple[Flight, Flight], FlightError]:
    return (yield from parallel(reserve_flight(trip), reserve_flight(trip)))  # expect-error: parallel needs an AsyncBody

# case: a_body_returning_the_wrong_type
@saga("wrong return")
def wrong_return(trip: Trip) -> Body[Receipt, FlightError]:
    flight = yield from reserve_flight(trip)
    return flight  # expect-error: the body declares a Receipt

# case: a_several_parameter_step_linked_with_then
reserve_flight.then(charge)  # expect-error: charge takes three arguments: call it from a body
