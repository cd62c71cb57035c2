"""``typed_saga.testing``: the rollback check catches real leaks in a real database.

The world is a SQLite file in ``tmp_path``, and the saga is the provisioning
workflow of the demo: allocate quota, create a network, create a server. Every
operation opens its own connection (as a service client would), so a
compensation that forgets to commit really leaves its row behind.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from returns.result import Failure, Result, Success

from typed_saga import AsyncSaga, Saga, StepOutcome, parallel, step
from typed_saga.testing import (
    FAULTS,
    CompensationFailureRun,
    InjectedFault,
    RollbackCheck,
    check_rollback,
    check_rollback_async,
    compensation_failure_reports,
    compensation_failure_reports_async,
)

_T = TypeVar("_T")
_R = TypeVar("_R")

# -- the world: a small cloud in SQLite ---------------------------------------------


@dataclass(frozen=True)
class Request:
    project: str
    cpus: int


@dataclass(frozen=True)
class Quota:
    project: str
    cpus: int


@dataclass(frozen=True)
class Network:
    id: int
    quota: Quota


@dataclass(frozen=True)
class Server:
    id: int
    network: Network


class Cloud:
    """Quota, networks and servers, each call on its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reset()
        self.pristine = self.snapshot()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path)) as conn:
            yield conn

    def reset(self) -> None:
        with self.connect() as conn:
            conn.executescript(
                """
                DROP TABLE IF EXISTS quota;
                DROP TABLE IF EXISTS networks;
                DROP TABLE IF EXISTS servers;
                CREATE TABLE quota (project TEXT PRIMARY KEY, used INT, max INT);
                CREATE TABLE networks (id INTEGER PRIMARY KEY, project TEXT);
                CREATE TABLE servers (id INTEGER PRIMARY KEY, network INT);
                INSERT INTO quota VALUES ('demo', 0, 8);
                """
            )
            conn.commit()

    def snapshot(self) -> tuple[list[tuple[Any, ...]], ...]:
        with self.connect() as conn:
            return tuple(
                conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("quota", "networks", "servers")
            )

    def is_restored(self) -> bool:
        return self.snapshot() == self.pristine

    # actions and compensations

    def allocate_quota(self, request: Request) -> Result[Quota, str]:
        with self.connect() as conn:
            (used, limit) = conn.execute(
                "SELECT used, max FROM quota WHERE project = ?", (request.project,)
            ).fetchone()
            if used + request.cpus > limit:
                return Failure(f"quota exceeded: {used} + {request.cpus} > {limit}")
            conn.execute(
                "UPDATE quota SET used = used + ? WHERE project = ?",
                (request.cpus, request.project),
            )
            conn.commit()
        return Success(Quota(request.project, request.cpus))

    def release_quota(self, quota: Quota) -> Result[None, str]:
        with self.connect() as conn:
            conn.execute(
                "UPDATE quota SET used = used - ? WHERE project = ?",
                (quota.cpus, quota.project),
            )
            conn.commit()
        return Success(None)

    def create_network(self, quota: Quota) -> Result[Network, str]:
        with self.connect() as conn:
            cursor = conn.execute(
                "INSERT INTO networks (project) VALUES (?)", (quota.project,)
            )
            conn.commit()
            assert cursor.lastrowid is not None
            return Success(Network(cursor.lastrowid, quota))

    def delete_network(self, network: Network) -> Result[None, str]:
        with self.connect() as conn:
            conn.execute("DELETE FROM networks WHERE id = ?", (network.id,))
            conn.commit()
        return Success(None)

    def delete_network_forgetting_commit(self, network: Network) -> Result[None, str]:
        """The bug: the DELETE is rolled back when the connection closes."""
        with self.connect() as conn:
            conn.execute("DELETE FROM networks WHERE id = ?", (network.id,))
        return Success(None)

    def create_server(self, network: Network) -> Result[Server, str]:
        with self.connect() as conn:
            cursor = conn.execute(
                "INSERT INTO servers (network) VALUES (?)", (network.id,)
            )
            conn.commit()
            assert cursor.lastrowid is not None
            return Success(Server(cursor.lastrowid, network))

    def delete_server(self, server: Server) -> Result[None, str]:
        with self.connect() as conn:
            conn.execute("DELETE FROM servers WHERE id = ?", (server.id,))
            conn.commit()
        return Success(None)


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path / "cloud.sqlite3")


