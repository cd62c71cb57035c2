"""The demo (``python -m typed_saga``) and the examples: they run, exit 0, and
what they print is true of the database they ran against."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from returns.result import Failure, Result, Success

from typed_saga import StepOutcome
from typed_saga._demo import (
    Cloud,
    Provisioned,
    Quota,
    QuotaError,
    Request,
    ServerError,
    main,
    provisioning_saga,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def request(zone: str, cidr: str = "10.0.1.0/24", cpus: int = 4) -> Request:
    return Request(tenant="acme", cpus=cpus, cidr=cidr, server_name="web", zone=zone)


# -- reading the demo's output ---------------------------------------------------


def runs(output: str) -> dict[int, str]:
    """The text of each "Run N of 3" section, by N."""
    parts = re.split(r"^Run (\d) of 3: .*$", output, flags=re.MULTILINE)
    sections = {int(number): text for number, text in zip(parts[1::2], parts[2::2])}
    assert sorted(sections) == [1, 2, 3], output
    return sections


def block(section: str, heading: str) -> list[str]:
    """The lines under ``heading`` up to the next blank line."""
    lines = section.splitlines()
    start = lines.index(heading) + 1
    end = lines.index("", start)
    return lines[start:end]


def table_rows(lines: list[str]) -> dict[str, list[str]]:
    """Parse a rendered "Rows before/after" block into table -> data rows."""
    tables: dict[str, list[str]] = {}
    current = ""
    for line in lines:
        if line.startswith("    ") and not line.startswith("      "):
            name, _, rest = line.strip().partition(":")
            current = name
            tables[current] = []
            assert rest in ("", " (no rows)"), line
        else:
            tables[current].append(line.strip())
    # drop each table's header and dashes
    return {name: rows[2:] for name, rows in tables.items()}


@pytest.fixture(scope="module")
def demo_output() -> tuple[int, str]:
    """Run ``main()`` once for the whole module (output captured)."""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main([])
    return code, buffer.getvalue()


def test_demo_exits_zero(demo_output: tuple[int, str]) -> None:
    code, output = demo_output
    assert code == 0, output
    assert "DEMO CHECK FAILED" not in output
    assert "UNEXPECTED" not in output


def test_run_1_creates_one_row_per_table(demo_output: tuple[int, str]) -> None:
    section = runs(demo_output[1])[1]
    before = table_rows(block(section, "Rows before:"))
    after = table_rows(block(section, "Rows after:"))
    assert before == {"quotas": [], "networks": [], "servers": []}
    assert {name: len(rows) for name, rows in after.items()} == {
        "quotas": 1,
        "networks": 1,
        "servers": 1,
    }
    assert after["servers"][0].split() == ["1", "1", "web-1", "zone-a"]
    assert "saga 'provision' succeeded" in section


def test_run_2_leaves_the_tables_exactly_as_before(
    demo_output: tuple[int, str],
) -> None:
    section = runs(demo_output[1])[2]
    before = block(section, "Rows before:")
    after = block(section, "Rows after:")
    assert table_rows(before)["quotas"], "run 1's rows should be visible before run 2"
    assert after == before
    # and the rollback really happened: rows were inserted, then deleted, newest first
    done = block(section, "What the steps and compensations did to the database:")
    assert [line.split(":")[0].strip() for line in done] == [
        "-> quotas",
        "-> networks",
        "-> servers",
        "<- networks",
        "<- quotas",
    ]


def test_run_2_report_shows_the_compensated_steps(demo_output: tuple[int, str]) -> None:
    report = block(
        runs(demo_output[1])[2], "The report (print(saga.run_with_report(request))):"
    )
    assert report[0].strip() == ("saga 'provision' failed at step 'create server'")
    outcomes = [line.split()[:3] for line in report[3:]]
    assert outcomes == [
        ["allocate", "quota", "compensated"],
        ["create", "network", "compensated"],
        ["create", "server", "failed"],
    ]


def test_run_3_report_and_rows_show_what_is_left_behind(
    demo_output: tuple[int, str],
) -> None:
    section = runs(demo_output[1])[3]
    report = block(section, "The report (print(saga.run_with_report(request))):")
    outcomes = [line.split()[:3] for line in report[3:]]
    assert outcomes == [
        ["allocate", "quota", "left_uncompensated"],
        ["create", "network", "compensation_failed"],
        ["create", "server", "failed"],
    ]
    before = table_rows(block(section, "Rows before:"))
    after = table_rows(block(section, "Rows after:"))
    for table in ("quotas", "networks", "servers"):
        assert after[table][: len(before[table])] == before[table]
        assert len(after[table]) == len(before[table]) + 1, table
    assert "report.needs_cleanup == ('allocate quota', 'create network')" in section
    # the library's own log records are shown inline
    assert (
        "[log] ERROR typed_saga: compensation of step 'create network' failed"
        in section
    )
    assert "[log] WARNING typed_saga: unwinding stopped" in section


def test_python_dash_m_runs_the_demo() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "typed_saga"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # log records go to stdout, in place
    assert "Run 2 of 3: the last step fails, the saga rolls back" in proc.stdout
    assert proc.stdout.rstrip().endswith(
        "a Go-style handler in\nexamples/go_style_handler.py."
    )


def test_importing_main_module_runs_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import typed_saga.__main__, typed_saga._demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_database_option_keeps_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cloud.sqlite3"
    assert main(["--database", str(path)]) == 0
    assert f"Database: {path} (kept)" in capsys.readouterr().out
    with sqlite3.connect(path) as connection:
        counts = [
            connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("quotas", "networks", "servers")
        ]
    connection.close()
    assert counts == [2, 2, 2]  # run 1's rows, and run 3's leftovers


def test_database_option_refuses_an_existing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "precious.db"
    path.write_text("keep me")
    with pytest.raises(SystemExit) as excinfo:
        main(["--database", str(path)])
    assert excinfo.value.code == 2
    assert "already exists; pass a new path" in capsys.readouterr().err
    assert path.read_text() == "keep me"


def test_demo_exits_nonzero_when_a_rollback_leaves_rows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exit code means something: a compensation that silently does nothing
    makes the demo fail its own check."""

    def forgetful_release(self: Cloud, quota: Quota) -> Result[None, QuotaError]:
        return Success(None)

    monkeypatch.setattr(Cloud, "release_quota", forgetful_release)
    assert main([]) == 1
    output = capsys.readouterr().out
    assert "UNEXPECTED: the failed run left rows behind" in output
    assert "DEMO CHECK FAILED" in output


