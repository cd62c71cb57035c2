"""Durable runs on DBOS (``typed_saga.dbos``), with real processes, real
databases (a SQLite file; a Postgres server these tests start) and real
``SIGKILL``.

Each scenario runs ``tests/dbos_worker.py`` in one or more processes (DBOS is
a process-wide singleton): one runs the saga and dies at a chosen point, the
next launches DBOS, which resumes the run, and reports how it ended. What the
steps did is counted from the journal the worker's "service" keeps outside the
engine; every scenario ends with each completed step compensated exactly once,
or the run completed with each effect done exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.postgres import Postgres, start_postgres

pytest.importorskip("dbos", reason="the dbos extra is not installed")

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Scenario:
    """One run's database and journal, and the processes that work on it."""

    database: str
    journal: Path

    def process(
        self, mode: str, *args: str, killed: bool = False, **env: str
    ) -> dict[str, object]:
        """Run one worker process; its JSON report (``{}`` if it was killed)."""
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.dbos_worker",
                mode,
                "--database",
                self.database,
                *args,
            ],
            cwd=ROOT,
            env={**os.environ, "JOURNAL": str(self.journal), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if killed:
            assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
            return {}
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
        report["stderr"] = proc.stderr
        return report

    def lines(self) -> list[tuple[str, str]]:
        out = []
        for line in self.journal.read_text().splitlines():
            _pid, kind, key = line.split(" ", 2)
            out.append((kind, key))
        return out

    def effects(self) -> tuple[Counter[str], Counter[str]]:
        """How often each step's effect, and each compensation's, was done
        (repeats the service deduped by key are not effects)."""
        done: Counter[str] = Counter()
        undone: Counter[str] = Counter()
        for kind, key in self.lines():
            if kind == "do":
                done[key] += 1
            elif kind == "undo":
                undone[key.removesuffix("/compensate")] += 1
        return done, undone

    def assert_completed(self, *steps: str, run_id: str = "run-1") -> None:
        done, undone = self.effects()
        assert done == Counter({f"{run_id}/{step}": 1 for step in steps})
        assert not undone

    def assert_compensated(self, *steps: str, run_id: str = "run-1") -> None:
        """Exactly these steps were done, once each, and undone, once each."""
        done, undone = self.effects()
        expected = Counter({f"{run_id}/{step}": 1 for step in steps})
        assert done == expected
        assert undone == expected

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.lines() if k == kind)


@pytest.fixture(params=BACKENDS)
def scenario(request: pytest.FixtureRequest, tmp_path: Path) -> Scenario:
    if request.param == "sqlite":
        database = str(tmp_path / "dbos.sqlite")
    else:
        server: Postgres = request.getfixturevalue("postgres")
        database = server.new_database()
    return Scenario(database, tmp_path / "journal.txt")


@pytest.fixture
def sqlite(tmp_path: Path) -> Scenario:
    return Scenario(str(tmp_path / "dbos.sqlite"), tmp_path / "journal.txt")


# -- crashes: SQLite and Postgres -----------------------------------------------------


def test_killed_before_any_effect_then_resumed_to_completion(
    scenario: Scenario,
) -> None:
    scenario.process("run", killed=True, KILL_AT="do:reserve:before")
    report = scenario.process("resume")
    assert report["success"] == "shipped run-1"
    scenario.assert_completed("reserve", "charge", "ship")
    assert report["steps"] == ["reserve", "charge", "ship"]


def test_killed_between_steps_does_not_run_a_recorded_step_again(
    scenario: Scenario,
) -> None:
    scenario.process("run", killed=True, KILL_AT="between:charge")
    report = scenario.process("resume")
    assert report["success"] == "shipped run-1"
    scenario.assert_completed("reserve", "charge", "ship")
    assert scenario.count("do-dedup") == 0  # nothing recorded ran twice


def test_killed_after_an_effect_before_its_checkpoint_runs_it_again_with_its_key(
    scenario: Scenario,
) -> None:
    scenario.process("run", killed=True, KILL_AT="do:charge:after")
    report = scenario.process("resume")
    assert report["success"] == "shipped run-1"
    scenario.assert_completed("reserve", "charge", "ship")
    # at least once: the step ran again, and its key let the service dedupe
    assert ("do-dedup", "run-1/charge") in scenario.lines()


def test_killed_mid_unwinding_resumes_the_unwinding_not_the_forward_path(
    scenario: Scenario,
) -> None:
    scenario.process("run", "--fail", killed=True, KILL_AT="undo:charge:after")
    report = scenario.process("resume", "--fail")
    assert report["failure"] == "no courier"
    scenario.assert_compensated("reserve", "charge")
    assert scenario.count("refused") == 1  # ship's Failure was recorded, not redone
    assert ("undo-dedup", "run-1/charge/compensate") in scenario.lines()
    assert report["steps"] == [
        "reserve",
        "charge",
        "ship",
        "charge/compensate",
        "reserve/compensate",
    ]


