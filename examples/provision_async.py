"""Async provisioning with a parallel fan-out, against a fake async cloud API.

    allocate quota -> parallel(create network, create volume) -> create server

Every API call awaits (``anyio.sleep``), like a real HTTP call. The network and
the volume are created at the same time. In the second run the server cannot
be created, so the saga deletes the network and the volume (concurrently) and
then releases the quota.

Run it: ``python examples/provision_async.py`` (or ``... trio`` to run on trio)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from time import perf_counter

import anyio
from returns.result import Failure, Result, Success

from typed_saga import parallel, step


@dataclass(frozen=True)
class Request:
    """What the tenant asked for."""

    tenant: str
    cpus: int
    disk_gb: int
    zone: str


@dataclass(frozen=True)
class Quota:
    """CPUs and disk reserved for the request."""

    id: str
    request: Request = field(repr=False)


@dataclass(frozen=True)
class Network:
    """A network under the quota."""

    id: str
    quota: Quota = field(repr=False)


@dataclass(frozen=True)
class Volume:
    """A disk volume under the quota."""

    id: str


@dataclass(frozen=True)
class Server:
    """A server using the network and the volume."""

    id: str
    network: Network
    volume: Volume


@dataclass(frozen=True)
class CloudError:
    """What the fake API answers when a call fails."""

    operation: str
    reason: str


class FakeCloudAPI:
    """An in-process stand-in for an async cloud API.

    Each call takes ``latency`` seconds; ``resources`` is what exists now.
    """

    def __init__(self, latency: float = 0.05) -> None:
        self.latency = latency
        self.resources: set[str] = set()
        self.full_zones = {"zone-b"}
        self._started = perf_counter()

    async def _call(self, what: str) -> None:
        self._log(f"{what} ...")
        await anyio.sleep(self.latency)
        self._log(f"{what} done")

    def _log(self, text: str) -> None:
        print(f"  [{perf_counter() - self._started:5.2f}s] {text}")

    def _add(self, resource: str) -> str:
        self.resources.add(resource)
        return resource

    async def allocate_quota(self, request: Request) -> Result[Quota, CloudError]:
        """Reserve the quota."""
        await self._call("allocate quota")
        return Success(Quota(self._add(f"quota/{request.tenant}"), request))

    async def release_quota(self, quota: Quota) -> Result[None, CloudError]:
        """Undo allocate_quota."""
        await self._call(f"release {quota.id}")
        self.resources.remove(quota.id)
        return Success(None)

    async def create_network(self, quota: Quota) -> Result[Network, CloudError]:
        """Create the network."""
        await self._call("create network")
        return Success(Network(self._add(f"net/{quota.request.tenant}"), quota))

    async def delete_network(self, network: Network) -> Result[None, CloudError]:
        """Undo create_network."""
        await self._call(f"delete {network.id}")
        self.resources.remove(network.id)
        return Success(None)

    async def create_volume(self, quota: Quota) -> Result[Volume, CloudError]:
        """Create the volume."""
        await self._call(f"create volume ({quota.request.disk_gb} GB)")
        return Success(Volume(self._add(f"vol/{quota.request.tenant}")))

    async def delete_volume(self, volume: Volume) -> Result[None, CloudError]:
        """Undo create_volume."""
        await self._call(f"delete {volume.id}")
        self.resources.remove(volume.id)
        return Success(None)

    async def create_server(
        self, parts: tuple[Network, Volume]
    ) -> Result[Server, CloudError]:
        """Create the server on the network, with the volume attached."""
        network, volume = parts
        request = network.quota.request
        await self._call("create server")
        if request.zone in self.full_zones:
            return Failure(
                CloudError("create server", f"no capacity in {request.zone}")
            )
        return Success(Server(self._add(f"server/{request.tenant}"), network, volume))


async def provision(api: FakeCloudAPI, request: Request) -> bool:
    """Run the saga for one request; report it; tell whether nothing leaked."""
    saga = (
        step("allocate quota", api.allocate_quota, compensate=api.release_quota)
        .then(
            parallel(
                step(
                    "create network", api.create_network, compensate=api.delete_network
                ),
                step("create volume", api.create_volume, compensate=api.delete_volume),
            )
        )
        .then(step("create server", api.create_server))
    )  # AsyncSaga[Request, Server, CloudError]
    before = set(api.resources)
    report = await saga.run_with_report(request)
    print(report)
    print(f"exists now: {sorted(api.resources)}")
    if isinstance(report.result, Success):
        return True
    leaked = api.resources - before
    print(f"left behind by the failed run: {sorted(leaked) or 'nothing'}")
    return not leaked


async def main() -> int:
    """Run the saga twice: once succeeding, once rolled back."""
    ok = True
    for number, zone in enumerate(("zone-a", "zone-b"), start=1):
        print(f"{number}) acme in {zone}:")
        api = FakeCloudAPI()
        ok &= await provision(api, Request("acme", cpus=4, disk_gb=100, zone=zone))
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    raise SystemExit(anyio.run(main, backend=backend))
