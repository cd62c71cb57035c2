"""Provision a server: allocate quota -> create network -> create server.

Each step is a function returning a ``Result``; each compensation takes its
own step's output. The first request succeeds. The second asks for a full
zone, so "create server" fails: the saga deletes the network, releases the
quota (newest first) and returns the server step's very ``Failure``.

Run it: ``python examples/provision_sync.py``
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from typed_saga import step


@dataclass(frozen=True)
class Request:
    """What the tenant asked for."""

    tenant: str
    cpus: int
    zone: str


@dataclass(frozen=True)
class Quota:
    """CPUs reserved for the request."""

    id: str
    request: Request


@dataclass(frozen=True)
class Network:
    """The tenant's network."""

    id: str
    quota: Quota


@dataclass(frozen=True)
class Server:
    """The server, on the network."""

    id: str
    network: Network


@dataclass(frozen=True)
class QuotaError:
    """Not enough quota."""

    reason: str


@dataclass(frozen=True)
class NetworkError:
    """The network could not be created or deleted."""

    reason: str


@dataclass(frozen=True)
class ServerError:
    """The server could not be created."""

    reason: str


existing: set[str] = set()  # what exists in our pretend cloud right now


def allocate_quota(request: Request) -> Result[Quota, QuotaError]:
    """Reserve CPUs for the tenant."""
    if request.cpus > 16:
        return Failure(QuotaError(f"{request.cpus} CPUs is over the limit of 16"))
    quota = Quota(f"quota/{request.tenant}/{request.zone}", request)
    existing.add(quota.id)
    print(f"  + {quota.id}")
    return Success(quota)


def release_quota(quota: Quota) -> Result[None, QuotaError]:
    """Undo allocate_quota: it is given the Quota that step returned."""
    existing.remove(quota.id)
    print(f"  - {quota.id}")
    return Success(None)


def create_network(quota: Quota) -> Result[Network, NetworkError]:
    """Create a network under the quota."""
    network = Network(f"net/{quota.request.tenant}/{quota.request.zone}", quota)
    existing.add(network.id)
    print(f"  + {network.id}")
    return Success(network)


def delete_network(network: Network) -> Result[None, NetworkError]:
    """Undo create_network."""
    existing.remove(network.id)
    print(f"  - {network.id}")
    return Success(None)


def create_server(network: Network) -> Result[Server, ServerError]:
    """Create the server; zone-b is full."""
    zone = network.quota.request.zone
    if zone == "zone-b":
        return Failure(ServerError(f"no capacity in {zone}"))
    server = Server(f"server/{network.quota.request.tenant}/{zone}", network)
    existing.add(server.id)
    print(f"  + {server.id}")
    return Success(server)


def to_response(server: Server) -> str:
    """What the caller gets back: the server's id."""
    return server.id


# Saga[Request, str, QuotaError | NetworkError | ServerError], inferred by mypy.
provision = (
    step("allocate quota", allocate_quota, compensate=release_quota)
    .then(step("create network", create_network, compensate=delete_network))
    .then(step("create server", create_server))  # last step: nothing to undo
    .map(to_response)  # a pure stage, not a step
)


def main() -> int:
    """Run the saga twice and show what it did."""
    print("1) zone-a has room:")
    report = provision.run_with_report(Request("acme", cpus=4, zone="zone-a"))
    print(report)
    print(f"exists now: {sorted(existing)}\n")

    before = set(existing)
    print("2) zone-b is full:")
    report = provision.run_with_report(Request("acme", cpus=4, zone="zone-b"))
    print(report)
    print(f"exists now: {sorted(existing)}")
    leaked = existing - before
    print(f"left behind by the failed run: {sorted(leaked) or 'nothing'}")
    match report.result:
        case Failure(ServerError(reason)):
            print(f"the caller gets the server step's error: {reason}")
        case _:
            return 1
    return 1 if leaked else 0


if __name__ == "__main__":
    raise SystemExit(main())
