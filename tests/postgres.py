"""A private Postgres server for the durable tests: Debian's ``postgresql``
binaries (installed with ``apt-get`` when missing and we are root), run as
the ``postgres`` user on a free port of 127.0.0.1 and a socket directory of
its own, stopped at the end of the tests that use it.

``TYPED_SAGA_PG_URL`` (``postgresql://user@host:port``) uses an existing
server instead.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

_COUNTER = itertools.count(1)


@dataclass
class Postgres:
    """A running server: ``new_database()`` names a fresh database on it (DBOS
    creates it on first launch)."""

    base_url: str
    data: Path | None = None
    binaries: Path | None = None
    as_postgres: bool = False
    databases: list[str] = field(default_factory=list)

    def new_database(self) -> str:
        name = f"typed_saga_{os.getpid()}_{next(_COUNTER)}"
        self.databases.append(name)
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        if self.data is None or self.binaries is None:
            return
        _run(
            [
                str(self.binaries / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            self.as_postgres,
        )
        shutil.rmtree(self.data.parent, ignore_errors=True)


def start_postgres() -> Postgres:
    existing = os.environ.get("TYPED_SAGA_PG_URL")
    if existing:
        return Postgres(existing.rstrip("/"))
    binaries = _binaries()
    root = os.geteuid() == 0
    home = Path(tempfile.mkdtemp(prefix="typed-saga-pg-"))
    data, sockets = home / "data", home / "sock"
    sockets.mkdir()
    if root:
        shutil.chown(home, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    port = _free_port()
    _run(
        [
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        root,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    _run(
        [
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(home / "server.log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        root,
    )
    return Postgres(f"postgresql://postgres@127.0.0.1:{port}", data, binaries, root)


def _binaries() -> Path:
    found = _find_binaries()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "postgresql"]
        if subprocess.run(
            install, env=env, capture_output=True, check=False
        ).returncode:
            subprocess.run(
                ["apt-get", "update", "-q"], env=env, capture_output=True, check=False
            )
            subprocess.run(install, env=env, capture_output=True, check=False)
        found = _find_binaries()
    if found is None:
        raise RuntimeError(
            "the durable tests need a Postgres server: install Debian's postgresql "
            "package (apt-get install postgresql; they start their own server), or "
            "set TYPED_SAGA_PG_URL=postgresql://user@host:port to use a running one"
        )
    return found


def _find_binaries() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: (
            int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return candidates[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(command: list[str], as_postgres: bool) -> None:
    if as_postgres:  # initdb refuses to run as root
        command = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(
            f"{shlex.join(command)} failed ({proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}"
        )
