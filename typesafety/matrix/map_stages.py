"""Map stages: `map(f)` with a pure, synchronous function of the output.

An async function in `map` raises when the saga is defined, so it must be a
type error too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, assert_type

from returns.result import Result, Success

from typed_saga import AsyncSaga, Saga, step


@dataclass(frozen=True)
class Server:
    server_id: str


@dataclass(frozen=True)
class Response:
    server_id: str


class ServerError(Exception): ...


def create_server(name: str) -> Result[Server, ServerError]:
    return Success(Server(name))


async def create_server_async(name: str) -> Result[Server, ServerError]:
    return Success(Server(name))


def to_response(server: Server) -> Response:
    return Response(server.server_id)


async def to_response_async(server: Server) -> Response:
    return Response(server.server_id)


async def enrich(server: Server) -> Result[Server, ServerError]:
    return Success(server)


def shout(text: str) -> str:
    return text.upper()


def describe(response: Response) -> Result[str, ServerError]:
    return Success(response.server_id)


servers = step("create server", create_server)
async_servers = step("create server", create_server_async)

# case: map_with_a_function_a_constructor_and_a_builtin
assert_type(servers.map(to_response), Saga[str, Response, ServerError])
assert_type(servers.map(lambda server: server.server_id).map(len), Saga[str, int, ServerError])
assert_type(async_servers.map(to_response).map(str), AsyncSaga[str, str, ServerError])

# case: map_with_a_dataclass_constructor
assert_type(servers.map(lambda server: server.server_id).map(Response), Saga[str, Response, ServerError])

# map() with an async function raises TypeError when the saga is defined; to
# the checkers its output is the coroutine, so the next step or the declared
# type catches it. A map() overload for coroutine functions would make the
# call itself an error, but it also catches every function returning Any
# (json.loads): tried and reverted, see the last case.

# case: map_with_an_async_function_then_a_step
servers.map(to_response_async).then(step("describe", describe))  # expect-error: map() takes a plain function; use .then(step(name, to_response_async))

# case: map_with_an_async_function_on_an_async_saga
def response_saga_async() -> AsyncSaga[str, Response, ServerError]:
    return async_servers.map(to_response_async)  # expect-error: map() takes a plain function, even in an AsyncSaga

# case: map_with_an_async_function_as_the_last_stage
# xfail[mypy, pyright, basedpyright, pyrefly, ty]: library: no type says "a callable not returning a coroutine"; an overload for coroutine functions also catches functions returning Any, so only what follows map() is checked
enriched = servers.map(enrich)  # expect-error: enrich is a step: use .then(step("enrich", enrich))

# case: map_with_a_function_returning_any
assert_type(servers.map(lambda server: server.server_id).map(json.loads), Saga[str, Any, ServerError])

# case: map_with_a_function_of_the_wrong_input
servers.map(shout)  # expect-error: shout takes a str, the output is a Server

# case: map_result_used_as_the_wrong_type
def response_saga() -> Saga[str, Server, ServerError]:
    return servers.map(to_response)  # expect-error: map changed the output to a Response
