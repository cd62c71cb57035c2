"""Shared fixtures: every core-rule test runs on the sync runner and on the
async runner under asyncio and trio (see ``harness.Runner``)."""

from __future__ import annotations

import atexit
import os
import sys

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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave without the interpreter's finalization once Temporal has run
    here: the SDK's Rust threads sometimes abort it at exit (exit code 134,
    ``PyGILState_Release``; temporalio/sdk-python#300), after every test
    passed. pytest has reported by then; its exit code is kept."""
    if "temporalio" not in sys.modules:
        return

    def leave(code: int = int(exitstatus)) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    atexit.register(leave)
