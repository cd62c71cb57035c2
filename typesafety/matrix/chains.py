"""Long chains: the output threads through `then`, the errors add up.

Each step of a ten-step provisioning chain has its own error type, so the
union checks that no checker drops, joins or widens one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_type

from returns.result import Result, Success

from typed_saga import Saga, step


@dataclass(frozen=True)
class Request:
    tenant: str


@dataclass(frozen=True)
class Quota:
    quota_id: str


@dataclass(frozen=True)
class Network:
    network_id: str


@dataclass(frozen=True)
class Subnet:
    subnet_id: str


@dataclass(frozen=True)
class Firewall:
    rules: int


@dataclass(frozen=True)
class Volume:
    size_gb: int


@dataclass(frozen=True)
class Image:
    name: str


@dataclass(frozen=True)
class Server:
    server_id: str


@dataclass(frozen=True)
class Address:
    ip: str


@dataclass(frozen=True)
class Record:
    fqdn: str


class E1(Exception): ...


class E2(Exception): ...


class E3(Exception): ...


class E4(Exception): ...


class E5(Exception): ...


class E6(Exception): ...


class E7(Exception): ...


class E8(Exception): ...


class E9(Exception): ...


class E10(Exception): ...


def validate(request: Request) -> Result[Request, E1]:
    return Success(request)


def allocate_quota(request: Request) -> Result[Quota, E2]:
    return Success(Quota(request.tenant))


def create_network(quota: Quota) -> Result[Network, E3]:
    return Success(Network(quota.quota_id))


def create_subnet(network: Network) -> Result[Subnet, E4]:
    return Success(Subnet(network.network_id))


def open_firewall(subnet: Subnet) -> Result[Firewall, E5]:
    return Success(Firewall(len(subnet.subnet_id)))


def create_volume(firewall: Firewall) -> Result[Volume, E6]:
    return Success(Volume(firewall.rules))


def pick_image(volume: Volume) -> Result[Image, E7]:
    return Success(Image(str(volume.size_gb)))


def boot_server(image: Image) -> Result[Server, E8]:
    return Success(Server(image.name))


def assign_address(server: Server) -> Result[Address, E9]:
    return Success(Address(server.server_id))


def publish_dns(address: Address) -> Result[Record, E10]:
    return Success(Record(address.ip))


def release_quota(quota: Quota) -> Result[None, E2]:
    return Success(None)


def delete_network(network: Network) -> Result[None, E3]:
    return Success(None)


def audit(anything: object) -> Result[str, E1]:
    return Success(repr(anything))


# case: ten_steps_keep_every_error
provision = (
    step("validate", validate)
    .then(step("allocate quota", allocate_quota, compensate=release_quota))
    .then(step("create network", create_network, compensate=delete_network))
    .then(step("create subnet", create_subnet))
    .then(step("open firewall", open_firewall))
    .then(step("create volume", create_volume))
    .then(step("pick image", pick_image))
    .then(step("boot server", boot_server))
    .then(step("assign address", assign_address))
    .then(step("publish dns", publish_dns))
)
assert_type(provision, Saga[Request, Record, E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10])
assert_type(provision.run(Request("acme")), Result[Record, E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10])

# case: nesting_does_not_change_the_type
left = step("a", allocate_quota).then(step("b", create_network)).then(step("c", create_subnet))
right = step("a", allocate_quota).then(step("b", create_network).then(step("c", create_subnet)))
assert_type(left, Saga[Request, Subnet, E2 | E3 | E4])
assert_type(right, Saga[Request, Subnet, E2 | E3 | E4])

# case: a_repeated_error_type_appears_once
repeated = step("v1", validate).then(step("v2", validate)).then(step("v3", validate))
assert_type(repeated, Saga[Request, Request, E1])

# case: chains_built_from_named_parts
network_part = step("create network", create_network).then(step("create subnet", create_subnet))
edge_part = step("open firewall", open_firewall).then(step("create volume", create_volume))
assembled = step("allocate quota", allocate_quota).then(network_part).then(edge_part)
assert_type(assembled, Saga[Request, Volume, E2 | E3 | E4 | E5 | E6])

# case: a_chain_grown_in_a_loop_keeps_its_type
grown = step("validate", validate)
for _ in range(3):
    grown = grown.then(step("validate again", validate))
assert_type(grown, Saga[Request, Request, E1])

# case: a_step_taking_a_supertype_fits_anywhere
audited = step("allocate quota", allocate_quota).then(step("audit", audit))
assert_type(audited, Saga[Request, str, E2 | E1])

# case: map_stages_between_steps
mapped = (
    step("boot server", boot_server)
    .map(lambda server: Image(server.server_id))
    .then(step("boot another", boot_server))
    .map(str)
)
assert_type(mapped, Saga[Image, str, E8])

# case: a_factory_declares_the_chain_type
def build() -> Saga[Request, Network, E2 | E3]:
    return step("allocate quota", allocate_quota).then(step("create network", create_network))


assert_type(build().then(step("create subnet", create_subnet)), Saga[Request, Subnet, E2 | E3 | E4])

# case: next_step_takes_the_wrong_input
step("allocate quota", allocate_quota).then(step("create subnet", create_subnet))  # expect-error: create_subnet takes a Network, the quota step makes a Quota

# case: a_stored_step_takes_the_wrong_input
subnet_step = step("create subnet", create_subnet)
step("allocate quota", allocate_quota).then(subnet_step)  # expect-error: the stored step takes a Network, not a Quota

# case: the_sixth_step_of_a_long_chain_is_wrong
# xfail[pyright, basedpyright, ty]: reports a mistake inside a multi-line chain at the first line of the whole expression, not at the wrong step
(
    step("validate", validate)
    .then(step("allocate quota", allocate_quota))
    .then(step("create network", create_network))
    .then(step("create subnet", create_subnet))
    .then(step("open firewall", open_firewall))
    .then(step("pick image", pick_image))  # expect-error: pick_image takes a Volume; the create-volume step is missing
    .then(step("boot server", boot_server))
)

# case: the_sixth_step_of_a_stored_chain_is_wrong
five = (
    step("validate", validate)
    .then(step("allocate quota", allocate_quota))
    .then(step("create network", create_network))
    .then(step("create subnet", create_subnet))
    .then(step("open firewall", open_firewall))
)
five.then(step("pick image", pick_image))  # expect-error: pick_image takes a Volume; the create-volume step is missing

# case: then_takes_a_saga_not_a_function
step("allocate quota", allocate_quota).then(create_network)  # expect-error: wrap the function with step() first

# case: a_factory_that_forgets_an_error_type
def build_narrow() -> Saga[Request, Network, E2]:
    return step("allocate quota", allocate_quota).then(step("create network", create_network))  # expect-error: E3 is missing from the declared errors

# case: a_factory_that_declares_the_wrong_output
def build_wrong() -> Saga[Request, Subnet, E2 | E3]:
    return step("allocate quota", allocate_quota).then(step("create network", create_network))  # expect-error: the chain ends with a Network

# case: steps_in_the_wrong_order
step("create network", create_network).then(step("allocate quota", allocate_quota))  # expect-error: allocate_quota takes a Request, not a Network
