"""Shared fixtures: every core-rule test runs on the sync runner and on the
async runner under asyncio and trio (see ``harness.Runner``)."""

from __future__ import annotations

import pytest

from tests.harness import MODES, Runner


@pytest.fixture(params=MODES)
def runner(request: pytest.FixtureRequest) -> Runner:
    """The same scenario, run by ``Saga.run`` and by ``AsyncSaga.run`` on both
    anyio backends."""
    return Runner(request.param)


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    """An anyio backend name, for tests that are async by nature."""
    return str(request.param)
