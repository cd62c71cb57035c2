"""A worker process for the Temporal tests: ``python -m tests.temporal_worker
TARGET TASK_QUEUE SAGA[,SAGA...]`` registers only those sagas (keys of
``tests.temporal_sagas.DEFINITIONS``: a worker deployed with one definition
does not know another), prints ``ready`` once it polls, and works until it
is killed. No workflow cache: a run whose worker died goes straight to the
next one (no sticky queue to time out first).
"""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client

from tests import temporal_sagas as sagas
from typed_saga.temporal import saga_worker


async def main(target: str, task_queue: str, keys: list[str]) -> None:
    client = await Client.connect(target)
    worker = saga_worker(
        client,
        task_queue=task_queue,
        sagas=[sagas.registered(key) for key in keys],
        max_cached_workflows=0,
    )
    async with worker:
        print("ready", flush=True)
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3].split(",")))