def test_killed_twice_forward_then_unwinding(scenario: Scenario) -> None:
    scenario.process("run", "--fail", killed=True, KILL_AT="do:charge:after")
    scenario.process("resume", "--fail", killed=True, KILL_AT="undo:reserve:before")
    report = scenario.process("resume", "--fail")
    assert report["failure"] == "no courier"
    scenario.assert_compensated("reserve", "charge")
    assert scenario.count("killed") == 2


def test_killed_from_outside_while_a_step_hangs(scenario: Scenario) -> None:
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.dbos_worker",
            "run",
            "--database",
            scenario.database,
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "JOURNAL": str(scenario.journal),
            "HANG_AT": "do:charge:after",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (
            scenario.journal.exists() and "hanging" in scenario.journal.read_text()
        ):
            assert worker.poll() is None, "the worker ended before hanging"
            assert time.monotonic() < deadline, "the worker never reached the step"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
    finally:
        assert worker.wait(timeout=30) == -signal.SIGKILL
    report = scenario.process("resume")
    assert report["success"] == "shipped run-1"
    scenario.assert_completed("reserve", "charge", "ship")


def test_body_killed_mid_loop_resumes_with_recorded_outputs(scenario: Scenario) -> None:
    args = ("--saga", "body", "--items", "a,b,c", "--fail")
    scenario.process("run", *args, killed=True, KILL_AT="between:reserve item #2")
    report = scenario.process("resume", *args)
    assert report["failure"] == "no courier"
    scenario.assert_compensated(
        "reserve item", "reserve item #2", "reserve item #3", "charge"
    )
    assert scenario.count("do-dedup") == 0


def test_parallel_group_killed_inside_a_branch_resumes(scenario: Scenario) -> None:
    scenario.process("run", "--saga", "trip", killed=True, KILL_AT="do:spa:after")
    report = scenario.process("resume", "--saga", "trip")
    assert report["success"] == "shipped run-1"
    done, undone = scenario.effects()
    assert set(done.values()) == {1}
    assert {key.rsplit("/", 1)[-1] for key in done} == {
        "reserve",
        "flight",
        "hotel",
        "spa",
        "car",
        "ship",
    }
    assert not undone
    assert ("do-dedup", "run-1/book/2/spa") in scenario.lines()


def test_parallel_group_killed_mid_unwinding_compensates_every_branch_once(
    scenario: Scenario,
) -> None:
    args = ("--saga", "trip", "--fail")  # the car branch fails
    scenario.process("run", *args, killed=True, KILL_AT="undo:hotel:after")
    report = scenario.process("resume", *args)
    assert report["failure"] == "no car"
    done, undone = scenario.effects()
    assert done == undone
    assert set(done.values()) == {1}
    assert "run-1/reserve" in done
    assert "run-1/book/1/flight" in done
    assert "run-1/book/2/hotel" in done
    assert ("undo-dedup", "run-1/book/2/hotel/compensate") in scenario.lines()


def test_parallel_steps_start_in_one_order_whatever_their_timing(
    sqlite: Scenario,
) -> None:
    """Why branches take turns: DBOS matches a replayed step to its record by
    the order steps start in. Steps that overlap start in an order that
    depends on their timing (two orders in ten runs of this saga when they
    overlap); taking turns, every run starts them in the same order."""
    report = sqlite.process("orders", "--saga", "jittery")
    assert report["orders"] == ["L1 R1 L2 R2"]


# -- the rest of the contract (SQLite) ------------------------------------------------


def test_a_run_id_that_already_ran_returns_its_recorded_result(
    sqlite: Scenario,
) -> None:
    first = sqlite.process("run")
    journal = sqlite.journal.read_text()
    again = sqlite.process("run", "--fail")  # other input: ignored, nothing runs
    assert first["success"] == again["success"] == "shipped run-1"
    assert sqlite.journal.read_text() == journal


def test_a_run_id_of_another_saga_is_refused_to_start_and_to_wait_for(
    sqlite: Scenario,
) -> None:
    """A run id names one run of one saga: another saga may neither start a
    run under it nor read its result (which has the first saga's types)."""
    assert sqlite.process("run")["success"] == "shipped run-1"
    journal = sqlite.journal.read_text()
    started = sqlite.process("run", "--saga", "retried")
    waited = sqlite.process("resume", "--saga", "retried")
    assert started["raised"] == waited["raised"] == "ValueError"
    assert "'typed-saga:chain:" in str(started["message"])
    assert "not of 'typed-saga:retried:" in str(started["message"])
    assert "is a run of 'typed-saga:chain:" in str(waited["message"])
    assert "not of saga 'retried'" in str(waited["message"])
    assert sqlite.journal.read_text() == journal  # nothing ran again


