"""Methods as steps: bound, class and static methods, sync and async.

Services usually hold the client; their bound methods are the actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_type

from returns.result import Result, Success

from typed_saga import AsyncSaga, Saga, step


@dataclass(frozen=True)
class Request:
    tenant: str


@dataclass(frozen=True)
class Quota:
    quota_id: str


@dataclass(frozen=True)
class Network:
    network_id: str


class QuotaError(Exception): ...


class NetworkError(Exception): ...


class QuotaService:
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def allocate(self, request: Request) -> Result[Quota, QuotaError]:
        return Success(Quota(request.tenant))

    def release(self, quota: Quota) -> Result[None, QuotaError]:
        return Success(None)

    async def allocate_async(self, request: Request) -> Result[Quota, QuotaError]:
        return Success(Quota(request.tenant))

    async def release_async(self, quota: Quota) -> Result[None, QuotaError]:
        return Success(None)

    def current(self, request: Request) -> Quota:
        return Quota(request.tenant)

    @classmethod
    def check(cls, request: Request) -> Result[Request, QuotaError]:
        return Success(request)

    @staticmethod
    def normalise(request: Request) -> Result[Request, QuotaError]:
        return Success(Request(request.tenant.lower()))


class NetworkService:
    def create(self, quota: Quota) -> Result[Network, NetworkError]:
        return Success(Network(quota.quota_id))

    def delete(self, network: Network) -> Result[None, NetworkError]:
        return Success(None)


quotas = QuotaService(limit=16)
networks = NetworkService()

# case: bound_methods_as_action_and_compensation
assert_type(step("allocate quota", quotas.allocate, compensate=quotas.release), Saga[Request, Quota, QuotaError])

# case: bound_methods_of_two_services_chain
chain = step("allocate quota", quotas.allocate, quotas.release).then(step("create network", networks.create, networks.delete))
assert_type(chain, Saga[Request, Network, QuotaError | NetworkError])

# case: async_bound_methods
assert_type(step("allocate quota", quotas.allocate_async, compensate=quotas.release_async), AsyncSaga[Request, Quota, QuotaError])

# case: class_and_static_methods
assert_type(step("check", QuotaService.check).then(step("normalise", QuotaService.normalise)), Saga[Request, Request, QuotaError])
assert_type(step("normalise", quotas.normalise), Saga[Request, Request, QuotaError])

# case: methods_inside_a_saga_factory_method
class Provisioner:
    def __init__(self) -> None:
        self.quotas = QuotaService(limit=8)
        self.networks = NetworkService()

    def saga(self) -> Saga[Request, Network, QuotaError | NetworkError]:
        return step("quota", self.quotas.allocate, self.quotas.release).then(step("network", self.networks.create))


assert_type(Provisioner().saga(), Saga[Request, Network, QuotaError | NetworkError])

# case: an_unbound_method_needs_its_instance
step("check", QuotaService.check).then(step("allocate quota", QuotaService.allocate))  # expect-error: QuotaService.allocate also takes self: use quotas.allocate

# case: another_services_method_as_compensation
step("allocate quota", quotas.allocate, compensate=networks.delete)  # expect-error: networks.delete takes a Network, the step makes a Quota

# case: a_method_returning_a_plain_value
step("current quota", quotas.current)  # expect-error: quotas.current returns a Quota, not a Result

# case: a_method_called_instead_of_passed
step("allocate quota", quotas.allocate(Request("acme")))  # expect-error: pass the method, not its result

# case: an_async_method_as_compensation_of_another_output
step("create network", networks.create, compensate=quotas.release_async)  # expect-error: release_async takes a Quota, the step makes a Network

# case: methods_of_two_services_in_the_wrong_order
step("create network", networks.create).then(step("allocate quota", quotas.allocate))  # expect-error: allocate takes a Request, not a Network
