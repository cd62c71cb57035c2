"""``current_step()``: which run and step is running here, for idempotency keys."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final, final

from typed_saga._trace import running_trace
from typed_saga._value import Frozen, init_field


@final
class StepContext(Frozen):
    """Who is running: the run's id, the step's name and the attempt.

    ``step`` is the step's name in this run: a step called again (in a loop)
    is ``"name #2"``, ``"name #3"``..., so ``f"{run_id}/{step}"`` is unique
    per run. ``key`` is such a key, also unique across ``parallel`` branches
    and distinct for the compensation: pass it to the service you call so that
    a step run twice (a retry, a durable engine's recovery) does the work once.

    >>> ctx = StepContext(run_id="r1", saga="book", step="charge", attempt=1)
    >>> ctx.key
    'r1/charge'
    >>> StepContext(run_id="r1", saga=None, step="charge", attempt=2,
    ...             compensating=True).key
    'r1/charge/compensate'
    """

    __slots__ = ("run_id", "saga", "step", "attempt", "compensating", "branch")

    run_id: str
    saga: str | None
    step: str
    attempt: int
    compensating: bool
    branch: str
    """Where a step inside a ``parallel`` branch sits: ``"<group>/<n>/"``."""

    def __init__(
        self,
        *,
        run_id: str,
        saga: str | None,
        step: str,
        attempt: int,
        compensating: bool = False,
        branch: str = "",
    ) -> None:
        init_field(self, "run_id", run_id)
        init_field(self, "saga", saga)
        init_field(self, "step", step)
        init_field(self, "attempt", attempt)
        init_field(self, "compensating", compensating)
        init_field(self, "branch", branch)

    @property
    def key(self) -> str:
        """An idempotency key: the run, where the step sits, and whether this
        is its compensation."""
        suffix = "/compensate" if self.compensating else ""
        return f"{self.run_id}/{self.branch}{self.step}{suffix}"


OVERRIDE: Final[ContextVar[StepContext | None]] = ContextVar(
    "typed_saga_step", default=None
)
"""Set by an engine that runs a step away from the fold (``engine.running_step``)."""


def current_step() -> StepContext:
    """The run and step whose action (or compensation) is running now.

    Use it inside an action or compensation to build an idempotency key for
    the service it calls (``current_step().key``); each run has a fresh
    ``run_id`` unless the caller passes ``run_id=`` to ``run``.

    >>> from returns.result import Result, Success
    >>> from typed_saga import step
    >>> def charge(amount: int) -> Result[str, str]:
    ...     return Success(current_step().key)
    >>> step("charge", charge).run(10, run_id="order-7")
    <Success: order-7/charge>

    Raises ``LookupError`` outside an action or compensation (for instance in
    a body's own code, between steps).
    """
    given = OVERRIDE.get()
    if given is not None:
        return given
    trace = running_trace()
    if trace is not None:
        undoing = trace.undoing
        index = undoing if undoing >= 0 else len(trace.outputs)
        if index < len(trace.nodes):
            return StepContext(
                run_id=trace.id,
                saga=trace.run.saga,
                step=trace.label(index),
                attempt=trace.attempt,
                compensating=undoing >= 0,
                branch=trace.prefix,
            )
    raise LookupError(
        "current_step() works inside a step's action or compensation while a saga "
        "runs; here no step is running"
    )
