"""typed-saga: typed multi-step workflows with compensation, built on ``returns``.

Describe the steps, each with an optional compensation; the runner runs them
in order and, on the first ``Failure``, undoes the completed ones in reverse
and hands back that very ``Failure``.

>>> from returns.result import Failure, Result, Success
>>> from typed_saga import step
>>> created: list[str] = []
>>> def create(name: str) -> Result[str, str]:
...     created.append(name)
...     return Success(name)
>>> def delete(name: str) -> Result[None, str]:
...     created.remove(name)
...     return Success(None)
>>> saga = step("create", create, compensate=delete).then(
...     step("attach", lambda _: Failure("quota exceeded"))
... )
>>> saga.run("vol-1")
<Failure: quota exceeded>
>>> created
[]
"""

from typed_saga._body import SagaDecorator, saga
from typed_saga._call import AsyncBody, AsyncCall, AsyncStepCall, Body, Call, StepCall
from typed_saga._context import StepContext, current_step
from typed_saga._events import (
    CompensationFailed,
    CompensationSkipped,
    CompensationStarted,
    CompensationSucceeded,
    Event,
    Listener,
    SagaFailed,
    SagaStarted,
    SagaSucceeded,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from typed_saga._handler import Action, Handler, run, run_async
from typed_saga._node import Policy
from typed_saga._parallel import parallel
from typed_saga._report import SagaReport, StepOutcome, StepRecord
from typed_saga._retry import Retry
from typed_saga._saga import AsyncMultiStep, AsyncSaga, MultiStep, Saga
from typed_saga._step import async_step, step

__version__ = "0.1.0"
"""The version of typed-saga: written here only (the build reads it from here)."""
"""The installed distribution's version (from its metadata, so never stale)."""

__all__ = (
    "Action",
    "AsyncBody",
    "AsyncCall",
    "AsyncMultiStep",
    "AsyncSaga",
    "AsyncStepCall",
    "Body",
    "Call",
    "CompensationFailed",
    "CompensationSkipped",
    "CompensationStarted",
    "CompensationSucceeded",
    "Event",
    "Handler",
    "Listener",
    "MultiStep",
    "Policy",
    "Retry",
    "Saga",
    "SagaDecorator",
    "SagaFailed",
    "SagaReport",
    "SagaStarted",
    "SagaSucceeded",
    "StepCall",
    "StepContext",
    "StepFailed",
    "StepOutcome",
    "StepRecord",
    "StepStarted",
    "StepSucceeded",
    "async_step",
    "current_step",
    "parallel",
    "run",
    "run_async",
    "saga",
    "step",
)