# -- the demo's saga, driven directly ----------------------------------------------


def test_failed_run_restores_every_table(tmp_path: Path) -> None:
    with Cloud.open(tmp_path / "db.sqlite3") as cloud:
        saga = provisioning_saga(cloud)
        assert saga.run(request("zone-a")) == Success(Provisioned(1, 1, 1))
        before = cloud.snapshot()
        report = saga.run_with_report(request("zone-b", cidr="10.0.2.0/24"))
        assert cloud.snapshot() == before
    assert report.result == Failure(ServerError("no capacity in zone 'zone-b'"))
    assert [record.outcome for record in report.steps] == [
        StepOutcome.COMPENSATED,
        StepOutcome.COMPENSATED,
        StepOutcome.FAILED,
    ]


def test_continue_policy_cannot_release_a_quota_still_in_use(tmp_path: Path) -> None:
    """What run 3 tells the reader about "continue" is true: the quota release
    fails as well while the network still references it."""
    with Cloud.open(tmp_path / "db.sqlite3") as cloud:
        report = provisioning_saga(cloud).run_with_report(
            request("zone-c"), on_compensation_failure="continue"
        )
        rows = {table: len(rows) for table, (_, rows) in cloud.snapshot().items()}
    assert [record.outcome for record in report.steps] == [
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.COMPENSATION_FAILED,
        StepOutcome.FAILED,
    ]
    assert rows == {"quotas": 1, "networks": 1, "servers": 1}


def test_quota_failure_touches_nothing(tmp_path: Path) -> None:
    with Cloud.open(tmp_path / "db.sqlite3") as cloud:
        result = provisioning_saga(cloud).run(request("zone-a", cpus=64))
        snapshot = cloud.snapshot()
    assert isinstance(result, Failure)
    assert isinstance(result.failure(), QuotaError)
    assert all(not rows for _, rows in snapshot.values())


# -- the examples ------------------------------------------------------------------


ASYNC_EXPECTED = [
    "  [2] create volume",
    "left behind by the failed run: nothing",
    "cancelled=True",
    "left behind by the cancelled run: nothing",
]


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        pytest.param(
            "provision_sync.py",
            [],
            [
                "saga failed at step 'create server'",
                "left behind by the failed run: nothing",
            ],
            id="sync",
        ),
        pytest.param(
            "provision_async.py",
            [],
            ASYNC_EXPECTED,
            id="async-asyncio",
        ),
        pytest.param(
            "provision_async.py",
            ["trio"],
            ASYNC_EXPECTED,
            id="async-trio",
        ),
        pytest.param(
            "book_trip.py",
            [],
            [
                "saga 'book trip' failed at step 'charge card'",
                "  - hotel in Rome for Di\n  - flight to Rome for Di\n",
                "left behind by the failed run: nothing",
                "RollbackCheck(steps=('reserve flight', 'reserve hotel', "
                "'charge card')",
            ],
            id="book-trip",
        ),
        pytest.param(
            "signup_and_fulfilment.py",
            [],
            [
                "<Failure: the card was declined>\nleft behind: {}",
                "saga 'fulfil order' failed at step 'ship'",
                "reserve #2  compensated",
                "sign up: rollback proven at create account, claim username, "
                "start subscription, send welcome",
                "fulfil: rollback proven at reserve, reserve #2, charge, ship",
            ],
            id="signup-and-fulfilment",
        ),
        pytest.param(
            "go_style_handler.py",
            [],
            [
                "  undone   set default volume",
                "project unchanged by the failed run: True",
            ],
            id="go-style",
        ),
    ],
)
def test_example_runs(script: str, args: list[str], expected: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in expected:
        assert line in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
