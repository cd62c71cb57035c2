"""A durable checkout on DBOS: the program that docs/durable.md shows in parts.

Run it with the dbos extra installed (``pip install 'typed-saga[dbos]'``)::

    python examples/durable_dbos.py [DIRECTORY]

It keeps DBOS's SQLite database in DIRECTORY (default: a temporary one).
"""

from __future__ import annotations

import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from dbos import DBOS
from returns.result import Failure, Result, Success

from typed_saga import Retry, current_step, step
from typed_saga.dbos import RunCancelled, dbos_config, durable


@dataclass(frozen=True)
class Order:
    id: str
    amount: int
    country: str


class Payments:
    """A payment service that takes an idempotency key, as real ones do:
    a charge repeated with the same key is not charged twice."""

    def __init__(self) -> None:
        self.charges: dict[str, int] = {}

    def charge(self, key: str, amount: int) -> str:
        self.charges.setdefault(key, amount)
        return key

    def refund(self, key: str) -> None:
        self.charges.pop(key, None)


PAYMENTS = Payments()
STOCK = {"book": 3}


def reserve(order: Order) -> Result[Order, str]:
    if STOCK["book"] == 0:
        return Failure("out of stock")
    STOCK["book"] -= 1
    return Success(order)


def release(order: Order) -> Result[None, str]:
    STOCK["book"] += 1
    return Success(None)


def charge(order: Order) -> Result[str, str]:
    # the step runs at least once: the key makes the charge happen once
    return Success(PAYMENTS.charge(current_step().key, order.amount))


def refund(charge_id: str) -> Result[None, str]:
    PAYMENTS.refund(charge_id)
    return Success(None)


def ship(charge_id: str) -> Result[str, str]:
    if not charge_id.startswith("eu-"):
        return Failure("we only ship within the EU")
    return Success(f"shipped ({charge_id})")


checkout = (
    step("reserve", reserve, compensate=release)
    .then(step("charge", charge, compensate=refund, retry=Retry(attempts=3)))
    .then(step("ship", ship))
)
# checkout: Saga[Order, str, str]

checkout_durably = durable(checkout, name="checkout")  # before DBOS.launch()


def launch(directory: Path) -> None:
    DBOS(config=dbos_config(directory / "checkout.sqlite"))
    DBOS.launch()  # resumes every unfinished run of the registered sagas


def first_runs() -> None:
    ok = checkout_durably.run(Order("eu-1", 20, "FR"), run_id="eu-1")
    print(ok)  # <Success: shipped (eu-1/charge)>

    failed = checkout_durably.run(Order("us-1", 30, "US"), run_id="us-1")
    print(failed)  # <Failure: we only ship within the EU>
    print(PAYMENTS.charges, STOCK)  # {'eu-1/charge': 20} {'book': 2}

    # a run id that already ran: its recorded result, nothing runs again
    again = checkout_durably.run(Order("eu-1", 999, "FR"), run_id="eu-1")
    print(again)  # <Success: shipped (eu-1/charge)>
    print(PAYMENTS.charges)  # {'eu-1/charge': 20}


def start_and_fetch() -> None:
    started = checkout_durably.start(Order("eu-2", 15, "DE"), run_id="eu-2")
    print(started.run_id)  # eu-2
    # ... later, in this process or any other on the same database:
    print(checkout_durably.result("eu-2"))  # <Success: shipped (eu-2/charge)>


GATE = threading.Event()


def wait_for_gate(order: Order) -> Result[Order, str]:
    GATE.wait(timeout=30)  # a slow action: the cancel lands meanwhile
    return Success(order)


slow_checkout = durable(
    step("reserve", reserve, compensate=release)
    .then(step("wait", wait_for_gate))
    .then(step("charge", charge, compensate=refund))
    .then(step("ship", ship)),
    name="slow checkout",
)


def cancelling() -> None:
    started = slow_checkout.start(Order("eu-3", 40, "IT"), run_id="eu-3")
    # cancel() says whether the run was still unfinished
    print(slow_checkout.cancel("eu-3"))  # True
    GATE.set()  # the action in flight finishes; nothing after it runs
    try:
        started.result()
    except RunCancelled as cancelled:
        print(cancelled)  # run 'eu-3' was cancelled; the steps it had ...
    print(STOCK, "eu-3/charge" in PAYMENTS.charges)  # {'book': 1} False


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        launch(Path(argv[0]) if argv else Path(scratch))
        try:
            first_runs()
            start_and_fetch()
            cancelling()
        finally:
            DBOS.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