def test_a_failure_is_recorded_once_never_retried(sqlite: Scenario) -> None:
    report = sqlite.process("run", "--fail")  # ship has Retry(attempts=3)
    assert report["failure"] == "no courier"
    assert sqlite.count("refused") == 1
    sqlite.assert_compensated("reserve", "charge")


def test_exceptions_are_retried_by_dbos_with_the_step_policy(sqlite: Scenario) -> None:
    report = sqlite.process("run", "--saga", "retried")
    assert report["success"] == "paid"
    attempts = [kind for kind, key in sqlite.lines() if key == "run-1/pay"]
    assert attempts == ["attempt-1", "attempt-2", "attempt-3"]


def test_retries_exhausted_unwind_then_the_exception_propagates(
    sqlite: Scenario,
) -> None:
    report = sqlite.process("run", "--saga", "retried", "--run-id", "broken")
    assert report["raised"] == "ConnectionError"
    assert report["message"] == "service down (attempt 3)"
    notes = report["notes"]
    assert isinstance(notes, list)
    assert any("step 'pay' raised" in note for note in notes)
    sqlite.assert_compensated("reserve", run_id="broken")
    assert report["status"] == "ERROR"


def test_cancel_from_another_process_compensates_what_completed(
    sqlite: Scenario,
) -> None:
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.dbos_worker",
            "run",
            "--database",
            sqlite.database,
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "JOURNAL": str(sqlite.journal),
            "PAUSE_AT": "do:charge:after",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        canceller = sqlite.process(
            "cancel", "--executor", "canceller", "--wait-for", "paused"
        )
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:  # never leave it behind, even when failing
            run.kill()
            run.wait()
    assert run.returncode == 0, stdout + stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    assert canceller["was_running"] is True
    assert report["raised"] == "RunCancelled"
    # charge had finished when the cancel took effect: it is compensated too
    sqlite.assert_compensated("reserve", "charge")
    assert "run-1/ship" not in sqlite.journal.read_text()


def test_a_changed_definition_never_resumes_an_old_run(sqlite: Scenario) -> None:
    sqlite.process("run", killed=True, KILL_AT="do:charge:after")
    # the new deploy: a step added under the same saga name
    journal = sqlite.journal.read_text()
    new = sqlite.process("stale", "--saga", "chain_v2", "--name", "chain")
    # not resumed against the new steps: unfinished, nothing more recorded or done
    assert new["status"] in ("PENDING", "ENQUEUED")
    assert new["steps"] == ["reserve"]
    assert sqlite.journal.read_text() == journal
    stale = new["stale"]
    assert isinstance(stale, list)
    (advice,) = stale
    assert "run 'run-1' of durable saga 'chain' (" in advice
    assert "was started by another definition" in advice
    # its first run warns about the stale one, and runs with the new steps
    fresh = sqlite.process(
        "run", "--saga", "chain_v2", "--name", "chain", "--run-id", "run-2"
    )
    assert fresh["success"] == "shipped run-2"
    assert "run 'run-1' of durable saga 'chain'" in str(fresh["stderr"])
    # what the advice says: cancel it, then run the code that started it
    sqlite.process("cancel", "--saga", "chain_v2", "--name", "chain")
    old = sqlite.process("resume")
    assert old["raised"] == "RunCancelled"
    _, undone = sqlite.effects()
    assert undone == Counter({"run-1/reserve": 1, "run-1/charge": 1})


def test_a_body_that_is_not_deterministic_glue_is_stopped_with_a_clear_error(
    sqlite: Scenario,
) -> None:
    args = ("--saga", "flavoured")
    sqlite.process(
        "run", *args, killed=True, KILL_AT="between:express", FLAVOUR="express"
    )
    report = sqlite.process("resume", *args, FLAVOUR="standard")
    assert report["raised"] == "ReplayDiverged"
    assert "the run recorded 'express', but the definition now calls 'standard'" in str(
        report["message"]
    )
    assert report["status"] == "ERROR"
    _, undone = sqlite.effects()
    assert not undone  # never a wrong compensation


def test_async_body_with_parallel_calls_compensates_after_a_crash(
    sqlite: Scenario,
) -> None:
    args = ("--saga", "trip_body", "--items", "x,y,z", "--fail")
    sqlite.process("run", *args, killed=True, KILL_AT="do:room:after")
    report = sqlite.process("resume", *args)
    assert report["failure"] == "no courier"
    done, undone = sqlite.effects()
    assert done == undone
    assert len(done) == 4  # reserve and three rooms
