"""The provisioning demo behind ``python -m typed_saga``.

A tiny "cloud" keeps its state in a real SQLite database (three tables:
``quotas``, ``networks``, ``servers``). Every statement commits on its own —
there is no transaction around the workflow, which is exactly why it needs
compensations. The workflow is one typed saga::

    allocate quota  -> create network  -> create server

run three times: once succeeding, once failing at the last step (and rolled
back: the tables end exactly as they began), and once where a compensation
fails too, to show what the default ``"stop"`` policy leaves for manual
cleanup. Everything here uses the public API only.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeAlias

from returns.result import Failure, Result, Success

from typed_saga import Saga, SagaReport, step

# -- the domain: what flows from step to step -----------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """What a tenant asked for: CPUs, a network and a server in a zone."""

    tenant: str
    cpus: int
    cidr: str
    server_name: str
    zone: str


@dataclass(frozen=True, slots=True)
class Quota:
    """CPU quota reserved for one request (a row in ``quotas``)."""

    quota_id: int
    request: Request = field(repr=False)


@dataclass(frozen=True, slots=True)
class Network:
    """A network created under a quota (a row in ``networks``)."""

    network_id: int
    quota: Quota = field(repr=False)


@dataclass(frozen=True, slots=True)
class Server:
    """A server booted on a network (a row in ``servers``)."""

    server_id: int
    network: Network = field(repr=False)


@dataclass(frozen=True, slots=True)
class Provisioned:
    """The workflow's answer: the ids of everything it created."""

    quota_id: int
    network_id: int
    server_id: int


@dataclass(frozen=True, slots=True)
class QuotaError:
    """The quota could not be allocated (or released)."""

    reason: str


@dataclass(frozen=True, slots=True)
class NetworkError:
    """The network could not be created (or deleted)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ServerError:
    """The server could not be created."""

    reason: str


ProvisionError: TypeAlias = QuotaError | NetworkError | ServerError
"""Every way the workflow can fail: the union mypy infers through ``then``."""


@dataclass(frozen=True, slots=True)
class Zone:
    """An availability zone: how many servers fit, and whether they boot."""

    capacity: int
    boots: bool = True


ZONES: Final[Mapping[str, Zone]] = {
    "zone-a": Zone(capacity=10),
    "zone-b": Zone(capacity=0),  # full: "no capacity in zone"
    "zone-c": Zone(capacity=10, boots=False),  # records the server, then fails
}
"""The demo's zones."""

CPU_LIMIT: Final = 16
"""CPUs a tenant may hold in total."""

SCHEMA: Final = """
CREATE TABLE quotas (
    id     INTEGER PRIMARY KEY,
    tenant TEXT    NOT NULL,
    cpus   INTEGER NOT NULL
);
CREATE TABLE networks (
    id       INTEGER PRIMARY KEY,
    quota_id INTEGER NOT NULL REFERENCES quotas (id),
    cidr     TEXT    NOT NULL UNIQUE
);
CREATE TABLE servers (
    id         INTEGER PRIMARY KEY,
    network_id INTEGER NOT NULL REFERENCES networks (id),
    name       TEXT    NOT NULL,
    zone       TEXT    NOT NULL
);
"""
"""The three tables. Foreign keys are enforced, as a real cloud would refuse to
delete a network that still has servers on it."""

TABLES: Final = ("quotas", "networks", "servers")
"""The tables the demo shows, in dependency order."""

Table: TypeAlias = tuple[tuple[str, ...], tuple[tuple[object, ...], ...]]
"""A table's column names and its rows."""

Snapshot: TypeAlias = dict[str, Table]
"""Every table's rows at one moment."""


def _silent(_: str) -> None:
    """The default narrator: say nothing."""


# -- the "cloud": each operation is a step action or a compensation --------------


