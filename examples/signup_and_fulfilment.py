"""Two workflows as bodies: a signup and an order's fulfilment.

Each later step uses earlier values directly (no carry types): the
subscription needs the account and the card; the shipment needs every
reservation and the payment. A flag skips a step, a loop reserves each line
of the order. ``check_rollback`` then proves that a failure at any step they
reach leaves nothing behind.

Run it: ``python examples/signup_and_fulfilment.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from typed_saga import Body, saga, step
from typed_saga.testing import check_rollback

# -- a small in-memory world: what exists right now ---------------------------------

world: dict[str, set[str]] = {
    "accounts": set(),
    "usernames": set(),
    "subscriptions": set(),
    "reservations": set(),
    "payments": set(),
    "shipments": set(),
}


def clean() -> bool:
    return not any(world.values())


def reset() -> None:
    for rows in world.values():
        rows.clear()


class SignupError(Exception):
    pass


class OrderError(Exception):
    pass


# -- signup ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    email: str
    username: str
    plan: str  # "free" or "pro"
    card: str


@dataclass(frozen=True)
class Account:
    account_id: str
    email: str


def create_account(application: Application) -> Result[Account, SignupError]:
    account = Account(f"acct-{application.username}", application.email)
    world["accounts"].add(account.account_id)
    return Success(account)


def delete_account(account: Account) -> Result[None, SignupError]:
    world["accounts"].discard(account.account_id)
    return Success(None)


def claim_username(account: Account, username: str) -> Result[str, SignupError]:
    if username in world["usernames"]:
        return Failure(SignupError(f"username {username!r} is taken"))
    world["usernames"].add(username)
    return Success(username)


def release_username(username: str) -> Result[None, SignupError]:
    world["usernames"].discard(username)
    return Success(None)


def subscribe(account: Account, card: str) -> Result[str, SignupError]:
    if card == "declined":
        return Failure(SignupError("the card was declined"))
    subscription = f"sub-{account.account_id}"
    world["subscriptions"].add(subscription)
    return Success(subscription)


def unsubscribe(subscription: str) -> Result[None, SignupError]:
    world["subscriptions"].discard(subscription)
    return Success(None)


def welcome(account: Account, plan: str) -> Result[str, SignupError]:
    return Success(f"welcome {account.email} to the {plan} plan")


create = step("create account", create_account, compensate=delete_account)
claim = step("claim username", claim_username, compensate=release_username)
start_subscription = step("start subscription", subscribe, compensate=unsubscribe)
greet = step("send welcome", welcome)


@saga("sign up")
def sign_up(application: Application) -> Body[str, SignupError]:
    account = yield from create(application)
    yield from claim(account, application.username)
    if application.plan == "pro":  # a free plan skips the subscription
        yield from start_subscription(account, application.card)
    return (yield from greet(account, application.plan))


# -- fulfilment ------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    order_id: str
    lines: tuple[str, ...]  # one product per line
    card: str
    address: str


def reserve(order_id: str, product: str) -> Result[str, OrderError]:
    if product == "sold out":
        return Failure(OrderError(f"{product!r} cannot be reserved"))
    reservation = f"{order_id}/{product}"
    world["reservations"].add(reservation)
    return Success(reservation)


def unreserve(reservation: str) -> Result[None, OrderError]:
    world["reservations"].discard(reservation)
    return Success(None)


def charge(order: Order, reservations: list[str]) -> Result[str, OrderError]:
    if order.card == "declined":
        return Failure(OrderError("the card was declined"))
    payment = f"pay-{order.order_id}-{len(reservations)}"
    world["payments"].add(payment)
    return Success(payment)


def refund(payment: str) -> Result[None, OrderError]:
    world["payments"].discard(payment)
    return Success(None)


def ship(
    order: Order, reservations: list[str], payment: str
) -> Result[str, OrderError]:
    if not order.address:
        return Failure(OrderError("no address to ship to"))
    shipment = f"ship-{order.order_id} ({len(reservations)} items, {payment})"
    world["shipments"].add(shipment)
    return Success(shipment)


reserve_line = step("reserve", reserve, compensate=unreserve)
take_payment = step("charge", charge, compensate=refund)
send = step("ship", ship)


@saga("fulfil order")
def fulfil(order: Order) -> Body[str, OrderError]:
    reservations: list[str] = []
    for product in order.lines:
        reservations.append((yield from reserve_line(order.order_id, product)))
    payment = yield from take_payment(order, reservations)
    return (yield from send(order, reservations, payment))


def main() -> None:
    pro = Application("ada@example.com", "ada", "pro", "4242")
    print(sign_up.run(pro))
    reset()
    print(sign_up.run(Application("bob@example.com", "bob", "pro", "declined")))
    print("left behind:", {k: v for k, v in world.items() if v})
    order = Order("o-1", ("book", "lamp"), "4242", "1 Main St")
    print(fulfil.run(order))
    reset()
    print(fulfil.run_with_report(Order("o-2", ("book", "lamp"), "4242", "")))
    print("left behind:", {k: v for k, v in world.items() if v})
    for name, check in (
        ("sign up", check_rollback(sign_up, pro, is_restored=clean, reset=reset)),
        ("fulfil", check_rollback(fulfil, order, is_restored=clean, reset=reset)),
    ):
        print(f"{name}: rollback proven at {', '.join(check.steps)}")


if __name__ == "__main__":
    main()
