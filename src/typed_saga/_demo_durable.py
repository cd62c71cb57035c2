"""The demo's durable scene: a process killed mid-run, and the next one
finishing the rollback (``typed_saga.dbos`` on SQLite).

The parent (the demo) never starts DBOS itself: it runs the saga in a child
process (``python -m typed_saga._demo_durable child ...``), kills that child
with ``SIGKILL`` while it creates the server, then starts a second child,
whose ``DBOS.launch()`` resumes the run from DBOS's records. It shows what
each process printed and the cloud's rows before and after.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from returns.result import Result

from typed_saga import Saga, step
from typed_saga._demo import (
    Cloud,
    Network,
    Provisioned,
    ProvisionError,
    Request,
    Server,
    ServerError,
    Snapshot,
    render_tables,
    to_response,
)

RUN_ID: Final = "provision-web-4"
STALLING: Final = "creating the server (slowly)..."

_INTRO: Final = """\
The runs above are in-process: had the process died between two steps, the
quota and the network would have stayed allocated for good. Made durable,

    provision = typed_saga.dbos.durable(provisioning_saga(cloud), name="provision")

the same saga records every step in DBOS's system database (a SQLite file
here) before it goes on. Process 1 starts run {run_id!r} in the full zone-b
and is killed with SIGKILL while it creates the server. Process 2 only calls
DBOS.launch(): DBOS resumes the run, the steps recorded by process 1 are not
run again, 'create server' runs again (a step runs at least once) and fails,
and the completed steps are compensated."""


def durable_provisioning(
    cloud: Cloud, *, stall: bool, say: Callable[[str], None]
) -> Saga[Request, Provisioned, ProvisionError]:
    """The demo's provisioning saga; ``stall``: creating the server hangs."""

    def create_server(network: Network) -> Result[Server, ServerError]:
        if stall:
            say(STALLING)
            time.sleep(60)  # the demo kills this process meanwhile
        return cloud.create_server(network)

    return (
        step("allocate quota", cloud.allocate_quota, compensate=cloud.release_quota)
        .then(
            step(
                "create network", cloud.create_network, compensate=cloud.delete_network
            )
        )
        .then(step("create server", create_server))
        .map(to_response)
        .named("provision")
    )


# -- the child processes ---------------------------------------------------------------


def child(argv: Sequence[str]) -> int:
    """One process: register the durable saga, launch DBOS (which resumes
    unfinished runs), and start the run (``--start``) or wait for it."""
    parser = argparse.ArgumentParser(prog="python -m typed_saga._demo_durable")
    parser.add_argument("--cloud", required=True, type=Path)
    parser.add_argument("--system-database", required=True, type=Path)
    parser.add_argument("--start", action="store_true")
    args = parser.parse_args(argv)

    from dbos import DBOS

    from typed_saga.dbos import dbos_config, durable

    def say(text: str) -> None:
        print(text, flush=True)

    # DBOS runs the workflow in a thread of its own; one step at a time
    connection = sqlite3.connect(
        args.cloud, isolation_level=None, check_same_thread=False
    )
    connection.execute("PRAGMA foreign_keys = ON")
    cloud = Cloud(connection, say=say)
    provision = durable(
        durable_provisioning(cloud, stall=args.start, say=say), name="provision"
    )
    config = dbos_config(args.system_database, name="typed-saga-demo")
    config["log_level"] = "CRITICAL"
    DBOS(config=config)
    DBOS.launch()
    if args.start:
        say(f"DBOS.launch(); provision.run(request, run_id={RUN_ID!r})")
        result = provision.run(
            Request("acme", 4, "10.0.4.0/24", "web-4", "zone-b"), run_id=RUN_ID
        )
    else:
        say(f"DBOS.launch() resumed run {RUN_ID!r}; provision.result({RUN_ID!r}):")
        result = provision.result(RUN_ID)
    say(f"result: {result}")
    steps = [s["function_name"] for s in DBOS.list_workflow_steps(RUN_ID)]
    say("DBOS's records of the run: " + ", ".join(steps))
    DBOS.destroy()
    connection.close()
    return 0


# -- the scene, in the demo's process ----------------------------------------------


def _command(cloud: Path, system_database: Path, *, start: bool) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "typed_saga._demo_durable",
        "--cloud",
        str(cloud),
        "--system-database",
        str(system_database),
    ]
    return command + ["--start"] * start


def scene(
    cloud: Cloud,
    cloud_path: Path,
    scratch: Path,
    say: Callable[[str], None],
    heading: Callable[[str], None],
) -> bool:
    """Play the scene; whether it ended as promised (rows as before)."""
    heading("Scene 4: the process dies mid-run; a durable saga finishes the rollback")
    say(_INTRO.format(run_id=RUN_ID))
    system_database = scratch / "dbos-system.sqlite"
    before = cloud.snapshot()
    say("")
    say("Rows before:")
    _rows(before, say)

    first = subprocess.Popen(
        _command(cloud_path, system_database, start=True),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    say("")
    say(f"Process 1 (pid {first.pid}):")
    assert first.stdout is not None
    for line in first.stdout:
        say("    " + line.rstrip())
        if line.strip() == STALLING:
            first.send_signal(signal.SIGKILL)
            break
    first.communicate(timeout=60)
    killed = first.returncode == -signal.SIGKILL
    say(
        "    ... killed with SIGKILL"
        if killed
        else f"    UNEXPECTED: process 1 ended on its own (exit {first.returncode})"
    )
    crashed = cloud.snapshot()
    say("")
    say("Rows after process 1 died (the quota and the network, held by nobody):")
    _rows(crashed, say)

    second = subprocess.run(
        _command(cloud_path, system_database, start=False),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    say("")
    say(f"Process 2 (a new process, same two databases): exit {second.returncode}")
    for line in second.stdout.splitlines():
        say("    " + line)
    after = cloud.snapshot()
    say("")
    say("Rows after process 2:")
    _rows(after, say)
    say("")
    ok = (
        killed
        and second.returncode == 0
        and crashed != before
        and after == before
        and "result: <Failure: ServerError(reason=\"no capacity in zone 'zone-b'\")>"
        in second.stdout
    )
    if ok:
        say(
            "Notice: process 2 did not run 'allocate quota' or 'create network'\n"
            "again (no '->' lines for them: DBOS returned their recorded outputs to\n"
            "the saga); it ran 'create server', which was in flight when process 1\n"
            "died, then compensated newest first. Rows after == rows before. Pass\n"
            "current_step().key to the services you call: a step in flight at a\n"
            "crash runs again, and the key lets the service do the work once.\n"
            "More: docs/durable.md."
        )
    else:
        say("UNEXPECTED: the durable run did not end as described")
        say(second.stderr[-2000:])
    return ok


def _rows(snapshot: Snapshot, say: Callable[[str], None]) -> None:
    for line in render_tables(snapshot).splitlines():
        say("    " + line)


def available() -> bool:
    """Whether the dbos extra is installed (the scene needs it)."""
    import importlib.util

    return importlib.util.find_spec("dbos") is not None


if __name__ == "__main__":
    sys.exit(child(sys.argv[1:]))
