"""Async provisioning with a parallel fan-out, against a fake async cloud API.

    allocate quota -> parallel(create network, create volume) -> create server

The saga is a body: the server step needs the request, the network and the
volume, and the body hands it all three from its local variables, so no
step has to carry an earlier value forward for a later one.

Every API call awaits (``anyio.sleep``), like a real HTTP call. The network
and the volume are created at the same time. Three runs:

1. zone-a has room: everything is created.
2. zone-b is full: the server step fails, so the saga deletes the network and
   the volume (concurrently), then releases the quota.
3. zone-c is slow, and the caller gives up (a timeout) while the server is
   being created: the server request is interrupted, the completed steps are
   undone in a shielded scope, then the cancellation reaches the caller.

Run it: ``python examples/provision_async.py`` (or ``... trio`` to run on trio)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from time import perf_counter

import anyio
from returns.result import Failure, Result, Success

from typed_saga import AsyncBody, AsyncSaga, parallel, saga, step


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


@dataclass(frozen=True)
class Network:
    """A network under the quota."""

    id: str


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

    Each call takes ``latency`` seconds (creating a server in a slow zone,
    ten times that); ``resources`` is what exists now.
    """

    def __init__(self, latency: float = 0.05) -> None:
        self.latency = latency
        self.resources: set[str] = set()
        self.full_zones = {"zone-b"}
        self.slow_zones = {"zone-c"}
        self._started = perf_counter()

    async def _call(self, what: str, latency: float | None = None) -> None:
        self._log(f"{what} ...")
        await anyio.sleep(self.latency if latency is None else latency)
        self._log(f"{what} done")

    def _log(self, text: str) -> None:
        print(f"  [{perf_counter() - self._started:5.2f}s] {text}")

    def _add(self, resource: str) -> str:
        self.resources.add(resource)
        return resource

    async def allocate_quota(self, request: Request) -> Result[Quota, CloudError]:
        """Reserve the quota."""
        await self._call("allocate quota")
        return Success(Quota(self._add(f"quota/{request.tenant}")))

    async def release_quota(self, quota: Quota) -> Result[None, CloudError]:
        """Undo allocate_quota."""
        await self._call(f"release {quota.id}")
        self.resources.remove(quota.id)
        return Success(None)

    async def create_network(
        self, request: Request, quota: Quota
    ) -> Result[Network, CloudError]:
        """Create the network under the quota."""
        await self._call(f"create network under {quota.id}")
        return Success(Network(self._add(f"net/{request.tenant}")))

    async def delete_network(self, network: Network) -> Result[None, CloudError]:
        """Undo create_network."""
        await self._call(f"delete {network.id}")
        self.resources.remove(network.id)
        return Success(None)

    async def create_volume(
        self, request: Request, quota: Quota
    ) -> Result[Volume, CloudError]:
        """Create the volume under the quota."""
        await self._call(f"create volume ({request.disk_gb} GB) under {quota.id}")
        return Success(Volume(self._add(f"vol/{request.tenant}")))

    async def delete_volume(self, volume: Volume) -> Result[None, CloudError]:
        """Undo create_volume."""
        await self._call(f"delete {volume.id}")
        self.resources.remove(volume.id)
        return Success(None)

    async def create_server(
        self, request: Request, network: Network, volume: Volume
    ) -> Result[Server, CloudError]:
        """Create the server on the network, with the volume attached."""
        slow = request.zone in self.slow_zones
        await self._call("create server", self.latency * 10 if slow else None)
        if request.zone in self.full_zones:
            return Failure(
                CloudError("create server", f"no capacity in {request.zone}")
            )
        return Success(Server(self._add(f"server/{request.tenant}"), network, volume))


def provisioning(api: FakeCloudAPI) -> AsyncSaga[Request, Server, CloudError]:
    """The saga, against ``api``: a body whose locals carry every value."""
    allocate = step("allocate quota", api.allocate_quota, compensate=api.release_quota)
    network = step("create network", api.create_network, compensate=api.delete_network)
    volume = step("create volume", api.create_volume, compensate=api.delete_volume)
    server = step("create server", api.create_server)  # the last step: nothing to undo

    @saga("provision")
    def provision(request: Request) -> AsyncBody[Server, CloudError]:
        quota = yield from allocate(request)
        net, vol = yield from parallel(network(request, quota), volume(request, quota))
        return (yield from server(request, net, vol))

    return provision


async def provision_once(api: FakeCloudAPI, request: Request) -> bool:
    """Run the saga for one request; report it; tell whether nothing leaked."""
    before = set(api.resources)
    report = await provisioning(api).run_with_report(request)
    print(report)
    print(f"exists now: {sorted(api.resources)}")
    if isinstance(report.result, Success):
        return True
    leaked = api.resources - before
    print(f"left behind by the failed run: {sorted(leaked) or 'nothing'}")
    return not leaked


async def give_up_after(api: FakeCloudAPI, request: Request, seconds: float) -> bool:
    """Run the saga under a timeout that expires while the server is created."""
    before = set(api.resources)
    with anyio.move_on_after(seconds) as scope:
        await provisioning(api).run(request, compensation_timeout=5)
        print("  not reached: the run was cancelled")
    print(f"the caller gave up after {seconds}s: cancelled={scope.cancelled_caught}")
    leaked = api.resources - before
    print(f"left behind by the cancelled run: {sorted(leaked) or 'nothing'}")
    return scope.cancelled_caught and not leaked


async def main() -> int:
    """Run the saga three times: it succeeds, fails, and is cancelled."""
    ok = True
    for number, zone in enumerate(("zone-a", "zone-b"), start=1):
        print(f"{number}) acme in {zone}:")
        api = FakeCloudAPI()
        ok &= await provision_once(api, Request("acme", 4, disk_gb=100, zone=zone))
        print()
    print("3) acme in zone-c, with a timeout of 0.3s:")
    api = FakeCloudAPI()
    ok &= await give_up_after(api, Request("acme", 4, disk_gb=100, zone="zone-c"), 0.3)
    return 0 if ok else 1


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    raise SystemExit(anyio.run(main, backend=backend))