class Cloud:
    """A toy cloud API whose state lives in SQLite, one commit per statement.

    Each action returns a ``Result`` and each compensation takes its own
    action's output, so the methods plug straight into :func:`~typed_saga.step`.

    >>> request = Request("acme", 4, "10.0.0.0/24", "web-1", "zone-a")
    >>> with Cloud.open(":memory:") as cloud:
    ...     provisioning_saga(cloud).run(request)
    <Success: Provisioned(quota_id=1, network_id=1, server_id=1)>
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        zones: Mapping[str, Zone] = ZONES,
        say: Callable[[str], None] = _silent,
    ) -> None:
        self._db = connection
        self._zones = zones
        self._say = say

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        path: str | Path,
        zones: Mapping[str, Zone] = ZONES,
        say: Callable[[str], None] = _silent,
    ) -> Iterator[Cloud]:
        """Create the tables in a new database at ``path``; close it on exit."""
        connection = sqlite3.connect(path, isolation_level=None)  # autocommit
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            connection.executescript(SCHEMA)
            yield cls(connection, zones, say)
        finally:
            connection.close()

    # allocate quota / release quota

    def allocate_quota(self, request: Request) -> Result[Quota, QuotaError]:
        """Reserve ``request.cpus`` CPUs for the tenant, within :data:`CPU_LIMIT`."""
        (used,) = self._db.execute(
            "SELECT COALESCE(SUM(cpus), 0) FROM quotas WHERE tenant = ?",
            (request.tenant,),
        ).fetchone()
        if int(used) + request.cpus > CPU_LIMIT:
            return Failure(
                QuotaError(
                    f"tenant {request.tenant!r} holds {used} of {CPU_LIMIT} CPUs; "
                    f"{request.cpus} more do not fit"
                )
            )
        quota_id = self._insert(
            "INSERT INTO quotas (tenant, cpus) VALUES (?, ?)",
            (request.tenant, request.cpus),
        )
        self._say(f"-> quotas:   inserted row {quota_id} ({request.cpus} CPUs)")
        return Success(Quota(quota_id, request))

    def release_quota(self, quota: Quota) -> Result[None, QuotaError]:
        """Compensation of :meth:`allocate_quota`: delete its row."""
        error = self._delete("quotas", quota.quota_id, "quota")
        if error is not None:
            return Failure(QuotaError(error))
        return Success(None)

    # create network / delete network

    def create_network(self, quota: Quota) -> Result[Network, NetworkError]:
        """Create the requested network under ``quota``."""
        cidr = quota.request.cidr
        try:
            network_id = self._insert(
                "INSERT INTO networks (quota_id, cidr) VALUES (?, ?)",
                (quota.quota_id, cidr),
            )
        except sqlite3.IntegrityError:
            return Failure(NetworkError(f"CIDR {cidr} is already in use"))
        self._say(f"-> networks: inserted row {network_id} ({cidr})")
        return Success(Network(network_id, quota))

    def delete_network(self, network: Network) -> Result[None, NetworkError]:
        """Compensation of :meth:`create_network`: delete its row."""
        error = self._delete("networks", network.network_id, "network")
        if error is not None:
            return Failure(NetworkError(error))
        return Success(None)

    # create server (the last step: nothing after it can fail, so no compensation)

    def create_server(self, network: Network) -> Result[Server, ServerError]:
        """Create and boot the requested server on ``network``."""
        request = network.quota.request
        zone = self._zones.get(request.zone)
        if zone is None:
            return Failure(ServerError(f"unknown zone {request.zone!r}"))
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM servers WHERE zone = ?", (request.zone,)
        ).fetchone()
        if int(count) >= zone.capacity:
            self._say(f"-> servers:  refused (no capacity in {request.zone})")
            return Failure(ServerError(f"no capacity in zone {request.zone!r}"))
        server_id = self._insert(
            "INSERT INTO servers (network_id, name, zone) VALUES (?, ?, ?)",
            (network.network_id, request.server_name, request.zone),
        )
        self._say(f"-> servers:  inserted row {server_id} ({request.server_name!r})")
        if not zone.boots:
            self._say(
                f"-> servers:  row {server_id} failed to boot, record left behind"
            )
            return Failure(
                ServerError(
                    f"server {request.server_name!r} failed to boot in {request.zone}"
                )
            )
        return Success(Server(server_id, network))

    def snapshot(self) -> Snapshot:
        """Every row of every table, ordered by id."""
        tables: Snapshot = {}
        for table in TABLES:
            cursor = self._db.execute(f"SELECT * FROM {table} ORDER BY id")
            rows = tuple(tuple(row) for row in cursor.fetchall())
            columns = tuple(str(column[0]) for column in cursor.description)
            tables[table] = (columns, rows)
        return tables

    def _insert(self, sql: str, parameters: tuple[object, ...]) -> int:
        row_id = self._db.execute(sql, parameters).lastrowid
        assert row_id is not None
        return row_id

    def _delete(self, table: str, row_id: int, what: str) -> str | None:
        """Delete one row; ``None`` on success, else why it could not be deleted."""
        try:
            deleted = self._db.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
        except sqlite3.IntegrityError as exc:
            self._say(f"<- {table + ':':9} could not delete row {row_id}: {exc}")
            return f"{what} {row_id} still in use: {exc}"
        if deleted.rowcount == 0:
            return f"{what} {row_id} is already gone"
        self._say(f"<- {table + ':':9} deleted row {row_id}")
        return None


def to_response(server: Server) -> Provisioned:
    """The workflow's last, pure stage: collect the ids."""
    network = server.network
    return Provisioned(network.quota.quota_id, network.network_id, server.server_id)