REQUEST = Request("demo", 2)


def provision(
    cloud: Cloud, delete_network: Callable[[Network], Result[None, str]] | None = None
) -> Saga[Request, Server, str]:
    return (
        step("allocate quota", cloud.allocate_quota, compensate=cloud.release_quota)
        .then(
            step(
                "create network",
                cloud.create_network,
                compensate=delete_network or cloud.delete_network,
            )
        )
        .then(
            step("create server", cloud.create_server, compensate=cloud.delete_server)
        )
    )


def as_async(fn: Callable[[_T], _R]) -> Callable[[_T], Coroutine[Any, Any, _R]]:
    """The same operation as a coroutine function that really yields first."""

    async def run(value: _T) -> _R:
        await anyio.sleep(0)
        return fn(value)

    return run


def provision_async(
    cloud: Cloud, delete_network: Callable[[Network], Result[None, str]] | None = None
) -> AsyncSaga[Request, Server, str]:
    return (
        step(
            "allocate quota",
            as_async(cloud.allocate_quota),
            compensate=cloud.release_quota,
        )
        .then(
            step(
                "create network",
                as_async(cloud.create_network),
                compensate=as_async(delete_network or cloud.delete_network),
            )
        )
        .then(
            step(
                "create server",
                as_async(cloud.create_server),
                compensate=as_async(cloud.delete_server),
            )
        )
    )


# -- check_rollback: a correct saga passes -----------------------------------------


def test_a_correct_saga_passes_and_says_what_it_ran(cloud: Cloud) -> None:
    summary = check_rollback(
        provision(cloud), REQUEST, is_restored=cloud.is_restored, reset=cloud.reset
    )

    assert summary == RollbackCheck(
        steps=("allocate quota", "create network", "create server"),
        faults=FAULTS,
        runs=9,
    )
    assert cloud.is_restored()  # reset before each run, the last one was a faulty run


def test_every_run_resets_first_and_is_checked_after(cloud: Cloud) -> None:
    calls: list[str] = []

    def reset() -> None:
        calls.append("reset")
        cloud.reset()

    def is_restored() -> bool:
        calls.append("check")
        return cloud.is_restored()

    check_rollback(provision(cloud), REQUEST, is_restored=is_restored, reset=reset)

    # baseline, untouched run (not checked: it succeeds), then 2 x (3 steps + end)
    assert calls == ["reset", "check", "reset"] + ["reset", "check"] * 8


def test_the_untouched_run_comes_last_without_reset(cloud: Cloud) -> None:
    summary = check_rollback(provision(cloud), REQUEST, is_restored=cloud.is_restored)

    assert summary.runs == 9
    assert cloud.snapshot()[1:] == ([(1, "demo")], [(1, 1)])  # the untouched run's work


def test_faults_are_injected_as_failures_then_as_exceptions(cloud: Cloud) -> None:
    seen: list[tuple[str, str]] = []

    def look(value: object) -> Result[object, str]:
        return Success(value)

    def record(kind: str) -> Callable[[Quota], Result[None, str]]:
        def compensate(quota: Quota) -> Result[None, str]:
            error = sys.exc_info()[1]
            seen.append(
                (kind, type(error).__name__ if error is not None else "returned")
            )
            return cloud.release_quota(quota)

        return compensate

    saga = step(
        "allocate quota", cloud.allocate_quota, compensate=record("quota")
    ).then(step("look", look))

    check_rollback(saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset)

    # a fault at "look" (the last step: no compensation, so no fault after
    # it); the sync runner compensates inside its `except` for a raised fault
    assert seen == [("quota", "returned"), ("quota", "InjectedFault")]


# -- check_rollback: leaks are caught and named ------------------------------------


def test_a_compensation_that_forgets_to_commit_is_caught(cloud: Cloud) -> None:
    saga = provision(cloud, cloud.delete_network_forgetting_commit)

    with pytest.raises(AssertionError) as caught:
        check_rollback(saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset)

    message = str(caught.value)
    assert "Leaky step: 'create network': its compensation ran and succeeded" in message
    assert (
        "after the run with a Failure returned at step 'create server' (run 4 of 9)"
        in (message)
    )
    assert "create network  compensated" in message  # the run's report is included


