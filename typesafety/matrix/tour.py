"""A tour: one realistic provisioning workflow, end to end.

Sync, async, parallel, a Go-style handler and a report, with ``assert_type``
on every type a user relies on (formerly ``typesafety/pyright_usage.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import assert_type

from returns.future import FutureResult
from returns.result import Failure, Result, Success

from typed_saga import (
    Action,
    AsyncSaga,
    CompensationFailed,
    Event,
    Policy,
    Saga,
    SagaReport,
    StepOutcome,
    StepRecord,
    parallel,
    run,
    step,
)

# --- the domain --------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What the caller asks for."""

    region: str
    cpus: int


@dataclass(frozen=True)
class Quota:
    """An allocated quota."""

    quota_id: str
    request: Request


@dataclass(frozen=True)
class Network:
    """A created network."""

    network_id: str
    quota: Quota


@dataclass(frozen=True)
class Volume:
    """A created volume."""

    volume_id: str


@dataclass(frozen=True)
class Server:
    """A created server."""

    server_id: str


@dataclass(frozen=True)
class Response:
    """What the caller gets back."""

    server_id: str


class QuotaError(Exception):
    """No quota left."""


class NetworkError(Exception):
    """The network could not be created."""


class VolumeError(Exception):
    """The volume could not be created."""


class ServerError(Exception):
    """The server could not be created."""


# --- sync steps ----------------------------------------------------------------


def allocate_quota(request: Request) -> Result[Quota, QuotaError]:
    """Reserve quota for the request."""
    if request.cpus > 64:
        return Failure(QuotaError(request.region))
    return Success(Quota("q-1", request))


def release_quota(quota: Quota) -> Result[None, QuotaError]:
    """Give the quota back."""
    return Success(None)


def release_quota_id(quota_id: str) -> Result[None, QuotaError]:
    """Give the quota back, by id."""
    return Success(None)


def create_network(quota: Quota) -> Result[Network, NetworkError]:
    """Create the network inside the quota."""
    return Success(Network("net-1", quota))


def delete_network(network: Network) -> Result[None, NetworkError]:
    """Delete the network."""
    return Success(None)


def create_server(network: Network) -> Result[Server, ServerError]:
    """Create the server on the network."""
    return Success(Server("srv-1"))


def to_response(server: Server) -> Response:
    """The caller's view of the server."""
    return Response(server.server_id)


# --- async steps and FutureResult ---------------------------------------------


async def create_network_async(quota: Quota) -> Result[Network, NetworkError]:
    """Create the network through an async client."""
    return Success(Network("net-1", quota))


async def delete_network_async(network: Network) -> Result[None, NetworkError]:
    """Delete the network through an async client."""
    return Success(None)


def create_volume(quota: Quota) -> FutureResult[Volume, VolumeError]:
    """Create a volume, as a ``FutureResult``."""
    return FutureResult.from_value(Volume("vol-1"))


def delete_volume(volume: Volume) -> FutureResult[None, VolumeError]:
    """Delete a volume, as a ``FutureResult``."""
    return FutureResult.from_value(None)


async def create_server_async(
    resources: tuple[Network, Volume],
) -> Result[Server, ServerError]:
    """Create the server with its network and volume."""
    return Success(Server("srv-1"))


# --- the Go-style handler ------------------------------------------------------