def provisioning_saga(cloud: Cloud) -> Saga[Request, Provisioned, ProvisionError]:
    """allocate quota -> create network -> create server, with compensations.

    >>> with Cloud.open(":memory:") as cloud:
    ...     provisioning_saga(cloud)
    <Saga 'provision' ['allocate quota', 'create network', 'create server']>
    """
    return (
        step("allocate quota", cloud.allocate_quota, compensate=cloud.release_quota)
        .then(
            step(
                "create network", cloud.create_network, compensate=cloud.delete_network
            )
        )
        .then(step("create server", cloud.create_server))  # last step: nothing to undo
        .map(to_response)
        .named("provision")
    )


# -- presenting it ----------------------------------------------------------------


def _say(text: str = "") -> None:
    print(text, flush=True)


def _heading(text: str, underline: str = "-") -> None:
    _say()
    _say(text)
    _say(underline * len(text))


def _indented(text: str, prefix: str = "    ") -> None:
    for line in text.splitlines():
        _say(prefix + line if line else "")


def render_tables(snapshot: Snapshot) -> str:
    """The rows of every table as small aligned text tables (no blank lines).

    >>> print(render_tables({"t": (("id", "name"), ((1, "a"), (22, None)))}))
    t
      id  name
      --  ----
      1   a
      22  NULL
    """
    lines: list[str] = []
    for table, (columns, rows) in snapshot.items():
        if not rows:
            lines.append(f"{table}: (no rows)")
            continue
        cells = [list(columns)] + [
            ["NULL" if v is None else str(v) for v in r] for r in rows
        ]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        cells.insert(1, ["-" * width for width in widths])
        lines.append(table)
        lines.extend(
            "  "
            + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells
        )
    return "\n".join(lines)