def test_a_leak_only_an_exception_exposes_is_caught_in_the_second_pass(
    cloud: Cloud,
) -> None:
    def delete_unless_crashing(network: Network) -> Result[None, str]:
        if sys.exc_info()[1] is not None:  # the bug: "no cleanup while crashing"
            return Success(None)
        return cloud.delete_network(network)

    saga = provision(cloud, delete_unless_crashing)

    with pytest.raises(AssertionError) as caught:
        check_rollback(saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset)

    message = str(caught.value)
    assert "Leaky step: 'create network'" in message
    assert "an exception raised at step 'create server' (run 8 of 9)" in message
    assert "Notes on the exception:" in message
    assert "typed-saga: step 'create server' raised" in message


def test_the_last_steps_compensation_is_proven_by_a_fault_after_it(
    cloud: Cloud,
) -> None:
    def delete_server_forgetting_commit(server: Server) -> Result[None, str]:
        with cloud.connect() as conn:
            conn.execute("DELETE FROM servers WHERE id = ?", (server.id,))
        return Success(None)

    saga = (
        step("allocate quota", cloud.allocate_quota, compensate=cloud.release_quota)
        .then(
            step(
                "create network", cloud.create_network, compensate=cloud.delete_network
            )
        )
        .then(
            step(
                "create server",
                cloud.create_server,
                compensate=delete_server_forgetting_commit,
            )
        )
    )

    with pytest.raises(AssertionError) as caught:
        check_rollback(saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset)

    message = str(caught.value)
    assert "a Failure returned after the last step (run 5 of 9)" in message
    assert "Leaky step: 'create server': its compensation ran and succeeded" in message


def test_a_step_without_compensation_that_changes_the_world_is_named(
    cloud: Cloud,
) -> None:
    saga = step("allocate quota", cloud.allocate_quota).then(
        step("create network", cloud.create_network, compensate=cloud.delete_network)
    )

    with pytest.raises(AssertionError, match="'allocate quota' has no compensation"):
        check_rollback(saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset)


def test_a_failing_compensation_is_named_with_its_error(cloud: Cloud) -> None:
    def refuse(network: Network) -> Result[None, str]:
        return Failure("network busy")

    saga = provision(cloud, refuse)

    with pytest.raises(AssertionError) as caught:
        check_rollback(saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset)

    message = str(caught.value)
    assert (
        "Leaky step: 'create network': its compensation failed with 'network busy'"
        in (message)
    )
    assert (
        "Compensations that failed in this run: 'create network': 'network busy'"
        in (message)
    )


def test_the_message_of_a_failing_is_restored_assertion_is_kept(cloud: Cloud) -> None:
    def is_restored() -> bool:
        assert cloud.is_restored(), "rows left behind"
        return True

    saga = provision(cloud, cloud.delete_network_forgetting_commit)

    with pytest.raises(
        AssertionError, match=r"\(run 4 of 9\) \(is_restored: rows left"
    ):
        check_rollback(saga, REQUEST, is_restored=is_restored, reset=cloud.reset)


def test_a_leak_is_caught_without_reset_too(cloud: Cloud) -> None:
    saga = provision(cloud, cloud.delete_network_forgetting_commit)

    with pytest.raises(
        AssertionError, match=r"\(run 3 of 9\)\.\nLeaky step: 'create network'"
    ):
        check_rollback(saga, REQUEST, is_restored=cloud.is_restored)


def test_a_leak_in_a_parallel_branch_names_the_branch_step(cloud: Cloud) -> None:
    saga = step(
        "allocate quota", as_async(cloud.allocate_quota), compensate=cloud.release_quota
    ).then(
        parallel(
            step(
                "create network",
                as_async(cloud.create_network),
                compensate=cloud.delete_network_forgetting_commit,
            ),
            step("label", as_async(Success[Quota])),
            name="network and label",
        )
    )

    async def main() -> None:
        await check_rollback_async(
            saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset
        )

    with pytest.raises(AssertionError) as caught:
        anyio.run(main)

    message = str(caught.value)
    assert "'create network' (branch 1 of 'network and label')" in message
    assert "its compensation ran and succeeded, but did not undo" in message