class ProvisionHandler:
    """Keeps state on the object, like the Go reference handlers."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.quota: Quota | None = None

    def actions(self) -> Iterator[Action[QuotaError | ServerError]]:
        """The actions in order."""
        yield Action("validate", self.validate)
        yield Action("allocate quota", self.allocate, self.release)
        yield Action("create server", self.create)

    def validate(self) -> Result[None, QuotaError]:
        """Reject impossible requests before touching anything."""
        return (
            Success(None) if self.request.cpus > 0 else Failure(QuotaError("no cpus"))
        )

    def allocate(self) -> Result[None, QuotaError]:
        """Allocate and remember the quota."""
        self.quota = Quota("q-1", self.request)
        return Success(None)

    def release(self) -> Result[None, QuotaError]:
        """Release the remembered quota."""
        self.quota = None
        return Success(None)

    def create(self) -> Result[None, ServerError]:
        """Create the server."""
        return Success(None)


# case: a_sync_provisioning_saga
provision = (
    step("allocate quota", allocate_quota, compensate=release_quota)
    .then(step("create network", create_network, compensate=delete_network))
    .then(step("create server", create_server))
    .map(to_response)
)
assert_type(provision, Saga[Request, Response, QuotaError | NetworkError | ServerError])

# case: run_and_report
result = provision.run(Request("eu-west", 4), on_compensation_failure="stop")
assert_type(result, Result[Response, QuotaError | NetworkError | ServerError])

policy: Policy = "continue"
report = provision.run_with_report(
    Request("eu-west", 4), on_compensation_failure=policy
)
assert_type(report, SagaReport[Response, QuotaError | NetworkError | ServerError])
assert_type(report.result, Result[Response, QuotaError | NetworkError | ServerError])
assert_type(report.steps, tuple[StepRecord, ...])
assert_type(report.needs_cleanup, tuple[str, ...])
first: StepRecord = report.steps[0]
assert_type(first.name, str)
assert_type(first.outcome, StepOutcome)
assert_type(first.error, object)
table: str = str(report)

# case: named_with_a_listener
named = provision.named("provision").with_listeners(print)
assert_type(named, Saga[Request, Response, QuotaError | NetworkError | ServerError])


# case: async_and_future_result_steps
network_step = step(
    "create network", create_network_async, compensate=delete_network_async
)
assert_type(network_step, AsyncSaga[Quota, Network, NetworkError])

volume_step = step("create volume", create_volume, compensate=delete_volume)
assert_type(volume_step, AsyncSaga[Quota, Volume, VolumeError])

# case: a_lambda_compensation
release_by_id = step(
    "allocate quota",
    allocate_quota,
    compensate=lambda quota: release_quota_id(quota.quota_id),
)
assert_type(release_by_id, Saga[Request, Quota, QuotaError])

# case: parallel_resources
resources = parallel(network_step, volume_step)
assert_type(
    resources, AsyncSaga[Quota, tuple[Network, Volume], NetworkError | VolumeError]
)

mixed = parallel(step("create network", create_network), volume_step, name="resources")
assert_type(mixed, AsyncSaga[Quota, tuple[Network, Volume], NetworkError | VolumeError])

# case: an_async_provisioning_saga
provision_async = (
    step("allocate quota", allocate_quota, compensate=release_quota)
    .then(resources)
    .then(step("create server", create_server_async))
    .map(to_response)
)
assert_type(
    provision_async,
    AsyncSaga[Request, Response, QuotaError | NetworkError | VolumeError | ServerError],
)


# case: awaited_runs
async def provision_twice(request: Request) -> Response | None:
    """Await the async saga: ``run`` and ``run_with_report`` are coroutines."""
    outcome = await provision_async.run(request, compensation_timeout=10.0)
    assert_type(
        outcome, Result[Response, QuotaError | NetworkError | VolumeError | ServerError]
    )
    async_report = await provision_async.run_with_report(request)
    assert_type(
        async_report,
        SagaReport[Response, QuotaError | NetworkError | VolumeError | ServerError],
    )
    return outcome.value_or(None)


# case: a_listener_narrowing_events
def alert_on_compensation_failure(event: Event) -> None:
    """A listener: page someone when an undo fails."""
    if isinstance(event, CompensationFailed):
        assert_type(event.step, str)
        assert_type(event.error, object)


observed = provision_async.with_listeners(alert_on_compensation_failure)
assert_type(
    observed,
    AsyncSaga[Request, Response, QuotaError | NetworkError | VolumeError | ServerError],
)


# case: the_go_style_handler
handled = run(
    ProvisionHandler(Request("eu-west", 4)), on_compensation_failure="continue"
)
assert_type(handled, Result[None, QuotaError | ServerError])
assert_type(
    Action("validate", ProvisionHandler(Request("eu", 1)).validate), Action[QuotaError]
)
