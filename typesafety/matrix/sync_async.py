"""Sync and async mixing: an async step makes the whole saga an AsyncSaga.

`await saga.run(...)` gives the same Result as a sync run; forgetting the
await is the mistake to catch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, assert_type

from returns.result import Result, Success

from typed_saga import AsyncSaga, Saga, SagaReport, step


@dataclass(frozen=True)
class Order:
    order_id: str


@dataclass(frozen=True)
class Payment:
    payment_id: str


@dataclass(frozen=True)
class Shipment:
    tracking: str


class PaymentError(Exception): ...


class ShippingError(Exception): ...


def reserve(order: Order) -> Result[Order, KeyError]:
    return Success(order)


async def charge(order: Order) -> Result[Payment, PaymentError]:
    return Success(Payment(order.order_id))


async def refund(payment: Payment) -> Result[None, PaymentError]:
    return Success(None)


def refund_sync(payment: Payment) -> Result[None, PaymentError]:
    return Success(None)


def ship(payment: Payment) -> Result[Shipment, ShippingError]:
    return Success(Shipment(payment.payment_id))


async def ship_async(payment: Payment) -> Result[Shipment, ShippingError]:
    return Success(Shipment(payment.payment_id))


def charge_later(order: Order) -> Coroutine[Any, Any, Result[Payment, PaymentError]]:
    return charge(order)


async def charge_amount(order: Order) -> str:
    return order.order_id


async def refund_order(order: Order) -> Result[None, PaymentError]:
    return Success(None)


def charge_awaitable(order: Order) -> Awaitable[Result[Payment, PaymentError]]:
    return charge(order)


def refund_awaitable(payment: Payment) -> Awaitable[Result[None, PaymentError]]:
    return refund(payment)


def unreserve_awaitable(order: Order) -> Awaitable[Result[None, KeyError]]:
    return unreserve(order)


async def unreserve(order: Order) -> Result[None, KeyError]:
    return Success(None)


checkout = step("reserve", reserve).then(step("charge", charge, compensate=refund)).then(step("ship", ship))

# case: an_async_action_makes_an_async_saga
assert_type(step("charge", charge), AsyncSaga[Order, Payment, PaymentError])
assert_type(step("charge", charge, compensate=refund), AsyncSaga[Order, Payment, PaymentError])
assert_type(step("charge", charge, compensate=refund_sync), AsyncSaga[Order, Payment, PaymentError])

# case: sync_then_async_and_async_then_sync
assert_type(step("reserve", reserve).then(step("charge", charge)), AsyncSaga[Order, Payment, KeyError | PaymentError])
assert_type(step("charge", charge).then(step("ship", ship)), AsyncSaga[Order, Shipment, PaymentError | ShippingError])
assert_type(checkout, AsyncSaga[Order, Shipment, KeyError | PaymentError | ShippingError])

# case: async_then_async
assert_type(step("charge", charge).then(step("ship", ship_async)), AsyncSaga[Order, Shipment, PaymentError | ShippingError])

# case: map_on_an_async_saga_stays_async
assert_type(checkout.map(lambda shipment: shipment.tracking), AsyncSaga[Order, str, KeyError | PaymentError | ShippingError])

# case: awaiting_run_gives_the_result
async def place(order: Order) -> None:
    result = await checkout.run(order, compensation_timeout=5.0)
    assert_type(result, Result[Shipment, KeyError | PaymentError | ShippingError])
    report = await checkout.run_with_report(order, on_compensation_failure="continue")
    assert_type(report, SagaReport[Shipment, KeyError | PaymentError | ShippingError])

# case: a_def_returning_a_coroutine_is_an_async_step
assert_type(step("charge", charge_later), AsyncSaga[Order, Payment, PaymentError])

# case: a_compensation_typed_awaitable
assert_type(step("charge", charge, compensate=refund_awaitable), AsyncSaga[Order, Payment, PaymentError])
assert_type(step("reserve", reserve).then(step("charge", charge_later, compensate=refund_awaitable)), AsyncSaga[Order, Payment, KeyError | PaymentError])

# case: async_sagas_are_values_of_their_own_type
def checkout_for(region: str) -> AsyncSaga[Order, Shipment, KeyError | PaymentError | ShippingError]:
    return checkout.named(f"checkout {region}")


assert_type(checkout_for("eu"), AsyncSaga[Order, Shipment, KeyError | PaymentError | ShippingError])

# case: a_sync_saga_stays_sync
assert_type(step("reserve", reserve).then(step("again", reserve)).map(str), Saga[Order, str, KeyError])

# case: run_without_await_then_use_the_result
async def forgot_await(order: Order) -> None:
    result = checkout.run(order)
    result.map(str)  # expect-error: run() of an AsyncSaga must be awaited

# case: run_without_await_as_a_statement
async def dropped(order: Order) -> None:
    checkout.run(order)  # expect-error: the coroutine is never awaited, the saga never runs

# case: run_without_await_returned_as_a_result
async def returned(order: Order) -> Result[Shipment, KeyError | PaymentError | ShippingError]:
    return checkout.run(order)  # expect-error: missing await

# case: run_of_an_async_saga_from_sync_code
def sync_caller(order: Order) -> Result[Shipment, KeyError | PaymentError | ShippingError]:
    return checkout.run(order)  # expect-error: an AsyncSaga needs an event loop: await it in async code

# case: awaiting_a_sync_saga
# xfail[pyrefly]: reads returns' `__getattr__: None` declaration as dynamic attributes, so a Result looks awaitable
async def awaited_sync(order: Order) -> None:
    await step("reserve", reserve).run(order)  # expect-error: a Saga's run is not awaitable

# case: compensation_timeout_on_a_sync_saga
step("reserve", reserve).run(Order("o-1"), compensation_timeout=5.0)  # expect-error: only async sagas take a compensation timeout

# case: an_async_action_returning_a_plain_value
step("charge", charge_amount)  # expect-error: the coroutine must return a Result

# case: an_action_typed_awaitable_rather_than_coroutine
step("charge", charge_awaitable)  # expect-error: by design (see _step.py): write async def, or annotate -> Coroutine[Any, Any, Result[...]]

# case: a_sync_steps_compensation_typed_awaitable_rather_than_coroutine
step("reserve", reserve, compensate=unreserve_awaitable)  # expect-error: by design (see _step.py): write async def, or annotate -> Coroutine[Any, Any, Result[...]]

# case: a_sync_step_with_an_async_def_compensation
assert_type(step("reserve", reserve, compensate=unreserve), AsyncSaga[Order, Order, KeyError])

# case: an_async_step_taking_the_wrong_input
step("reserve", reserve).then(step("ship", ship_async))  # expect-error: ship_async takes a Payment, not an Order

# case: an_async_compensation_of_the_steps_input
step("charge", charge, compensate=refund_order)  # expect-error: the compensation gets the Payment, not the Order

# case: async_run_with_the_wrong_input
async def wrong_input() -> None:
    await checkout.run(Payment("p-1"))  # expect-error: the saga takes an Order