def test_parallel_groups_get_a_fault_of_their_own_and_one_per_branch_step(
    cloud: Cloud, backend: str
) -> None:
    saga = step(
        "allocate quota", as_async(cloud.allocate_quota), compensate=cloud.release_quota
    ).then(
        parallel(
            step(
                "create network",
                as_async(cloud.create_network),
                compensate=cloud.delete_network,
            ),
            step("label", as_async(Success[Quota])),
            name="fan out",
        )
    )

    async def main() -> RollbackCheck:
        return await check_rollback_async(
            saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset
        )

    summary = anyio.run(main, backend=backend)

    assert summary.steps == (
        "allocate quota",
        "fan out",
        "create network (branch 1 of fan out)",
        "label (branch 2 of fan out)",
    )
    assert summary.runs == 11


# -- check_rollback: a saga that fails on its own is reported plainly ------------------


def test_a_saga_whose_untouched_run_fails_is_reported_plainly(cloud: Cloud) -> None:
    saga = provision(cloud, cloud.delete_network_forgetting_commit)  # leaky, too

    with pytest.raises(AssertionError) as caught:
        check_rollback(
            saga, Request("demo", 99), is_restored=cloud.is_restored, reset=cloud.reset
        )

    message = str(caught.value)
    assert message.startswith(
        "the saga fails without any injected fault: step 'allocate quota' failed with "
        "'quota exceeded: 0 + 99 > 8'"
    )
    assert "Leaky" not in message


def test_a_saga_whose_untouched_run_raises_is_reported_plainly(cloud: Cloud) -> None:
    crash = ZeroDivisionError("division by zero")

    def divide(quota: Quota) -> Result[Server, str]:
        raise crash

    saga = step(
        "allocate quota", cloud.allocate_quota, compensate=cloud.release_quota
    ).then(step("create server", divide))

    with pytest.raises(AssertionError) as caught:
        check_rollback(saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset)

    assert str(caught.value).startswith(
        "the saga fails without any injected fault: step 'create server' failed with "
        "ZeroDivisionError: division by zero"
    )
    assert caught.value.__cause__ is crash


def test_without_reset_a_saga_failing_on_its_own_is_still_reported_plainly(
    cloud: Cloud,
) -> None:
    saga = provision(cloud)

    with pytest.raises(AssertionError) as caught:
        check_rollback(saga, Request("demo", 99), is_restored=cloud.is_restored)

    message = str(caught.value)
    assert message.startswith(
        "the saga fails without any injected fault: step 'allocate quota' failed"
    )
    assert (
        "at step 'create network' (run 2 of 9), before the fault was reached" in message
    )


def test_a_world_that_is_not_restored_before_anything_ran_is_reported(
    cloud: Cloud,
) -> None:
    with pytest.raises(AssertionError, match="is_restored\\(\\) is already false"):
        check_rollback(provision(cloud), REQUEST, is_restored=lambda: False)


def test_an_async_saga_is_refused_with_the_way_to_check_it(cloud: Cloud) -> None:
    with pytest.raises(
        TypeError, match=r"await typed_saga\.testing\.check_rollback_async"
    ):
        check_rollback(
            provision_async(cloud),  # type: ignore[arg-type]
            REQUEST,
            is_restored=cloud.is_restored,
        )


def test_a_last_step_without_compensation_gets_no_fault_after_it(cloud: Cloud) -> None:
    saga = step(
        "allocate quota", cloud.allocate_quota, compensate=cloud.release_quota
    ).then(step("create network", cloud.create_network))  # deliberate: nothing follows

    summary = check_rollback(
        saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset
    )

    assert summary.runs == 5


def test_map_stages_are_not_steps_to_fault(cloud: Cloud) -> None:
    saga = provision(cloud).map(lambda server: server.id)

    summary = check_rollback(
        saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset
    )

    assert summary.steps == ("allocate quota", "create network", "create server")


# -- check_rollback_async: asyncio and trio ---------------------------------------------


