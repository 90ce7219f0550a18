"""The Java test server's class archive: recorded once by ``scripts/install-test-server``, mapped
by its launcher at every start (JVM class data sharing, a JDK 13+ dynamic archive).

Every test module starts its own test server (``tests/support/temporal.py``: one module's
skipped months and terminated workflows never reach the next), so ``make test`` starts about
fifty JVMs. Loading and verifying the server's classes is most of what a start costs: with the
archive, a server starts, runs a first workflow and stops on half the CPU (measured on 2 cores:
2.1 CPU-s without, 1.0 with; ready in 0.6 s instead of 1.2 to 1.8 s).

The archive holds the classes one run loaded, written when that JVM exits normally
(``-XX:ArchiveClassesAtExit``, which the launcher passes when ``ARCHIVE_TO_VAR`` names a
file). So the run recorded here does what tests do: a worker runs a workflow with an activity,
a signal, a query, an update and a skipped timer; the client describes it, reads its history
and terminates another. A class the archive lacks is simply loaded as before, and an archive
the JVM cannot use (another Java build) is ignored.

    python -m dealcycle.devtools.test_server_archive LAUNCHER ARCHIVE
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from google.protobuf.duration_pb2 import Duration
from temporalio import activity, workflow
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from dealcycle.devtools.devserver import free_port

ARCHIVE_TO_VAR = "DEALCYCLE_TEST_SERVER_ARCHIVE_TO"
"""Read by the launcher: record the classes this run loads into that file."""
READY_WITHIN = 60.0


@activity.defn
async def echo(text: str) -> str:
    return text


@workflow.defn(sandboxed=False)
class WarmUp:
    def __init__(self) -> None:
        self.pokes = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.execute_activity(echo, "x", start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self.pokes > 1, timeout=timedelta(days=3))
        await workflow.sleep(timedelta(days=2))
        return self.pokes

    @workflow.signal
    def poke(self) -> None:
        self.pokes += 1

    @workflow.update
    def bump(self) -> int:
        self.pokes += 1
        return self.pokes

    @workflow.query
    def count(self) -> int:
        return self.pokes


async def _connected(target: str) -> Client:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_WITHIN
    while True:
        try:
            return await Client.connect(target)
        except RuntimeError:  # not listening yet
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def run_like_a_test(target: str) -> None:
    client = await _connected(target)
    queue = f"warm-up-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[WarmUp],
        activities=[echo],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            WarmUp.run, id=f"warm-up-{uuid.uuid4()}", task_queue=queue
        )
        await handle.execute_update(WarmUp.bump)
        await handle.signal(WarmUp.poke)
        await handle.query(WarmUp.count)
        await client.test_service.unlock_time_skipping_with_sleep(
            SleepRequest(duration=Duration(seconds=3 * 86400))
        )
        await handle.result()
        await handle.describe()
        await handle.fetch_history()
        other = await client.start_workflow(
            WarmUp.run, id=f"warm-up-{uuid.uuid4()}", task_queue=queue
        )
        await other.terminate("warm-up done")


def record(launcher: Path, archive: Path) -> None:
    """Run the test server through ``launcher`` like a test, then write its class archive."""
    partial = archive.with_name(archive.name + ".partial")
    partial.unlink(missing_ok=True)
    port = free_port()
    server = subprocess.Popen(
        [str(launcher), str(port)],
        env={**os.environ, ARCHIVE_TO_VAR: str(partial)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        asyncio.run(run_like_a_test(f"127.0.0.1:{port}"))
    finally:
        server.terminate()  # a normal exit: the JVM writes the archive on its way out
        server.wait(timeout=120)
    if not partial.is_file():
        raise SystemExit(f"the test server wrote no class archive ({launcher})")
    partial.replace(archive)


def main(argv: list[str]) -> None:
    launcher, archive = (Path(arg) for arg in argv)
    record(launcher, archive)
    print(f"test server class archive: {archive}")
    sys.stdout.flush()
    # The client's threads can crash a finalizing interpreter (temporalio/sdk-python#300).
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