def new_rows(before: Snapshot, after: Snapshot) -> list[tuple[str, tuple[object, ...]]]:
    """``(table, row)`` for each row present after but not before."""
    return [
        (table, row)
        for table, (_, rows) in after.items()
        for row in rows
        if row not in before[table][1]
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One demo run's report and the table rows around it."""

    report: SagaReport[Provisioned, ProvisionError]
    before: Snapshot
    after: Snapshot


def _run(
    number: int, title: str, cloud: Cloud, request: Request, intro: str
) -> Outcome:
    _heading(f"Run {number} of 3: {title}")
    _indented(intro, prefix="")
    _say()
    _say(f"Request: {request}")
    before = cloud.snapshot()
    _say()
    _say("Rows before:")
    _indented(render_tables(before))
    _say()
    _say("What the steps and compensations did to the database:")
    report = provisioning_saga(cloud).run_with_report(request)
    after = cloud.snapshot()
    _say()
    _say("The report (print(saga.run_with_report(request))):")
    _indented(str(report))
    _say()
    _say("Rows after:")
    _indented(render_tables(after))
    _say()
    return Outcome(report, before, after)


_HEADER: Final = """\
typed-saga demo: a provisioning workflow with rollback, on real SQLite
======================================================================
Database: {path} ({kept})
Tables: quotas, networks, servers. Every statement commits on its own: there
is no transaction around the workflow - the saga's compensations are the
rollback.

The workflow, a Saga[Request, Provisioned, QuotaError | NetworkError | ServerError]:

    step("allocate quota", cloud.allocate_quota, compensate=cloud.release_quota)
    .then(step("create network", cloud.create_network, compensate=cloud.delete_network))
    .then(step("create server", cloud.create_server))
    .map(to_response)

When a step fails, the completed steps are undone in reverse order, each
compensation receiving its own step's output (release_quota gets the Quota)."""

_SUMMARY: Final = """\
Run 1 created one row per table. Run 2 failed and left the tables exactly as
it found them. Run 3 showed what the report hands you when cleanup itself
fails. More in the repository: workflows written as plain code in
examples/book_trip.py and examples/signup_and_fulfilment.py, async in
examples/provision_async.py, a Go-style handler in
examples/go_style_handler.py."""

_CHECK_FAILED: Final = """\
DEMO CHECK FAILED: a run did not behave as described above (see UNEXPECTED)."""

_INTRO_OK: Final = """\
A request that fits: every step succeeds, nothing is undone."""

_INTRO_ROLLBACK: Final = """\
zone-b is full, so the last step, 'create server', returns
Failure(ServerError("no capacity in zone 'zone-b'")). The saga then runs the
compensations of the completed steps in reverse: delete the network, then
release the quota."""

_INTRO_STOP: Final = """\
zone-c records the server, then fails to boot it. The failing step is never
compensated (it did not complete), so its row stays - and because a server
still uses the network, deleting the network fails (FOREIGN KEY constraint).
That is a failed compensation. Under the default policy,
on_compensation_failure="stop", the unwinding stops there: 'allocate quota'
is not attempted, and the report says what is left for a human to clean up."""


def _show_run_1(outcome: Outcome) -> bool:
    added = new_rows(outcome.before, outcome.after)
    _say(f"Notice: the saga succeeded; the run added {len(added)} rows, one per table.")
    ids = {table: row[0] for table, row in added}
    expected = Provisioned(ids["quotas"], ids["networks"], ids["servers"])  # type: ignore[arg-type]
    return outcome.report.result == Success(expected) and len(added) == 3


def _show_run_2(outcome: Outcome) -> bool:
    clean = outcome.before == outcome.after
    if clean:
        _say(
            "Notice: 'create server' failed; 'create network' and 'allocate quota'\n"
            "were compensated, newest first. Rows after == rows before: the failed\n"
            "run left nothing behind (run 1's rows are untouched). report.result is\n"
            "the server step's own Failure, as saga.run(request) would return it."
        )
    else:
        left = new_rows(outcome.before, outcome.after)
        _say(f"UNEXPECTED: the failed run left rows behind: {left}")
    _say()
    _say("The same run as a picture (print(report.to_mermaid())); paste it into")
    _say("any Markdown file on GitHub, or https://mermaid.live, to see it drawn:")
    _indented(outcome.report.to_mermaid())
    _say()
    _say(
        "How to read it: thick arrows are the forward path, boxes coloured by\n"
        "outcome (the legend names the colours); a dotted arrow leads from a\n"
        "step to its compensation (the rounded 'undo' box) when one ran. Red is\n"
        "where the run failed; blue, what was undone."
    )
    return clean and isinstance(outcome.report.result, Failure)


def _show_run_3(outcome: Outcome) -> bool:
    report = outcome.report
    left = new_rows(outcome.before, outcome.after)
    _say(f"report.needs_cleanup == {report.needs_cleanup!r}")
    _say()
    _say("Rows this run left behind, for manual cleanup:")
    for table, row in left:
        _say(f"    {table} row {row[0]}")
    _say()
    _say(
        "Notice: the report names the steps whose effects are still out there\n"
        "('create network': its compensation failed; 'allocate quota': never\n"
        "attempted). The servers row was written by the failing step itself, which\n"
        "no compensation covers: a step must clean up its own partial work.\n"
        "Why stop by default? Undo steps depend on each other: releasing the quota\n"
        "while the network still references it would fail too. Pass\n"
        'on_compensation_failure="continue" to attempt every compensation anyway.\n'
        "The failed compensation was also logged at ERROR, and the un-compensated\n"
        "steps at WARNING, on the 'typed_saga' logger (the [log] lines above)."
    )
    expected = ("allocate quota", "create network")
    return report.needs_cleanup == expected and len(left) == 3


@contextlib.contextmanager
def _show_library_logs() -> Iterator[None]:
    """Print the library's WARNING/ERROR records inline, for this demo only."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(
        logging.Formatter("    [log] %(levelname)s %(name)s: %(message)s")
    )
    logger = logging.getLogger("typed_saga")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m typed_saga",
        description=(
            "Run a provisioning saga (allocate quota -> create network -> create "
            "server) against a real SQLite database three times: succeeding, "
            "failing and rolled back, and failing with a failed compensation."
        ),
    )
    parser.add_argument(
        "--database",
        metavar="PATH",
        type=Path,
        help=(
            "write the database to PATH (a new file) and keep it, to inspect it "
            "afterwards with `sqlite3 PATH`; default: a temporary file, deleted at exit"
        ),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return 0 when every run behaved as the library promises."""
    parser = _parser()
    args = parser.parse_args(argv)
    database: Path | None = args.database
    if database is not None and database.exists():
        parser.error(
            f"{database} already exists; pass a new path (or delete that file)"
        )
    with tempfile.TemporaryDirectory(prefix="typed-saga-demo-") as tmp:
        path = database if database is not None else Path(tmp) / "cloud.sqlite3"
        kept = "kept" if database is not None else "a temporary file, deleted at exit"
        with Cloud.open(path, say=lambda text: _say("    " + text)) as cloud:
            _say(_HEADER.format(path=path, kept=kept))
            with _show_library_logs():
                ok = _show_run_1(
                    _run(
                        1,
                        "everything succeeds",
                        cloud,
                        _request("web-1", "zone-a"),
                        _INTRO_OK,
                    )
                )
                ok &= _show_run_2(
                    _run(
                        2,
                        "the last step fails, the saga rolls back",
                        cloud,
                        _request("web-2", "zone-b", cidr="10.0.2.0/24"),
                        _INTRO_ROLLBACK,
                    )
                )
                ok &= _show_run_3(
                    _run(
                        3,
                        'a compensation fails too (policy "stop")',
                        cloud,
                        _request("web-3", "zone-c", cidr="10.0.3.0/24"),
                        _INTRO_STOP,
                    )
                )
                ok &= _durable_scene(cloud, path, Path(tmp))
    _heading("Summary", "=")
    _say(_SUMMARY if ok else _CHECK_FAILED)
    return 0 if ok else 1


def _durable_scene(cloud: Cloud, path: Path, scratch: Path) -> bool:
    """Scene 4 (``_demo_durable``), when the dbos extra is installed."""
    from typed_saga import _demo_durable

    if not _demo_durable.available():
        _heading("Scene 4: a crash, and a durable saga (skipped)")
        _say(
            "Install the dbos extra to see a process killed mid-run and the next\n"
            "one finishing the rollback: pip install 'typed-saga[dbos]'."
        )
        return True
    return _demo_durable.scene(cloud, path, scratch, _say, _heading)


def _request(server: str, zone: str, cidr: str = "10.0.1.0/24") -> Request:
    return Request(tenant="acme", cpus=4, cidr=cidr, server_name=server, zone=zone)