def test_async_saga_passes_on_both_backends(cloud: Cloud, backend: str) -> None:
    async def reset() -> None:
        await anyio.sleep(0)
        cloud.reset()

    async def is_restored() -> bool:
        await anyio.sleep(0)
        return cloud.is_restored()

    async def main() -> RollbackCheck:
        return await check_rollback_async(
            provision_async(cloud), REQUEST, is_restored=is_restored, reset=reset
        )

    summary = anyio.run(main, backend=backend)

    assert summary.steps == ("allocate quota", "create network", "create server")
    assert summary.runs == 9


def test_async_leak_is_caught_on_both_backends(cloud: Cloud, backend: str) -> None:
    saga = provision_async(cloud, cloud.delete_network_forgetting_commit)

    async def main() -> RollbackCheck:
        return await check_rollback_async(
            saga, REQUEST, is_restored=cloud.is_restored, reset=cloud.reset
        )

    with pytest.raises(AssertionError) as caught:
        anyio.run(main, backend=backend)

    message = str(caught.value)
    assert "Leaky step: 'create network'" in message
    assert "a Failure returned at step 'create server' (run 4 of 9)" in message


def test_async_saga_failing_on_its_own_is_reported_plainly(
    cloud: Cloud, backend: str
) -> None:
    async def main() -> RollbackCheck:
        return await check_rollback_async(
            provision_async(cloud),
            Request("demo", 99),
            is_restored=cloud.is_restored,
            reset=cloud.reset,
        )

    with pytest.raises(
        AssertionError, match=r"^the saga fails without any injected fault"
    ):
        anyio.run(main, backend=backend)


def test_async_check_accepts_a_sync_saga(cloud: Cloud) -> None:
    async def main() -> RollbackCheck:
        return await check_rollback_async(
            provision(cloud, cloud.delete_network_forgetting_commit),
            REQUEST,
            is_restored=cloud.is_restored,
            reset=cloud.reset,
        )

    with pytest.raises(AssertionError, match="Leaky step: 'create network'"):
        anyio.run(main)


# -- compensation_failure_reports: what is left behind ------------------------------------


def _summaries(runs: tuple[CompensationFailureRun, ...]) -> list[tuple[Any, ...]]:
    return [(run.step, run.policy, run.left_behind, run.restored) for run in runs]


def test_compensation_failure_reports_show_what_each_policy_leaves(
    cloud: Cloud,
) -> None:
    runs = compensation_failure_reports(
        provision(cloud), REQUEST, reset=cloud.reset, is_restored=cloud.is_restored
    )

    assert _summaries(runs) == [
        ("allocate quota", "stop", ("allocate quota",), False),
        ("allocate quota", "continue", ("allocate quota",), False),
        ("create network", "stop", ("allocate quota", "create network"), False),
        ("create network", "continue", ("create network",), False),
    ]
    stop = runs[2].report
    assert [record.outcome for record in stop.steps] == [
        StepOutcome.LEFT_UNCOMPENSATED,
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.FAILED,
    ]
    assert isinstance(stop.steps[1].error, InjectedFault)
    assert stop.steps[1].error.in_compensation
    assert str(runs[2]).startswith(
        "compensation of 'create network' fails, on_compensation_failure='stop': left "
        "behind 'allocate quota', 'create network'; the world is NOT restored\nsaga failed"
    )
    # what "continue" left in the database: the network row, quota released
    assert cloud.snapshot() == ([("demo", 0, 8)], [(1, "demo")], [])


def test_compensation_failure_reports_async(cloud: Cloud, backend: str) -> None:
    async def main() -> tuple[CompensationFailureRun, ...]:
        return await compensation_failure_reports_async(
            provision_async(cloud), REQUEST, reset=cloud.reset
        )

    runs = anyio.run(main, backend=backend)

    assert _summaries(runs) == [
        ("allocate quota", "stop", ("allocate quota",), None),
        ("allocate quota", "continue", ("allocate quota",), None),
        ("create network", "stop", ("allocate quota", "create network"), None),
        ("create network", "continue", ("create network",), None),
    ]


def test_compensation_failure_reports_refuse_an_async_saga(cloud: Cloud) -> None:
    with pytest.raises(TypeError, match="compensation_failure_reports_async"):
        compensation_failure_reports(provision_async(cloud), REQUEST)  # type: ignore[arg-type]
